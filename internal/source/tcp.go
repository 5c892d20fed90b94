package source

import (
	"errors"
	"fmt"
	"os"
	"time"
	"unsafe"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/ringbuf"

	"github.com/tcptop/tcptop/internal/conn"
)

const batchSize = 256

// tcpBatch holds the reusable buffers of one tick's TCP read.
type tcpBatch struct {
	keys   []uint64
	values []tcptopTcpConn
	index  map[uint64]int // cookie → position in Source.obs
	closed []uint64       // closed entries userspace must delete
	record ringbuf.Record
}

// readTCP reads the kernel's per-connection map in batches.
func (s *Source) readTCP() error {
	b := &s.batch
	if b.index == nil {
		b.index = map[uint64]int{}
		b.keys = make([]uint64, batchSize)
		b.values = make([]tcptopTcpConn, batchSize)
	}
	clear(b.index)
	b.closed = b.closed[:0]
	var cursor ebpf.MapBatchCursor
	for {
		n, err := s.objs.TcpConns.BatchLookup(&cursor, b.keys, b.values, nil)
		for i := range n {
			s.addTCP(b.keys[i], &b.values[i])
		}
		if errors.Is(err, ebpf.ErrKeyNotExist) {
			break
		}
		if err != nil {
			return fmt.Errorf("read tcp_conns: %w", err)
		}
	}
	// Closed entries were left in the map only because the ring buffer
	// was full; they have now been read and are deleted here.
	for _, cookie := range b.closed {
		_ = s.objs.TcpConns.Delete(cookie)
	}
	return nil
}

func (s *Source) addTCP(cookie uint64, v *tcptopTcpConn) {
	o := s.comms.obsFromTCP(cookie, v)
	if o.Closed {
		s.batch.closed = append(s.batch.closed, cookie)
	} else if d, ok := s.diag[cookie]; ok {
		// The map's copy of the kernel counters dates from the last send,
		// receive or state change; sock_diag's is from now.
		o.PacketsIn, o.PacketsOut = uint64(d.segsIn), uint64(d.segsOut)
		o.RTTMicros, o.Retrans = uint64(d.rttUs), uint64(d.retrans)
		o.State = tcpStateName(d.state)
	}
	s.batch.index[cookie] = len(s.obs)
	s.obs = append(s.obs, o)
}

// drainCloses reads every close event waiting in the ring buffer. A close
// replaces any live observation of the same connection from this tick.
func (s *Source) drainCloses() error {
	b := &s.batch
	// A deadline already passed makes reads return once the buffer is empty.
	s.events.SetDeadline(time.Now())
	for {
		err := s.events.ReadInto(&b.record)
		if errors.Is(err, os.ErrDeadlineExceeded) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read close events: %w", err)
		}
		if len(b.record.RawSample) < int(unsafe.Sizeof(tcptopConnEvent{})) {
			continue
		}
		ev := (*tcptopConnEvent)(unsafe.Pointer(&b.record.RawSample[0]))
		o := s.comms.obsFromTCP(ev.Cookie, &ev.Conn)
		o.Closed = true
		if i, ok := b.index[ev.Cookie]; ok {
			s.obs[i] = o
		} else {
			b.index[ev.Cookie] = len(s.obs)
			s.obs = append(s.obs, o)
		}
	}
}

// addUnseenTCP reports connections that sock_diag lists but no hook has
// seen: they predate tcptop (or the map was full), so they are partial.
func (s *Source) addUnseenTCP() {
	for cookie, d := range s.diag {
		if _, seen := s.batch.index[cookie]; seen {
			continue
		}
		switch d.state {
		case tcpListen, tcpTimeWait, tcpClose, tcpNewSynRecv:
			// Not connections with an owner: listeners, closed-connection
			// remnants (their close was reported), unconnected sockets and
			// half-open handshakes.
			continue
		}
		local, remote := endpoints(&d.tuple)
		s.batch.index[cookie] = len(s.obs)
		s.obs = append(s.obs, conn.Observation{
			ID: conn.FlowID{Proto: conn.TCP, Cookie: cookie}, Proto: conn.TCP,
			Local: local, Remote: remote, State: tcpStateName(d.state),
			PacketsIn: uint64(d.segsIn), PacketsOut: uint64(d.segsOut),
			RTTMicros: uint64(d.rttUs), Retrans: uint64(d.retrans),
			Partial: true,
		})
	}
}

// resolveOwners fills in the pid of TCP connections that no process has
// touched in view of a hook, from /proc, once per socket inode.
func (s *Source) resolveOwners() {
	want := map[uint32]bool{}
	for i := range s.obs {
		o := &s.obs[i]
		if o.Proto != conn.TCP || o.PID != 0 {
			continue
		}
		if ow, ok := s.owners[o.ID.Cookie]; ok {
			o.PID, o.Comm = ow.pid, ow.comm
			continue
		}
		if d, ok := s.diag[o.ID.Cookie]; ok && d.inode != 0 && !s.triedIno[d.inode] {
			want[d.inode] = true
		}
	}
	if len(want) > 0 {
		found := ownersByInode(s.cfg.ProcRoot, want)
		if len(s.triedIno) > 1<<16 {
			clear(s.triedIno)
		}
		for i := range s.obs {
			o := &s.obs[i]
			if d, ok := s.diag[o.ID.Cookie]; ok && o.Proto == conn.TCP && o.PID == 0 && want[d.inode] {
				s.triedIno[d.inode] = true
				if ow, ok := found[d.inode]; ok {
					s.owners[o.ID.Cookie] = ow
					o.PID, o.Comm = ow.pid, ow.comm
				}
			}
		}
	}
	for i := range s.obs {
		if s.obs[i].Closed {
			delete(s.owners, s.obs[i].ID.Cookie)
		}
	}
}
