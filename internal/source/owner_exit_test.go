package source

import (
	"maps"
	"slices"
	"testing"

	"github.com/tcptop/tcptop/internal/conn"
)

// The index of connections by owner follows each connection's latest
// owner: a state change without a pid keeps it, a new pid moves it, a
// close drops it, and a connection its owner's exit closed is not open.
func TestHoldersFollowOwners(t *testing.T) {
	obs := func(cookie uint64, pid uint32, state string, closed bool) *conn.Observation {
		return &conn.Observation{ID: conn.FlowID{Proto: conn.TCP, Cookie: cookie}, PID: pid, State: state, Closed: closed}
	}
	var h holders
	h.init()
	for _, step := range []struct {
		o      *conn.Observation
		byPID  map[uint32][]uint64
		cookie uint64
		want   holding // of cookie
	}{
		{obs(1, 0, "ESTABLISHED", false), map[uint32][]uint64{}, 1, holding{}},
		{obs(1, 10, "ESTABLISHED", false), map[uint32][]uint64{10: {1}}, 1, holding{pid: 10, ino: 7, sk: 9, open: true}},
		{obs(2, 10, "SYN_SENT", false), map[uint32][]uint64{10: {1, 2}}, 2, holding{pid: 10, ino: 7, sk: 9, open: true}},
		{obs(1, 0, "FIN_WAIT1", false), map[uint32][]uint64{10: {1, 2}}, 1, holding{pid: 10, ino: 7, sk: 9}},
		{obs(2, 11, "ESTABLISHED", false), map[uint32][]uint64{10: {1}, 11: {2}}, 2, holding{pid: 11, ino: 7, sk: 9, open: true}},
		{obs(1, 10, "CLOSE", true), map[uint32][]uint64{11: {2}}, 1, holding{}},
		{obs(2, 11, "CLOSE", true), map[uint32][]uint64{}, 2, holding{}},
	} {
		h.note(step.o, 7, 9)
		got := map[uint32][]uint64{}
		for pid, ids := range h.byPID {
			got[pid] = slices.Sorted(maps.Keys(ids))
		}
		if !maps.EqualFunc(got, step.byPID, slices.Equal) || h.byConn[step.cookie] != step.want {
			t.Fatalf("after %+v: by pid %v, cookie %d held %+v; want %v and %+v",
				*step.o, got, step.cookie, h.byConn[step.cookie], step.byPID, step.want)
		}
	}
}
