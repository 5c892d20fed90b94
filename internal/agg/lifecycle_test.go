package agg

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"

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
			{now: at(2), obs: obs(tcp(1)), want: []v{{42, "nginx", false}}, changed: []v{}},
			{now: at(3), obs: obs(tcp(1).pid(0, "")), want: []v{{42, "nginx", false}}, changed: []v{}},
		}},
		{"new pid replaces the old one", []step[v]{
			{now: at(1), obs: obs(tcp(1).pid(42, "nginx"))},
			{now: at(2), obs: obs(tcp(1).pid(77, "worker")), want: []v{{77, "worker", false}}, changed: []v{{77, "worker", false}}},
		}},
		{"a new name for the same pid is a change", []step[v]{
			{now: at(1), obs: obs(tcp(1).pid(42, "nginx"))},
			{now: at(2), obs: obs(tcp(1).pid(42, "nginx: worker")), changed: []v{{42, "nginx: worker", false}}},
		}},
		{"pid learnt late", []step[v]{
			{now: at(1), obs: obs(tcp(1)), want: []v{{0, "", false}}},
			{now: at(2), obs: obs(tcp(1).pid(42, "nginx")), want: []v{{42, "nginx", false}}},
		}},
		{"pid kept on the closing row", []step[v]{
			{now: at(1), obs: obs(tcp(1).pid(42, "nginx"))},
			{now: at(2), obs: obs(tcp(1).closed()), want: []v{{42, "nginx", false}}},
		}},
		{"an expired flow's pid is not inherited by the next flow with its id", []step[v]{
			{now: at(1), obs: obs(udp(1).pid(42, "dig").bytes(1, 0)), want: []v{{42, "dig", false}}},
			{now: at(2), obs: obs(udp(1).pid(42, "dig").bytes(1, 0).expired()), want: []v{}},
			{now: at(3), obs: obs(udp(1).bytes(2, 0)), want: []v{{0, "", false}}},
		}},
		{"partial stays partial", []step[v]{
			{now: at(1), obs: obs(tcp(1).partial()), want: []v{{0, "", true}}},
			{now: at(2), obs: obs(tcp(1)), want: []v{{0, "", true}}},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { run(t, tt.steps, view) })
	}
}

