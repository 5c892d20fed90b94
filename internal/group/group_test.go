package group

import (
	"net/netip"
	"reflect"
	"testing"
	"time"

	"github.com/tcptop/tcptop/internal/conn"
)

var ts = time.Date(2026, 11, 26, 5, 47, 55, 0, time.UTC)

func row(comm string, remote string, port int, in, out int64, rateIn, rateOut float64, rtt int64) conn.Row {
	return conn.Row{Timestamp: ts, Tick: 4, Proto: "tcp", Comm: comm, PID: len(comm),
		RemoteAddr: netip.MustParseAddr(remote), RemotePort: port,
		BytesIn: in, BytesOut: out, PacketsIn: in / 10, PacketsOut: out / 10,
		BytesInDelta: in / 2, BytesOutDelta: out / 2, PacketsInDelta: 1, PacketsOutDelta: 2,
		RateIn: rateIn, RateOut: rateOut, RTTMicros: rtt}
}

// workload is three processes' flows in one tick.
func workload() []conn.Row {
	return []conn.Row{
		row("nginx", "10.0.0.2", 443, 1000, 5000, 100, 500, 200),
		row("curl", "10.0.0.3", 80, 300, 40, 30, 4, 1000),
		row("nginx", "10.0.0.9", 443, 2000, 7000, 0, 0, 301),
		row("dig", "8.8.8.8", 53, 64, 32, 0, 0, 0), // UDP-like: no rtt
		row("nginx", "10.0.0.2", 443, 10, 20, 1, 2, 0),
		row("curl", "10.0.0.2", 443, 5, 5, 0, 0, 1001),
	}
}

func groupsOf(t *testing.T, g *Grouper, rows []conn.Row) []conn.GroupRow {
	t.Helper()
	g.Begin()
	for i := range rows {
		g.Add(&rows[i])
	}
	var out []conn.GroupRow
	if err := g.Each(func(gr *conn.GroupRow) error { out = append(out, *gr); return nil }); err != nil {
		t.Fatal(err)
	}
	return out
}

// sums is the view of a grouped row the tests compare: the fields of
// conn.GroupFields.
type sums struct {
	Key                    string
	Tick, N                int64
	In, Out, PIn, POut     int64
	InD, OutD, PInD, POutD int64
	RateIn, RateOut        float64
	RTTMax, RTTMean        int64
}

func TestGroupByComm(t *testing.T) {
	g, err := New([]string{"comm"})
	if err != nil {
		t.Fatal(err)
	}
	var got []sums
	for _, gr := range groupsOf(t, g, workload()) {
		got = append(got, sumsOf(gr, gr.Row.Comm))
	}
	want := []sums{
		// nginx: rate 603; curl: 34; dig: 0. rtt mean of 200 and 301 is 250.5: 251.
		{"nginx", 4, 3, 3010, 12020, 301, 1202, 1505, 6010, 3, 6, 101, 502, 301, 251},
		{"curl", 4, 2, 305, 45, 30, 4, 152, 22, 2, 4, 30, 4, 1001, 1001},
		{"dig", 4, 1, 64, 32, 6, 3, 32, 16, 1, 2, 0, 0, 0, 0},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got  %+v\nwant %+v", got, want)
	}
}

func sumsOf(gr conn.GroupRow, key string) sums {
	r := gr.Row
	return sums{key, r.Tick, gr.Connections, r.BytesIn, r.BytesOut, r.PacketsIn, r.PacketsOut,
		r.BytesInDelta, r.BytesOutDelta, r.PacketsInDelta, r.PacketsOutDelta, r.RateIn, r.RateOut,
		gr.RTTMaxMicros, gr.RTTMeanMicros}
}

// TestGroupByRemoteOrder groups by two keys; groups without a rate are
// ordered by the keys: the address numerically, then the port.
func TestGroupByRemoteOrder(t *testing.T) {
	g, err := New([]string{"remote_addr", "remote_port"})
	if err != nil {
		t.Fatal(err)
	}
	rows := []conn.Row{
		row("a", "10.0.0.10", 80, 1, 1, 0, 0, 0),
		row("b", "10.0.0.9", 443, 1, 1, 0, 0, 0),
		row("c", "10.0.0.9", 80, 1, 1, 0, 0, 0),
		row("d", "::1", 80, 1, 1, 0, 0, 0),
		row("e", "10.0.0.10", 80, 1, 1, 0, 0, 0),
		row("f", "192.0.2.1", 9, 1, 1, 0, 1, 0),
	}
	var got []string
	for _, gr := range groupsOf(t, g, rows) {
		got = append(got, netip.AddrPortFrom(gr.Row.RemoteAddr, uint16(gr.Row.RemotePort)).String()+"×"+string(rune('0'+gr.Connections)))
	}
	want := []string{"192.0.2.1:9×1", "10.0.0.9:80×1", "10.0.0.9:443×1", "10.0.0.10:80×2", "[::1]:80×1"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("order %v, want %v", got, want)
	}
}

// TestGroupTicks: each tick starts afresh.
func TestGroupTicks(t *testing.T) {
	g, _ := New([]string{"comm"})
	groupsOf(t, g, workload())
	got := groupsOf(t, g, []conn.Row{row("nginx", "10.0.0.2", 443, 7, 8, 0, 0, 0)})
	if len(got) != 1 || got[0].Connections != 1 || got[0].Row.BytesIn != 7 {
		t.Errorf("second tick %+v", got)
	}
	if got := groupsOf(t, g, nil); len(got) != 0 {
		t.Errorf("an empty tick has groups: %+v", got)
	}
}

func TestNewRejects(t *testing.T) {
	for _, keys := range [][]string{nil, {"bogus"}, {"bytes_in"}, {"timestamp"}} {
		if _, err := New(keys); err == nil {
			t.Errorf("New(%v) accepted", keys)
		}
	}
}
