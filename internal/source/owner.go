package source

import (
	"fmt"
	"unsafe"

	"github.com/cilium/ebpf"

	"github.com/tcptop/tcptop/internal/cgroup"
	"github.com/tcptop/tcptop/internal/conn"
)

// ownerState tracks connections no process has sent or received on since
// tcptop started (accepted but not yet used, or idle since before tcptop),
// whose owner only the open file tables can tell. Each is looked up at
// the next tick, and again at the ticks after while not found (a server
// may not have called accept() yet), up to ownerAttempts times.
type ownerState struct {
	pending map[uint64]wanted // to look up at the next tick
	// pendingPeak is the most connections pending since pending was made:
	// a Go map keeps its room when emptied, and the first tick wants
	// every connection older than tcptop (3.7 MB at 100,000 sockets).
	pendingPeak int
	tried       map[uint64]bool  // looked up ownerAttempts times: given up
	found       map[uint64]owner // owners of untracked connections, and from /proc (before 5.11)
	held        holders          // who holds each connection, for when its owner exits

	cgroupRoot *string // where cgroup v2 is mounted, once looked up ("" for nowhere)
}

// wanted is a connection whose owner is looked for: 16 bytes, as the
// first tick wants one for every connection older than tcptop.
type wanted struct {
	ino    uint32 // socket inode, for /proc
	exited uint32 // the owner that exited, whom the one found replaces (0: it had none)
	// skTries is the socket's address, for a re-read through the hot
	// list, with the lookups made so far in its low 3 bits: a struct sock
	// is 8-byte aligned, and ownerAttempts is below 8.
	skTries uint64
}

func wantedOf(ino uint32, sk uint64, exited uint32) wanted {
	return wanted{ino: ino, exited: exited, skTries: sk &^ 7}
}

func (w wanted) sk() uint64    { return w.skTries &^ 7 }
func (w wanted) attempts() int { return int(w.skTries & 7) }

const ownerAttempts = 5

// ownerAttempts must fit the 3 bits wanted.skTries keeps it in.
var _ [7 - ownerAttempts]struct{}

func (o *ownerState) init() {
	o.pending = map[uint64]wanted{}
	o.tried = map[uint64]bool{}
	o.found = map[uint64]owner{}
	o.held.init()
}

// replace asks for the owner of a connection whose owner exited.
func (o *ownerState) replace(id uint64, h holding) {
	delete(o.tried, id)
	o.pending[id] = wantedOf(h.ino, h.sk(), h.pid)
}

// done records the outcome of one lookup of id.
func (o *ownerState) done(id uint64, found bool) {
	w := o.pending[id]
	if w.skTries++; found || w.attempts() >= ownerAttempts {
		delete(o.pending, id)
		if !found {
			o.tried[id] = true
		}
		return
	}
	o.pending[id] = w
}

// note records whether an observed connection still needs an owner.
func (o *ownerState) note(obs *conn.Observation, ino uint32, sk uint64) {
	id := obs.ID.Cookie
	o.held.note(obs, ino, sk)
	if obs.Closed {
		delete(o.pending, id)
		delete(o.tried, id)
		delete(o.found, id)
		return
	}
	w, waiting := o.pending[id]
	switch {
	case obs.PID == 0 && !waiting && !o.tried[id]:
		o.pending[id] = wantedOf(ino, sk, 0)
	case waiting && w.ino == 0 && ino != 0: // accept() gave it a file since
		w.ino = ino
		o.pending[id] = w
	}
}

// findOwners looks up the owners of the connections noted since the last
// tick, in one pass over every open file on the host: the cost per tick
// is bounded by the number of open files, whatever the number of
// connections. A connection found is reported this tick, with its owner.
func (s *Source) findOwners() {
	s.ownersExited()
	p := s.owner.pending
	if len(p) == 0 {
		return
	}
	s.owner.pendingPeak = max(s.owner.pendingPeak, len(p))
	if s.iters.owners != nil {
		s.ownersFromKernel()
	} else {
		s.ownersFromProc()
	}
	s.owner.shrink()
}