func TestTickClose(t *testing.T) {
	tests := []struct {
		name  string
		steps []step[dv]
	}{
		{"closed is emitted once with final counters, then forgotten", []step[dv]{
			{now: at(1), obs: obs(tcp(1).bytes(100, 10))},
			{now: at(2), obs: obs(tcp(1).bytes(160, 10).closed()), want: []dv{{1, 160, 60, 0, 0, 0, true}},
				changed: []dv{{1, 160, 60, 0, 0, 0, true}}},
			{now: at(3), obs: nil, want: []dv{}, changed: []dv{}},
		}},
		{"a closed connection reported again is stale news", []step[dv]{
			{now: at(1), obs: obs(tcp(1).bytes(100, 0).closed()), want: []dv{{1, 100, 100, 0, 0, 0, true}}},
			{now: at(2), obs: obs(tcp(1).bytes(120, 0)), want: []dv{}},
		}},
		{"a close without news still has its row", []step[dv]{
			{now: at(1), obs: obs(tcp(1).bytes(100, 0))},
			{now: at(2), obs: obs(tcp(1).bytes(100, 0).closed()), changed: []dv{{1, 100, 0, 0, 0, 0, true}}},
		}},
		{"opened and closed between ticks", []step[dv]{
			{now: at(1), obs: obs(tcp(1).bytes(5, 5))},
			{now: at(2), obs: obs(tcp(1).bytes(5, 5), tcp(2).bytes(900, 80).pkts(9, 8).closed()), want: []dv{
				{2, 900, 900, 80, 9, 8, true}, {1, 5, 0, 0, 0, 0, false},
			}, changed: []dv{{2, 900, 900, 80, 9, 8, true}}},
			{now: at(3), obs: obs(tcp(1).bytes(5, 5)), want: []dv{{1, 5, 0, 0, 0, 0, false}}},
		}},
		{"a flow missing from a snapshot is not closed", []step[dv]{
			{now: at(1), obs: obs(tcp(1).bytes(100, 10), tcp(2).bytes(50, 0))},
			{now: at(2), obs: obs(tcp(2).bytes(70, 0)), want: []dv{
				{2, 70, 20, 0, 0, 0, false}, {1, 100, 0, 0, 0, 0, false},
			}, changed: []dv{{2, 70, 20, 0, 0, 0, false}}},
			{now: at(3), obs: obs(tcp(1).bytes(130, 10)), want: []dv{
				{1, 130, 30, 0, 0, 0, false}, {2, 70, 0, 0, 0, 0, false},
			}},
		}},
		{"closes of idle flows come in key order among the rest", []step[dv]{
			{now: at(1), obs: obs(tcp(1).bytes(10, 0), tcp(2).bytes(20, 0), tcp(3).bytes(30, 0))},
			{now: at(2), obs: obs(tcp(3).bytes(30, 0).closed(), tcp(1).bytes(10, 0).closed()), want: []dv{
				{1, 10, 0, 0, 0, 0, true}, {2, 20, 0, 0, 0, 0, false}, {3, 30, 0, 0, 0, 0, true},
			}, changed: []dv{{1, 10, 0, 0, 0, 0, true}, {3, 30, 0, 0, 0, 0, true}}},
			{now: at(3), obs: nil, want: []dv{{2, 20, 0, 0, 0, 0, false}}},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { run(t, tt.steps, deltas) })
	}
}

// TestTickUnreportedRow checks every field of the row of a flow the
// source did not report: as before, with zero deltas and rates.
func TestTickUnreportedRow(t *testing.T) {
	a := New(Config{Start: t0})
	o := tcp(1).bytes(100, 10).pkts(2, 1).pid(42, "nginx").partial()
	o.RTTMicros, o.Retrans, o.State = 250, 1, "CLOSE_WAIT"
	a.Tick(conn.Snapshot{Time: at(1), Obs: obs(o)})
	a.Tick(conn.Snapshot{Time: at(2), Obs: obs(tcp(1).bytes(100, 10).pkts(2, 1))}) // pid 0, not partial: both sticky
	a.Tick(conn.Snapshot{Time: at(3)})
	want := conn.Row{
		Timestamp: mustTime("2026-01-02T15:04:08.000000Z"), Tick: 3, Proto: "tcp", Family: "ipv4",
		LocalAddr: netip.MustParseAddr("10.0.0.1"), LocalPort: 40000, RemoteAddr: netip.MustParseAddr("192.0.2.7"), RemotePort: 1,
		PID: 42, Comm: "nginx", State: "ESTABLISHED",
		BytesIn: 100, BytesOut: 10, PacketsIn: 2, PacketsOut: 1,
		Retrans: 1, // the 0 of the second observation went backwards: kept
		Partial: true,
		Start:   mustTime("2026-01-02T15:04:06.000000Z"), DurationMillis: 2000, // first seen at the first tick
		IdleMillis:    2000, // its bytes have not grown since tcptop saw it
		ConnectMicros: -1, SynRetrans: -1,
	}
	if rows := rowsOf(t, a, false); len(rows) != 1 || rows[0] != want {
		t.Errorf("got  %+v\nwant %+v", rows, want)
	}
}

func TestTickUDPExpiry(t *testing.T) {
	type v struct {
		Port int
		InD  int64
	}
	view := func(r conn.Row) v { return v{r.RemotePort, r.BytesInDelta} }
	tests := []struct {
		name  string
		steps []step[v]
	}{
		{"expired without news: no row, forgotten", []step[v]{
			{now: at(1), obs: obs(udp(1).bytes(10, 0)), want: []v{{1, 10}}},
			{now: at(2), obs: obs(udp(1).bytes(10, 0).expired()), want: []v{}, changed: []v{}},
			{now: at(3), obs: nil, want: []v{}},
		}},
		{"a datagram just before expiry gets a last row", []step[v]{
			{now: at(1), obs: obs(udp(1).bytes(10, 0))},
			{now: at(2), obs: obs(udp(1).bytes(15, 0).expired()), want: []v{{1, 5}}, changed: []v{{1, 5}}},
			{now: at(3), obs: nil, want: []v{}},
		}},
		{"expired flow seen again is new, counting from its base", []step[v]{
			{now: at(1), obs: obs(udp(1).bytes(10, 0))},
			{now: at(2), obs: obs(udp(1).bytes(10, 0).expired())},
			{now: at(3), obs: obs(udp(1).bytes(4, 0)), want: []v{{1, 4}}},
		}},
		{"only the expired flow goes", []step[v]{
			{now: at(1), obs: obs(udp(1).bytes(10, 0), udp(2).bytes(10, 0), tcp(3).bytes(5, 0))},
			{now: at(2), obs: obs(udp(1).bytes(10, 0).expired(), udp(2).bytes(11, 0)),
				want: []v{{2, 1}, {3, 0}}, changed: []v{{2, 1}}},
		}},
		{"first seen and expired at once, with news", []step[v]{
			{now: at(1), obs: obs(udp(1).bytes(3, 0).expired(), udp(2).expired()), want: []v{{1, 3}}},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { run(t, tt.steps, view) })
	}
}

// TestChanged covers what makes a row due with --changed.
func TestChanged(t *testing.T) {
	type v struct {
		Port  int
		State string
	}
	view := func(r conn.Row) v { return v{r.RemotePort, r.State} }
	rtt := func(o ob, us uint64) ob { o.RTTMicros = us; return o }
	retrans := func(o ob, n uint64) ob { o.Retrans = n; return o }
	state := func(o ob, s string) ob { o.State = s; return o }
	base := obs(tcp(1), tcp(2), tcp(3), tcp(4), tcp(5), tcp(6), udp(7))
	run(t, []step[v]{
		{now: at(1), obs: base, changed: []v{{1, "ESTABLISHED"}, {2, "ESTABLISHED"}, {3, "ESTABLISHED"},
			{4, "ESTABLISHED"}, {5, "ESTABLISHED"}, {6, "ESTABLISHED"}, {7, ""}}}, // all new
		{now: at(2), obs: base, changed: []v{}}, // reported, nothing changed
		{now: at(3), obs: obs(tcp(1).pkts(1, 0), rtt(tcp(2), 900), retrans(tcp(3), 1), state(tcp(4), "FIN_WAIT1"),
			tcp(5).pid(9, "x"), tcp(6), udp(7).pkts(0, 1)),
			changed: []v{{1, "ESTABLISHED"}, {2, "ESTABLISHED"}, {3, "ESTABLISHED"}, {4, "FIN_WAIT1"}, {5, "ESTABLISHED"}, {7, ""}}},
	}, view)
}

// TestWarnOnce checks that a counter going backwards is reported once,
// naming the flow and the counter.
func TestWarnOnce(t *testing.T) {
	var warnings []string
	a := New(Config{Start: t0, Warn: func(f string, args ...any) {
		warnings = append(warnings, strings.TrimSpace(fmt.Sprintf(f, args...)))
	}})
	a.Tick(conn.Snapshot{Time: at(1), Obs: obs(tcp(1).bytes(500, 0))})
	a.Tick(conn.Snapshot{Time: at(2), Obs: obs(tcp(1).bytes(400, 0))})
	a.Tick(conn.Snapshot{Time: at(3), Obs: obs(tcp(1).bytes(300, 0).pkts(0, 0))})
	if len(warnings) != 1 || !strings.Contains(warnings[0], "bytes_in") || !strings.Contains(warnings[0], "500") ||
		!strings.Contains(warnings[0], "192.0.2.7:1") {
		t.Errorf("warnings = %q, want one naming bytes_in, 500 and the flow", warnings)
	}
}

func TestUnwrap(t *testing.T) {
	for _, tt := range []struct {
		prev, got uint64
		wide      bool
		want      uint64
		ok        bool
	}{
		{0, 0, false, 0, true},
		{10, 15, false, 15, true},
		{1<<32 - 1, 0, false, 1 << 32, true},           // wrapped by one
		{1<<32 - 10, 5, false, 1<<32 + 5, true},        // wrapped by 15
		{5<<32 + 7, 9, false, 5<<32 + 9, true},         // unwrapped value, raw 32-bit reading
		{5<<32 + 7, 1<<32 + 9, false, 5<<32 + 9, true}, // raw reading widened with junk above 32 bits
		{10, 5, false, 10, false},                      // moved back: a bug
		{0, 1 << 31, false, 0, false},                  // a jump of 2^31 is a jump back
		{0, 1<<31 - 1, false, 1<<31 - 1, true},         // the largest step forward
		{1 << 40, 1<<40 + 1, true, 1<<40 + 1, true},    // 64-bit
		{1 << 40, 1<<40 - 1, true, 1<<40 - 1, false},   // 64-bit back: a bug (the caller keeps prev)
		{1<<64 - 1, 1<<64 - 1, true, 1<<64 - 1, true},  // 64-bit, still
		{1<<32 - 1, 1<<32 + 3, true, 1<<32 + 3, true},  // 64-bit never wraps at 32
		{3, 1<<32 - 1, false, 3, false},                // 32-bit back by 4
	} {
		got, ok := unwrap(tt.prev, tt.got, tt.wide)
		if ok != tt.ok || ok && got != tt.want {
			t.Errorf("unwrap(%d, %d, wide=%v) = %d, %v; want %d, %v", tt.prev, tt.got, tt.wide, got, ok, tt.want, tt.ok)
		}
	}
}
