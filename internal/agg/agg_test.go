package agg

import (
	"fmt"
	"net/netip"
	"reflect"
	"testing"
	"time"

	"github.com/tcptop/tcptop/internal/conn"
)

// t0 is the fake clock's origin; at(s) is s seconds after it.
var t0 = time.Date(2026, 1, 2, 15, 4, 5, 0, time.UTC)

func mustTime(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return t
}

func at(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }

// ob builds observations fluently. tcp(n) and udp(n) have remote port n,
// which is how the views below tell flows apart.
type ob struct{ conn.Observation }

var (
	local4  = netip.MustParseAddrPort("10.0.0.1:40000")
	remote4 = netip.MustParseAddr("192.0.2.7")
)

func tcp(port uint16) ob {
	return ob{conn.Observation{
		ID:    conn.FlowID{Proto: conn.TCP, Cookie: uint64(port)},
		Proto: conn.TCP, Local: local4, Remote: netip.AddrPortFrom(remote4, port),
		State: "ESTABLISHED",
	}}
}

func udp(port uint16) ob {
	remote := netip.AddrPortFrom(remote4, port)
	return ob{conn.Observation{
		ID:    conn.FlowID{Proto: conn.UDP, Local: local4, Remote: remote},
		Proto: conn.UDP, Local: local4, Remote: remote,
	}}
}

func (o ob) bytes(in, out uint64) ob   { o.BytesIn, o.BytesOut = in, out; return o }
func (o ob) pkts(in, out uint64) ob    { o.PacketsIn, o.PacketsOut = in, out; return o }
func (o ob) pid(p uint32, c string) ob { o.PID, o.Comm = p, c; return o }
func (o ob) partial() ob               { o.Partial = true; return o }
func (o ob) expired() ob               { o.Expired = true; return o }
func (o ob) base(in, out, pin, pout uint64) ob {
	o.BaseBytesIn, o.BaseBytesOut, o.BasePacketsIn, o.BasePacketsOut = in, out, pin, pout
	return o
}
func (o ob) closed() ob { o.Closed = true; return o }
func (o ob) addrs(l, r string) ob {
	o.Local, o.Remote = netip.MustParseAddrPort(l), netip.MustParseAddrPort(r)
	if o.Proto == conn.UDP {
		o.ID.Local, o.ID.Remote = o.Local, o.Remote
	}
	return o
}

func obs(os ...ob) []conn.Observation {
	out := make([]conn.Observation, len(os))
	for i, o := range os {
		out[i] = o.Observation
	}
	return out
}

// step is one Tick call and the rows it must give, seen through a view:
// want every row, changed those of Each(true) (tcptop --changed). A nil
// slice leaves them unchecked (a setup step); an empty non-nil one
// asserts there are none.
type step[V any] struct {
	now     time.Time
	obs     []conn.Observation
	want    []V
	changed []V
}

// run feeds steps to a fresh Aggregator started at t0 and compares each
// tick's rows, projected by view, exactly. Both kinds of Each are called
// on every tick, every rows first.
func run[V any](t *testing.T, steps []step[V], view func(conn.Row) V) {
	t.Helper()
	a := New(Config{Start: t0})
	for i, s := range steps {
		a.Tick(conn.Snapshot{Time: s.now, Obs: s.obs})
		check(t, fmt.Sprintf("tick %d rows", i+1), project(rowsOf(t, a, false), view), s.want)
		check(t, fmt.Sprintf("tick %d changed rows", i+1), project(rowsOf(t, a, true), view), s.changed)
	}
}

func check[V any](t *testing.T, what string, got, want []V) {
	t.Helper()
	if want != nil && (len(got) != 0 || len(want) != 0) && !reflect.DeepEqual(got, want) {
		t.Errorf("%s:\n got %+v\nwant %+v", what, got, want)
	}
}

// rowsOf collects one Each pass.
func rowsOf(t testing.TB, a *Aggregator, changedOnly bool) []conn.Row {
	var rows []conn.Row
	if err := a.Each(changedOnly, func(r *conn.Row) error { rows = append(rows, *r); return nil }); err != nil {
		t.Fatal(err)
	}
	return rows
}

func project[V any](rows []conn.Row, view func(conn.Row) V) []V {
	out := make([]V, len(rows))
	for i, r := range rows {
		out[i] = view(r)
	}
	return out
}

