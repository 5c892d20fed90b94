package source

import (
	"fmt"

	"github.com/tcptop/tcptop/internal/conn"
)

// A process that forked and exited leaves its connections to its
// children, which may not use them for a while: until one does, the
// table names the dead pid, which the kernel may hand to an unrelated
// process. tcptop_exit notes each owner that exits; a tick later (its
// sockets closed by its exit have reached a closing state or closed by
// then) the connections it held that are still open are looked up again
// like those without an owner, and the process found holding each
// replaces it.

// holding is what the owner lookup needs of a connection held by a
// process that may exit: 16 bytes, as one of these is kept for every
// connection (100,000 at the scale docs/performance.md measures).
type holding struct {
	pid uint32
	ino uint32 // socket inode, for /proc
	// skOpen is the socket's address, for a re-read through the hot list,
	// with bit 0 set while the connection is in a state a process holds
	// it in (not closing since its owner exited). A struct sock is
	// word-aligned, so bit 0 of its address is always 0.
	skOpen uint64
}

func holdingOf(pid, ino uint32, sk uint64, open bool) holding {
	h := holding{pid: pid, ino: ino, skOpen: sk &^ 1}
	if open {
		h.skOpen |= 1
	}
	return h
}

func (h holding) sk() uint64 { return h.skOpen &^ 1 }
func (h holding) open() bool { return h.skOpen&1 != 0 }

// holders indexes the connections by owner: the owner of each, and how
// many each owner holds. An index from owner to its connections (a map
// of maps) was a sixth of the live heap at 100,000 connections; the
// ticks at which an owner that held any exited scan byConn instead.
type holders struct {
	byConn map[uint64]holding
	count  map[uint32]uint32 // connections held, by pid
	// exiting are the owners that exited as of the last tick, whose
	// connections are looked up at this one.
	exiting []uint32
}

func (h *holders) init() {
	h.byConn = map[uint64]holding{}
	h.count = map[uint32]uint32{}
}

// holdsOpen tells the states in which a process holds a connection: a
// socket closed by its owner's exit leaves them at once.
func holdsOpen(state string) bool {
	return state == "ESTABLISHED" || state == "CLOSE_WAIT" || state == "SYN_SENT" || state == "SYN_RECV"
}

// note records who holds an observed connection.
func (h *holders) note(obs *conn.Observation, ino uint32, sk uint64) {
	id := obs.ID.Cookie
	old, known := h.byConn[id]
	if obs.Closed || (obs.PID == 0 && !known) {
		h.forget(id, old, known)
		return
	}
	pid := obs.PID
	if pid == 0 { // a state change in softirq: the owner is as it was
		pid = old.pid
	}
	now := holdingOf(pid, ino, sk, holdsOpen(obs.State))
	if known && now == old {
		return
	}
	if known && old.pid != now.pid {
		h.forget(id, old, true)
		known = false
	}
	h.byConn[id] = now
	if !known {
		h.count[now.pid]++
	}
}

// forget drops a connection from the index.
func (h *holders) forget(id uint64, old holding, known bool) {
	if !known {
		return
	}
	delete(h.byConn, id)
	if n := h.count[old.pid]; n > 1 {
		h.count[old.pid] = n - 1
	} else {
		delete(h.count, old.pid)
	}
}

// eachExited calls fn for each open connection held by an owner in
// exiting: one pass over byConn, only when one of them held any.
func (h *holders) eachExited(fn func(id uint64, c holding)) {
	var pids map[uint32]bool
	for _, pid := range h.exiting {
		if h.count[pid] > 0 {
			if pids == nil {
				pids = map[uint32]bool{}
			}
			pids[pid] = true
		}
	}
	if pids == nil {
		return
	}
	for id, c := range h.byConn {
		if pids[c.pid] && c.open() {
			fn(id, c)
		}
	}
}

// ownersExited asks the owner lookup about the open connections of the
// owners that exited as of the last tick, and takes the owners that
// exited since.
func (s *Source) ownersExited() {
	h := &s.owner.held
	h.eachExited(s.owner.replace)
	h.exiting = h.exiting[:0]
	var pid uint32
	var one uint8
	it := s.objs.Exited.Iterate()
	for it.Next(&pid, &one) {
		h.exiting = append(h.exiting, pid)
	}
	if err := it.Err(); err != nil {
		s.warnOnce(fmt.Errorf("read the owners that exited: %w", err))
	}
	for _, pid := range h.exiting {
		_ = s.objs.Exited.Delete(pid)
	}
}
