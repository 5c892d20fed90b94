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
		{obs(1, 10, "ESTABLISHED", false), map[uint32][]uint64{10: {1}}, 1, holdingOf(10, 7, 8, true)},
		{obs(2, 10, "SYN_SENT", false), map[uint32][]uint64{10: {1, 2}}, 2, holdingOf(10, 7, 8, true)},
		{obs(1, 0, "FIN_WAIT1", false), map[uint32][]uint64{10: {1, 2}}, 1, holdingOf(10, 7, 8, false)},
		{obs(2, 11, "ESTABLISHED", false), map[uint32][]uint64{10: {1}, 11: {2}}, 2, holdingOf(11, 7, 8, true)},
		{obs(1, 10, "CLOSE", true), map[uint32][]uint64{11: {2}}, 1, holding{}},
		{obs(2, 11, "CLOSE", true), map[uint32][]uint64{}, 2, holding{}},
	} {
		h.note(step.o, 7, 8)
		got := map[uint32][]uint64{}
		for id, c := range h.byConn {
			got[c.pid] = append(got[c.pid], id)
		}
		counts := map[uint32]uint32{}
		for pid, ids := range got {
			slices.Sort(ids)
			counts[pid] = uint32(len(ids))
		}
		if !maps.EqualFunc(got, step.byPID, slices.Equal) || !maps.Equal(counts, h.count) || h.byConn[step.cookie] != step.want {
			t.Fatalf("after %+v: by pid %v (counted %v), cookie %d held %+v; want %v and %+v",
				*step.o, got, h.count, step.cookie, h.byConn[step.cookie], step.byPID, step.want)
		}
	}
}

// The connections looked up again when owners exit are the open ones of
// those owners, and only those: found by a scan of the index, not an index
// by owner.
func TestHoldersEachExited(t *testing.T) {
	var h holders
	h.init()
	for _, c := range []struct {
		cookie uint64
		pid    uint32
		state  string
	}{{1, 10, "ESTABLISHED"}, {2, 10, "FIN_WAIT1"}, {3, 11, "CLOSE_WAIT"}, {4, 12, "ESTABLISHED"}, {5, 11, "SYN_SENT"}} {
		h.note(&conn.Observation{ID: conn.FlowID{Proto: conn.TCP, Cookie: c.cookie}, PID: c.pid, State: c.state}, uint32(c.cookie), c.cookie<<3)
	}
	for _, tc := range []struct {
		exiting []uint32
		want    []uint64
	}{{nil, nil}, {[]uint32{99}, nil}, {[]uint32{10}, []uint64{1}}, {[]uint32{11, 99, 12}, []uint64{3, 4, 5}}} {
		h.exiting = tc.exiting
		var got []uint64
		h.eachExited(func(id uint64, c holding) {
			if c.sk() != id<<3 || c.ino != uint32(id) {
				t.Errorf("cookie %d: sk %#x ino %d", id, c.sk(), c.ino)
			}
			got = append(got, id)
		})
		if slices.Sort(got); !slices.Equal(got, tc.want) {
			t.Errorf("exiting %v: looked up %v, want %v", tc.exiting, got, tc.want)
		}
	}
}

// A large round of owner lookups leaves no room behind once over: the
// few connections still pending move to a map of their size.
func TestOwnerPendingShrinks(t *testing.T) {
	var o ownerState
	o.init()
	for id := range uint64(10000) {
		o.pending[id] = wantedOf(1, id<<3, 0)
	}
	o.pendingPeak = len(o.pending)
	for id := range uint64(9990) {
		o.done(id, true)
	}
	o.shrink()
	if len(o.pending) != 10 || o.pendingPeak != 10 {
		t.Fatalf("pending %d, peak %d; want 10 and 10", len(o.pending), o.pendingPeak)
	}
	for id := uint64(9990); id < 10000; id++ {
		if w, ok := o.pending[id]; !ok || w.sk() != id<<3 {
			t.Errorf("connection %d: %+v, %v", id, w, ok)
		}
	}
}