func TestTickNumberAndTimestamp(t *testing.T) {
	type v struct {
		Tick int64
		TS   string
	}
	view := func(r conn.Row) v { return v{r.Tick, r.Timestamp.UTC().Format("2006-01-02T15:04:05.000000Z")} }
	cet := time.FixedZone("CET", 3600)
	tests := []struct {
		name  string
		steps []step[v]
	}{
		{"fraction is six digits, truncated", []step[v]{
			{now: time.Date(2026, 1, 2, 15, 4, 5, 123456789, time.UTC), obs: obs(tcp(1)),
				want: []v{{1, "2026-01-02T15:04:05.123456Z"}}},
		}},
		{"zero fraction is padded", []step[v]{
			{now: at(1), obs: obs(tcp(1)), want: []v{{1, "2026-01-02T15:04:06.000000Z"}}},
		}},
		{"other zones print as UTC", []step[v]{
			{now: time.Date(2026, 1, 2, 16, 4, 7, 5000, cet), obs: obs(tcp(1)),
				want: []v{{1, "2026-01-02T15:04:07.000005Z"}}},
		}},
		{"ticks count up, empty ticks included", []step[v]{
			{now: at(1), obs: obs(tcp(1)), want: []v{{1, "2026-01-02T15:04:06.000000Z"}}},
			{now: at(2), obs: obs(tcp(1)), want: []v{{2, "2026-01-02T15:04:07.000000Z"}}},
			{now: at(3), obs: nil, want: []v{{3, "2026-01-02T15:04:08.000000Z"}}, changed: []v{}}, // unchanged, still there
			{now: at(4), obs: obs(tcp(1).closed()), want: []v{{4, "2026-01-02T15:04:09.000000Z"}}},
			{now: at(5), obs: nil, want: []v{}},
			{now: at(6), obs: obs(tcp(2)), want: []v{{6, "2026-01-02T15:04:11.000000Z"}}},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { run(t, tt.steps, view) })
	}
}

func TestTickRowFields(t *testing.T) {
	full := func(o ob) ob {
		o = o.bytes(1000, 3000).pkts(10, 30).pid(4242, "curl")
		o.RTTMicros, o.Retrans = 1500, 2
		return o
	}
	tcp6 := full(tcp(443).addrs("[2001:db8::1]:50000", "[2001:db8::2]:443")).partial()
	tcp6.State = "FIN_WAIT1"
	tests := []struct {
		name string
		o    ob
		want conn.Row
	}{
		{"tcp ipv4", full(tcp(443)), conn.Row{
			Timestamp: mustTime("2026-01-02T15:04:07.000000Z"), Tick: 1, Proto: "tcp", Family: "ipv4",
			LocalAddr: netip.MustParseAddr("10.0.0.1"), LocalPort: 40000, RemoteAddr: netip.MustParseAddr("192.0.2.7"), RemotePort: 443,
			PID: 4242, Comm: "curl", State: "ESTABLISHED",
			BytesIn: 1000, BytesOut: 3000, PacketsIn: 10, PacketsOut: 30,
			BytesInDelta: 1000, BytesOutDelta: 3000, PacketsInDelta: 10, PacketsOutDelta: 30,
			RateIn: 500, RateOut: 1500, RTTMicros: 1500, Retrans: 2, RetransDelta: 2,
			Start:         mustTime("2026-01-02T15:04:07.000000Z"),
			ConnectMicros: -1, SynRetrans: -1,
		}},
		{"tcp ipv6 partial", tcp6, conn.Row{
			Timestamp: mustTime("2026-01-02T15:04:07.000000Z"), Tick: 1, Proto: "tcp", Family: "ipv6",
			LocalAddr: netip.MustParseAddr("2001:db8::1"), LocalPort: 50000, RemoteAddr: netip.MustParseAddr("2001:db8::2"), RemotePort: 443,
			PID: 4242, Comm: "curl", State: "FIN_WAIT1",
			BytesIn: 1000, BytesOut: 3000, PacketsIn: 10, PacketsOut: 30,
			BytesInDelta: 1000, BytesOutDelta: 3000, PacketsInDelta: 10, PacketsOutDelta: 30,
			RateIn: 500, RateOut: 1500, RTTMicros: 1500, Retrans: 2, Partial: true,
			Start:         mustTime("2026-01-02T15:04:07.000000Z"),
			ConnectMicros: -1, SynRetrans: -1,
		}},
		{"udp on an unbound local address", udp(53).addrs("0.0.0.0:5353", "192.0.2.53:53").bytes(200, 100).pkts(2, 1), conn.Row{
			Timestamp: mustTime("2026-01-02T15:04:07.000000Z"), Tick: 1, Proto: "udp", Family: "ipv4",
			LocalAddr: netip.MustParseAddr("0.0.0.0"), LocalPort: 5353, RemoteAddr: netip.MustParseAddr("192.0.2.53"), RemotePort: 53,
			BytesIn: 200, BytesOut: 100, PacketsIn: 2, PacketsOut: 1,
			BytesInDelta: 200, BytesOutDelta: 100, PacketsInDelta: 2, PacketsOutDelta: 1,
			RateIn: 100, RateOut: 50,
			UID: -1, Start: mustTime("2026-01-02T15:04:07.000000Z"), // no owner
			ConnectMicros: -1, SynRetrans: -1,
		}},
		{"closed", full(tcp(80)).closed(), conn.Row{
			Timestamp: mustTime("2026-01-02T15:04:07.000000Z"), Tick: 1, Proto: "tcp", Family: "ipv4",
			LocalAddr: netip.MustParseAddr("10.0.0.1"), LocalPort: 40000, RemoteAddr: netip.MustParseAddr("192.0.2.7"), RemotePort: 80,
			PID: 4242, Comm: "curl", State: "ESTABLISHED",
			BytesIn: 1000, BytesOut: 3000, PacketsIn: 10, PacketsOut: 30,
			BytesInDelta: 1000, BytesOutDelta: 3000, PacketsInDelta: 10, PacketsOutDelta: 30,
			RateIn: 500, RateOut: 1500, RTTMicros: 1500, Retrans: 2, RetransDelta: 2, Closed: true,
			Start:         mustTime("2026-01-02T15:04:07.000000Z"),
			ConnectMicros: -1, SynRetrans: -1,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := New(Config{Start: t0})
			a.Tick(conn.Snapshot{Time: at(2), Obs: obs(tt.o)})
			rows := rowsOf(t, a, false)
			if len(rows) != 1 || rows[0] != tt.want {
				t.Errorf("got  %+v\nwant %+v", rows, tt.want)
			}
		})
	}
}

// dv is the deltas view: which flow, its cumulative bytes_in and all deltas.
type dv struct {
	Port                 int
	BytesIn              int64
	InD, OutD, PIn, POut int64
	Closed               bool
}

func deltas(r conn.Row) dv {
	return dv{r.RemotePort, r.BytesIn, r.BytesInDelta, r.BytesOutDelta, r.PacketsInDelta, r.PacketsOutDelta, r.Closed}
}

func TestTickDeltas(t *testing.T) {
	tests := []struct {
		name  string
		steps []step[dv]
	}{
		{"new flow's delta is its cumulative", []step[dv]{
			{now: at(1), obs: obs(tcp(1).bytes(700, 300).pkts(7, 3)), want: []dv{{1, 700, 700, 300, 7, 3, false}}},
		}},
		{"pre-existing connection: lifetime totals, deltas from its base", []step[dv]{
			{now: at(1), obs: obs(tcp(1).bytes(7000, 300).pkts(70, 30).base(7000, 300, 70, 30).partial()),
				want: []dv{{1, 7000, 0, 0, 0, 0, false}}, changed: []dv{{1, 7000, 0, 0, 0, 0, false}}},
			{now: at(2), obs: obs(tcp(1).bytes(7100, 300).pkts(71, 30).base(7000, 300, 70, 30).partial()),
				want: []dv{{1, 7100, 100, 0, 1, 0, false}}},
		}},
		{"pre-existing connection that moved before its first row", []step[dv]{
			{now: at(1), obs: obs(tcp(1).bytes(7500, 300).pkts(75, 30).base(7000, 300, 70, 30).partial()),
				want: []dv{{1, 7500, 500, 0, 5, 0, false}}},
		}},
		{"base beyond the counter: a bug, delta 0", []step[dv]{
			{now: at(1), obs: obs(tcp(1).bytes(100, 300).base(7000, 300, 0, 0)),
				want: []dv{{1, 7000, 0, 0, 0, 0, false}}},
		}},
		{"base and segments across the 2^32 wrap", []step[dv]{
			{now: at(1), obs: obs(tcp(1).pkts(2, 0).base(0, 0, 1<<32-1, 0)),
				want: []dv{{1, 0, 0, 0, 3, 0, false}}},
		}},
		{"deltas against the previous tick", []step[dv]{
			{now: at(1), obs: obs(tcp(1).bytes(100, 10).pkts(1, 1))},
			{now: at(2), obs: obs(tcp(1).bytes(350, 10).pkts(4, 2)), want: []dv{{1, 350, 250, 0, 3, 1, false}}},
			{now: at(3), obs: obs(tcp(1).bytes(350, 10).pkts(4, 2)), want: []dv{{1, 350, 0, 0, 0, 0, false}}},
		}},
		{"counter went down: a bug, the counter keeps its value", []step[dv]{
			{now: at(1), obs: obs(tcp(1).bytes(5000, 60).pkts(50, 6))},
			{now: at(2), obs: obs(tcp(1).bytes(40, 70).pkts(2, 6)), want: []dv{{1, 5000, 0, 10, 0, 0, false}}},
			{now: at(3), obs: obs(tcp(1).bytes(5100, 70).pkts(52, 6)), want: []dv{{1, 5100, 100, 0, 2, 0, false}}},
		}},
		{"tcp segments wrap at 2^32", []step[dv]{
			{now: at(1), obs: obs(tcp(1).pkts(1<<32-2, 7))},
			{now: at(2), obs: obs(tcp(1).pkts(3, 7)), want: []dv{{1, 0, 0, 0, 5, 0, false}}},
		}},
		{"udp datagrams do not wrap", []step[dv]{
			{now: at(1), obs: obs(udp(1).pkts(1<<32-2, 7))},
			{now: at(2), obs: obs(udp(1).pkts(1<<32+3, 7)), want: []dv{{1, 0, 0, 0, 5, 0, false}}},
			{now: at(3), obs: obs(udp(1).pkts(3, 7)), want: []dv{{1, 0, 0, 0, 0, 0, false}}},
		}},
		{"a flow not reported is unchanged", []step[dv]{
			{now: at(1), obs: obs(tcp(1).bytes(100, 10), udp(2).bytes(5, 5))},
			{now: at(2), obs: nil, want: []dv{{1, 100, 0, 0, 0, 0, false}, {2, 5, 0, 0, 0, 0, false}}, changed: []dv{}},
		}},
		{"flows are independent", []step[dv]{
			{now: at(1), obs: obs(tcp(1).bytes(100, 0), udp(2).bytes(0, 50))},
			{now: at(2), obs: obs(tcp(1).bytes(300, 0), udp(2).bytes(0, 50)), want: []dv{
				{1, 300, 200, 0, 0, 0, false}, {2, 0, 0, 0, 0, 0, false},
			}},
		}},
		{"repeated observation in one tick replaces, not adds", []step[dv]{
			{now: at(1), obs: obs(tcp(1).bytes(100, 0))},
			{now: at(2), obs: obs(tcp(1).bytes(150, 0), tcp(1).bytes(180, 0)), want: []dv{{1, 180, 80, 0, 0, 0, false}}},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { run(t, tt.steps, deltas) })
	}
}

func TestTickRates(t *testing.T) {
	type v struct{ In, Out float64 }
	view := func(r conn.Row) v { return v{r.RateIn, r.RateOut} }
	tests := []struct {
		name  string
		steps []step[v]
	}{
		{"first tick measured from start", []step[v]{
			{now: at(2), obs: obs(tcp(1).bytes(1000, 3)), want: []v{{500, 1.5}}},
		}},
		{"later ticks measured from the previous tick", []step[v]{
			{now: at(1), obs: obs(tcp(1).bytes(1000, 0))},
			{now: at(1.5), obs: obs(tcp(1).bytes(1250, 100)), want: []v{{500, 200}}},
			{now: at(5.5), obs: obs(tcp(1).bytes(1250, 4100)), want: []v{{0, 1000}}},
		}},
		{"no time elapsed: rate 0", []step[v]{
			{now: t0, obs: obs(tcp(1).bytes(1000, 1000)), want: []v{{0, 0}}},
		}},
		{"clock went backwards: rate 0, then measured from there", []step[v]{
			{now: at(10), obs: obs(tcp(1).bytes(100, 0))},
			{now: at(9), obs: obs(tcp(1).bytes(200, 0)), want: []v{{0, 0}}},
			{now: at(11), obs: obs(tcp(1).bytes(400, 0)), want: []v{{100, 0}}},
		}},
		{"counter went backwards: rate 0", []step[v]{
			{now: at(1), obs: obs(tcp(1).bytes(9000, 0))},
			{now: at(3), obs: obs(tcp(1).bytes(600, 0)), want: []v{{0, 0}}},
		}},
		{"a flow not reported: rate 0", []step[v]{
			{now: at(1), obs: obs(tcp(1).bytes(9000, 0))},
			{now: at(3), obs: nil, want: []v{{0, 0}}},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { run(t, tt.steps, view) })
	}
}
