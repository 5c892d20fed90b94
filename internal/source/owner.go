package source

import (
	"fmt"
	"io"
	"unsafe"

	"github.com/cilium/ebpf"

	"github.com/tcptop/tcptop/internal/conn"
)

// ownerState tracks connections no process has sent or received on since
// tcptop started (accepted but not yet used, or idle since before tcptop),
// whose owner only the open file tables can tell. Each is looked up once.
type ownerState struct {
	pending map[uint64]uint32 // cookie → socket inode: to look up at the next tick
	tried   map[uint64]bool   // looked up already
	found   map[uint64]owner  // found in /proc (before 5.11; newer kernels keep it in the table)
}

func (o *ownerState) init() {
	o.pending = map[uint64]uint32{}
	o.tried = map[uint64]bool{}
	o.found = map[uint64]owner{}
}

// note records whether an observed connection still needs an owner.
func (o *ownerState) note(obs *conn.Observation, ino uint32) {
	id := obs.ID.Cookie
	if obs.Closed {
		delete(o.pending, id)
		delete(o.tried, id)
		delete(o.found, id)
		return
	}
	if obs.PID == 0 && !o.tried[id] {
		o.pending[id] = ino
	}
}

// findOwners looks up the owners of the connections noted since the last
// tick, in one pass over every open file on the host: the cost per tick
// is bounded by the number of open files, whatever the number of
// connections. A connection found is put on the hot list, so this tick
// reports it with its owner.
func (s *Source) findOwners() {
	p := s.owner.pending
	if len(p) == 0 {
		return
	}
	if s.iters.owners != nil {
		s.ownersFromKernel()
	} else {
		s.ownersFromProc()
	}
}

// ownersFromKernel runs the task_file iterator, which writes each owner
// found into the connection's table entry (5.11+).
func (s *Source) ownersFromKernel() {
	limit := int(s.objs.Wanted.MaxEntries())
	keys := make([]uint64, 0, min(len(s.owner.pending), limit))
	for id := range s.owner.pending {
		if len(keys) == limit {
			break // the rest at the next tick
		}
		keys = append(keys, id)
	}
	one := make([]uint8, len(keys))
	for i := range one {
		one[i] = 1
	}
	if _, err := s.objs.Wanted.BatchUpdate(keys, one, nil); err != nil {
		s.warnOnce(err)
		return
	}
	if err := s.readOwners(); err != nil {
		s.warnOnce(err)
	}
	for _, id := range keys {
		_ = s.objs.Wanted.Delete(id) // those not found; found ones the program deleted
		delete(s.owner.pending, id)
		s.owner.tried[id] = true
	}
}

// readOwners runs the owner iterator to its end. It writes the owners of
// untracked connections, which have no table entry to hold them.
func (s *Source) readOwners() error {
	rd, err := s.iters.owners.Open()
	if err != nil {
		return fmt.Errorf("find owners: %w", err)
	}
	defer rd.Close()
	b, err := io.ReadAll(rd)
	if err != nil {
		return fmt.Errorf("find owners: %w", err)
	}
	size := int(unsafe.Sizeof(tcptopOwnerRecord{}))
	for off := 0; off+size <= len(b); off += size {
		r := (*tcptopOwnerRecord)(unsafe.Pointer(&b[off]))
		s.owner.found[r.Cookie] = owner{pid: r.Pid, comm: s.names.name(r.Comm)}
	}
	return nil
}

// ownersFromProc scans /proc/*/fd, as ss -p does, on kernels without
// bpf_sock_from_file.
func (s *Source) ownersFromProc() {
	want := make(map[uint32]bool, len(s.owner.pending))
	for _, ino := range s.owner.pending {
		if ino != 0 {
			want[ino] = true
		}
	}
	found := ownersByInode(s.cfg.ProcRoot, want)
	var entry tcptopTcpConn
	for id, ino := range s.owner.pending {
		s.owner.tried[id] = true
		ow, ok := found[ino]
		if !ok {
			continue
		}
		s.owner.found[id] = ow
		if s.objs.TcpConns.Lookup(id, &entry) == nil {
			_ = s.objs.Hot.Update(id, tcptopHotSock{Sk: entry.Sk}, ebpf.UpdateAny)
		}
	}
	clear(s.owner.pending)
}