// shrink lets the room of a large round of lookups go once most of it
// is over: the few left move to a map of their size.
func (o *ownerState) shrink() {
	if o.pendingPeak <= 4096 || len(o.pending) > o.pendingPeak/16 {
		return
	}
	left := make(map[uint64]wanted, len(o.pending))
	for id, w := range o.pending {
		left[id] = w
	}
	o.pending, o.pendingPeak = left, len(left)
}

// ownersFromKernel runs the task_file iterator, which writes each owner
// found into the connection's table entry (5.11+).
func (s *Source) ownersFromKernel() {
	limit := int(s.objs.Wanted.MaxEntries())
	keys := make([]uint64, 0, min(len(s.owner.pending), limit))
	wants := make([]uint8, 0, cap(keys))
	for id, w := range s.owner.pending {
		if len(keys) == limit {
			break // the rest at the next tick
		}
		keys = append(keys, id)
		want := uint8(tcptopOwnerWantWANT_OWNER)
		if w.exited != 0 {
			want = uint8(tcptopOwnerWantWANT_NEW_OWNER)
		}
		wants = append(wants, want)
	}
	if _, err := s.objs.Wanted.BatchUpdate(keys, wants, nil); err != nil {
		s.warnOnce(err)
		return
	}
	if err := s.readOwners(); err != nil {
		s.warnOnce(err)
	}
	// One call for every key: deleting them one by one was a tenth of a
	// first tick at 100,000 sockets. A batch stops at its first failure;
	// the rest go one by one.
	if n, err := s.objs.Wanted.BatchDelete(keys, nil); err != nil {
		for _, id := range keys[n:] {
			_ = s.objs.Wanted.Delete(id)
		}
	}
	for _, id := range keys {
		if _, waiting := s.owner.pending[id]; waiting { // not found: readOwners let the found go
			s.owner.done(id, false)
		}
	}
}

// readOwners runs the owner iterator to its end; each connection it finds
// an owner for is done (out of pending) at once, so that pending itself
// tells a connection found twice (a map of the found was 1.5 MB of a
// first tick at 100,000 sockets). The owners of untracked connections,
// which have no table entry to hold them, are kept.
func (s *Source) readOwners() error {
	rd, err := s.iters.owners.Open()
	if err != nil {
		return fmt.Errorf("find owners: %w", err)
	}
	defer rd.Close()
	err = readRecords(rd, s.tcp.readBuf(), recordSize, func(p unsafe.Pointer) {
		r := (*tcptopConnRecord)(p)
		if _, waiting := s.owner.pending[r.Cookie]; !waiting {
			return // held by more than one process: the first found owns it
		}
		if r.Conn.Flags&connUntracked != 0 {
			s.owner.found[r.Cookie] = owner{pid: r.Conn.Pid, uid: r.Conn.Uid, cgroupID: r.Conn.CgroupId, comm: s.names.name(r.Conn.Comm)}
		}
		s.addRecord(r)
		s.owner.done(r.Cookie, true)
	})
	if err != nil {
		return fmt.Errorf("find owners: %w", err)
	}
	return nil
}

// ownersFromProc scans /proc/*/fd, as ss -p does, on kernels without
// bpf_sock_from_file.
func (s *Source) ownersFromProc() {
	want := make(map[uint32]bool, len(s.owner.pending))
	for _, w := range s.owner.pending {
		if w.ino != 0 {
			want[w.ino] = true
		}
	}
	if s.owner.cgroupRoot == nil {
		root, _ := cgroup.Mount() // none: owners without their cgroup
		s.owner.cgroupRoot = &root
	}
	found := ownersByInode(s.cfg.ProcRoot, *s.owner.cgroupRoot, want)
	for id, w := range s.owner.pending {
		ow, ok := found[w.ino]
		s.owner.done(id, ok)
		if ok {
			ow.replaces = w.exited
			s.owner.found[id] = ow
		}
		// Re-read at the next tick, tracked or not: one found is reported
		// with its owner; one not accept()ed yet when last read (no inode)
		// gets its inode noted once it has one.
		if (ok || w.ino == 0) && w.sk() != 0 {
			_ = s.objs.Hot.Update(id, tcptopHotSock{Sk: w.sk()}, ebpf.UpdateAny)
		}
	}
}
