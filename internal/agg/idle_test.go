package agg

import (
	"testing"

	"github.com/tcptop/tcptop/internal/conn"
)

// TestIdle: idle_ms is the time from the read that last saw a flow's
// bytes grow to the tick's read: 0 in a tick they grew, not reset by
// packets without payload (ACKs) or by a close that moved nothing, and,
// for a flow older than tcptop, counted from when tcptop first saw it.
func TestIdle(t *testing.T) {
	a := New(Config{Start: t0})
	ticks := []struct {
		at   float64
		obs  []conn.Observation
		want map[uint16]int64 // remote port → idle_ms
	}{
		{1, obs(tcp(1).bytes(100, 10), tcp(2).bytes(500, 500).partial(), udp(3).bytes(0, 40)),
			map[uint16]int64{1: 0, 2: 0, 3: 0}},
		{2, obs(tcp(1).bytes(100, 10).pkts(5, 5), tcp(2).bytes(500, 500).partial()),
			map[uint16]int64{1: 1000, 2: 1000, 3: 1000}},
		{3.5, nil, map[uint16]int64{1: 2500, 2: 2500, 3: 2500}},
		{4, obs(tcp(1).bytes(100, 20), udp(3).bytes(60, 40)), map[uint16]int64{1: 0, 2: 3000, 3: 0}},
		{5.25, obs(tcp(1).bytes(100, 20).closed()), map[uint16]int64{1: 1250, 2: 4250, 3: 1250}},
	}
	for _, tk := range ticks {
		a.Tick(conn.Snapshot{Time: at(tk.at), Obs: tk.obs})
		got := map[uint16]int64{}
		for _, r := range rowsOf(t, a, false) {
			got[uint16(r.RemotePort)] = r.IdleMillis
		}
		if len(got) != len(tk.want) {
			t.Fatalf("at %v s: rows %v, want %v", tk.at, got, tk.want)
		}
		for port, want := range tk.want {
			if got[port] != want {
				t.Errorf("at %v s: flow to port %d idle_ms %d, want %d", tk.at, port, got[port], want)
			}
		}
	}
}
