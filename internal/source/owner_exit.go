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
// process that may exit.
type holding struct {
	pid  uint32
	ino  uint32 // socket inode, for /proc
	sk   uint64 // the socket's address, for a re-read through the hot list
	open bool   // in a state a process holds it in: not closing since its owner exited
}

// holders indexes the connections by owner.
type holders struct {
	byConn map[uint64]holding
	byPID  map[uint32]map[uint64]struct{}
	// exiting are the owners that exited as of the last tick, whose
	// connections are looked up at this one.
	exiting []uint32
}

func (h *holders) init() {
	h.byConn = map[uint64]holding{}
	h.byPID = map[uint32]map[uint64]struct{}{}
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
	now := holding{pid: obs.PID, ino: ino, sk: sk, open: holdsOpen(obs.State)}
	if now.pid == 0 { // a state change in softirq: the owner is as it was
		now.pid = old.pid
	}
	if known && now == old {
		return
	}
	if known && old.pid != now.pid {
		h.forget(id, old, true)
	}
	h.byConn[id] = now
	if h.byPID[now.pid] == nil {
		h.byPID[now.pid] = map[uint64]struct{}{}
	}
	h.byPID[now.pid][id] = struct{}{}
}

// forget drops a connection from the index.
func (h *holders) forget(id uint64, old holding, known bool) {
	if !known {
		return
	}
	delete(h.byConn, id)
	if ids := h.byPID[old.pid]; ids != nil {
		delete(ids, id)
		if len(ids) == 0 {
			delete(h.byPID, old.pid)
		}
	}
}

// ownersExited asks the owner lookup about the open connections of the
// owners that exited as of the last tick, and takes the owners that
// exited since.
func (s *Source) ownersExited() {
	h := &s.owner.held
	for _, pid := range h.exiting {
		for id := range h.byPID[pid] {
			if c := h.byConn[id]; c.open {
				s.owner.replace(id, c)
			}
		}
	}
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
