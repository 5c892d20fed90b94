package agg

import (
	"fmt"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/tcptop/tcptop/internal/conn"
)

// fakeNames answers remote_name from a table of netns/address → name,
// valid until a time, and counts the questions.
type fakeNames struct {
	names map[string]string // "netns addr" → name
	until time.Time
	asked int
}

func (f *fakeNames) name(netns uint32, addr netip.Addr, at time.Time) string {
	f.asked++
	if !at.Before(f.until) {
		return ""
	}
	return f.names[fmt.Sprintf("%d %s", netns, addr)]
}

// TestRemoteName: each flow takes the name of its own namespace's answer
// at the tick that first sees it, and keeps it after the answer expires;
// a flow first seen after that has none; each flow is asked about once.
func TestRemoteName(t *testing.T) {
	f := &fakeNames{names: map[string]string{
		"1 192.0.2.7": "one.test", "2 192.0.2.7": "two.test",
	}, until: at(2.5)}
	a := New(Config{Start: t0, RemoteName: f.name})
	view := func(r conn.Row) nv { return nv{r.RemotePort, r.NetNS, r.RemoteName} }
	ticks := []struct {
		now  time.Time
		obs  []conn.Observation
		want []nv
	}{
		{at(1), obs(tcp(1).owner(1, 0, 0), tcp(2).owner(2, 0, 0)), []nv{{1, 1, "one.test"}, {2, 2, "two.test"}}},
		{at(2), obs(tcp(1).owner(1, 0, 0).bytes(5, 0), udp(3).owner(3, 0, 0)), []nv{{1, 1, "one.test"}, {2, 2, "two.test"}, {3, 3, ""}}},
		// Expired: the old flows keep their names, the new one has none.
		{at(3), obs(tcp(4).owner(1, 0, 0)), []nv{{1, 1, "one.test"}, {2, 2, "two.test"}, {3, 3, ""}, {4, 1, ""}}},
	}
	for i, k := range ticks {
		a.Tick(conn.Snapshot{Time: k.now, Obs: k.obs})
		rows := project(rowsOf(t, a, false), view)
		slices.SortFunc(rows, func(x, y nv) int { return x.Port - y.Port })
		check(t, fmt.Sprintf("tick %d", i+1), rows, k.want)
	}
	if f.asked != 4 {
		t.Fatalf("asked %d times, want 4 (once per flow)", f.asked)
	}
}

// nv is the remote_name view of a row.
type nv struct {
	Port  int
	NetNS int64
	Name  string
}
