package agg

import (
	"testing"
	"time"

	"github.com/tcptop/tcptop/internal/conn"
)

func TestTickSticky(t *testing.T) {
	type v struct {
		PID     int
		Comm    string
		Partial bool
	}
	view := func(r conn.Row) v { return v{r.PID, r.Comm, r.Partial} }
	tests := []struct {
		name  string
		steps []step[v]
	}{
		{"pid 0 keeps the known pid and comm", []step[v]{
			{now: at(1), obs: obs(tcp(1).pid(42, "nginx")), want: []v{{42, "nginx", false}}},
			{now: at(2), obs: obs(tcp(1)), want: []v{{42, "nginx", false}}},
			{now: at(3), obs: obs(tcp(1).pid(0, "")), want: []v{{42, "nginx", false}}},
		}},
		{"new pid replaces the old one", []step[v]{
			{now: at(1), obs: obs(tcp(1).pid(42, "nginx"))},
			{now: at(2), obs: obs(tcp(1).pid(77, "worker")), want: []v{{77, "worker", false}}},
		}},
		{"pid learnt late", []step[v]{
			{now: at(1), obs: obs(tcp(1)), want: []v{{0, "", false}}},
			{now: at(2), obs: obs(tcp(1).pid(42, "nginx")), want: []v{{42, "nginx", false}}},
		}},
		{"pid kept on the closing row", []step[v]{
			{now: at(1), obs: obs(tcp(1).pid(42, "nginx"))},
			{now: at(2), obs: obs(tcp(1).closed()), want: []v{{42, "nginx", false}}},
		}},
		{"a closed flow's pid is not inherited by the next flow with its id", []step[v]{
			{now: at(1), obs: obs(tcp(1).pid(42, "nginx").partial().closed()), want: []v{{42, "nginx", true}}},
			{now: at(2), obs: obs(tcp(1)), want: []v{{0, "", false}}},
		}},
		{"partial stays partial", []step[v]{
			{now: at(1), obs: obs(tcp(1).partial()), want: []v{{0, "", true}}},
			{now: at(2), obs: obs(tcp(1)), want: []v{{0, "", true}}},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { run(t, 0, tt.steps, view) })
	}
}

func TestTickClose(t *testing.T) {
	tests := []struct {
		name  string
		steps []step[dv]
	}{
		{"closed is emitted once with final counters, then forgotten", []step[dv]{
			{now: at(1), obs: obs(tcp(1).bytes(100, 10))},
			{now: at(2), obs: obs(tcp(1).bytes(160, 10).closed()), want: []dv{{1, 160, 60, 0, 0, 0, true}}},
			{now: at(3), obs: nil, want: []dv{}},
		}},
		{"same id after close is a new flow", []step[dv]{
			{now: at(1), obs: obs(tcp(1).bytes(100, 0).closed()), want: []dv{{1, 100, 100, 0, 0, 0, true}}},
			{now: at(2), obs: obs(tcp(1).bytes(120, 0)), want: []dv{{1, 120, 120, 0, 0, 0, false}}},
		}},
		{"opened and closed between ticks", []step[dv]{
			{now: at(1), obs: obs(tcp(1).bytes(5, 5))},
			{now: at(2), obs: obs(tcp(1).bytes(5, 5), tcp(2).bytes(900, 80).pkts(9, 8).closed()), want: []dv{
				{2, 900, 900, 80, 9, 8, true}, {1, 5, 0, 0, 0, 0, false},
			}},
			{now: at(3), obs: obs(tcp(1).bytes(5, 5)), want: []dv{{1, 5, 0, 0, 0, 0, false}}},
		}},
		{"a flow missing from a snapshot is unchanged, never closed", []step[dv]{
			{now: at(1), obs: obs(tcp(1).bytes(100, 10), tcp(2).bytes(50, 0))},
			{now: at(2), obs: obs(tcp(2).bytes(70, 0)), want: []dv{
				{2, 70, 20, 0, 0, 0, false}, {1, 100, 0, 0, 0, 0, false},
			}},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { run(t, 0, tt.steps, deltas) })
	}
}

func TestTickUDPExpiry(t *testing.T) {
	type v struct {
		Proto string
		Port  int
		InD   int64
	}
	view := func(r conn.Row) v { return v{r.Proto, r.RemotePort, r.BytesInDelta} }
	tests := []struct {
		name    string
		timeout time.Duration
		steps   []step[v]
	}{
		{"idle for exactly the timeout expires", 3 * time.Second, []step[v]{
			{now: at(1), obs: obs(udp(1).bytes(10, 0)), want: []v{{"udp", 1, 10}}},
			{now: at(2), obs: obs(udp(1).bytes(10, 0)), want: []v{{"udp", 1, 0}}},
			{now: at(3.999), obs: obs(udp(1).bytes(10, 0)), want: []v{{"udp", 1, 0}}},
			{now: at(4), obs: obs(udp(1).bytes(10, 0)), want: []v{}, expired: []conn.FlowID{udp(1).ID}},
		}},
		{"any counter moving restarts the idle clock", 2 * time.Second, []step[v]{
			{now: at(1), obs: obs(udp(1).bytes(10, 0))},
			{now: at(2), obs: obs(udp(1).bytes(10, 0).pkts(0, 1)), want: []v{{"udp", 1, 0}}},
			{now: at(3), obs: obs(udp(1).bytes(10, 0).pkts(0, 1)), want: []v{{"udp", 1, 0}}},
			{now: at(4), obs: obs(udp(1).bytes(10, 0).pkts(0, 1)), want: []v{}, expired: []conn.FlowID{udp(1).ID}},
		}},
		{"idle clock starts when first seen, even at zero counters", 2 * time.Second, []step[v]{
			{now: at(1), obs: obs(udp(1)), want: []v{{"udp", 1, 0}}},
			{now: at(2), obs: obs(udp(1)), want: []v{{"udp", 1, 0}}},
			{now: at(3), obs: obs(udp(1)), want: []v{}, expired: []conn.FlowID{udp(1).ID}},
		}},
		{"expired flow seen again is new", 1 * time.Second, []step[v]{
			{now: at(1), obs: obs(udp(1).bytes(10, 0))},
			{now: at(2), obs: obs(udp(1).bytes(10, 0)), want: []v{}, expired: []conn.FlowID{udp(1).ID}},
			{now: at(3), obs: obs(udp(1).bytes(10, 0)), want: []v{{"udp", 1, 10}}},
		}},
		{"only the idle flow expires; tcp never does", 1 * time.Second, []step[v]{
			{now: at(1), obs: obs(udp(1).bytes(10, 0), udp(2).bytes(10, 0), tcp(3).bytes(5, 0))},
			{now: at(2), obs: obs(udp(1).bytes(10, 0), udp(2).bytes(11, 0), tcp(3).bytes(5, 0)),
				want: []v{{"udp", 2, 1}, {"tcp", 3, 0}}, expired: []conn.FlowID{udp(1).ID}},
		}},
		{"timeout 0 never expires", 0, []step[v]{
			{now: at(1), obs: obs(udp(1).bytes(10, 0))},
			{now: at(1e6), obs: obs(udp(1).bytes(10, 0)), want: []v{{"udp", 1, 0}}},
		}},
		{"negative timeout never expires", -time.Second, []step[v]{
			{now: at(1), obs: obs(udp(1).bytes(10, 0))},
			{now: at(1e6), obs: obs(udp(1).bytes(10, 0)), want: []v{{"udp", 1, 0}}},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { run(t, tt.timeout, tt.steps, view) })
	}
}
