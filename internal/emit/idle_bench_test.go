package emit

import (
	"fmt"
	"io"
	"net/netip"
	"testing"
	"time"

	"github.com/tcptop/tcptop/internal/conn"
)

// loopbackRows is an all-rows tick as bench-scale's idle loopback
// connections give it: n TCP rows that never moved, older than tcptop
// (partial), so first seen, and started, at the same tick; each with its
// own ports, Community ID, RTT and pacing rate, the same handshake
// counters, window, comm, cgroup and addresses.
func loopbackRows(n int) []conn.Row {
	lo := netip.MustParseAddr("127.0.0.1")
	now := time.Date(2026, 12, 7, 20, 0, 30, 123456000, time.UTC)
	start := now.Add(-29*time.Second - 3571*time.Microsecond)
	ms := now.Sub(start).Milliseconds()
	rows := make([]conn.Row, n)
	for i := range rows {
		rtt := int64(20 + i%50)
		rows[i] = conn.Row{Timestamp: now, Tick: 30, Proto: "tcp", Family: "ipv4",
			LocalAddr: lo, LocalPort: 20000 + i%40000, RemoteAddr: lo, RemotePort: 9000 + i%8,
			PID: 4242 + i%4, Comm: "bench-scale", State: "ESTABLISHED",
			PacketsIn: 1, PacketsOut: 1,
			RTTMicros: rtt, Cwnd: 10, MinRTTMicros: rtt, RTTVarMicros: rtt / 2,
			PacingRate: 2_000_000_000 / rtt, SndWnd: 65483, RcvWnd: 65483,
			CC: "bbr", Partial: true, NetNS: 4026531840, CgroupID: 8412, Cgroup: "/system.slice/bench.scope",
			UID: 0, Direction: []string{"in", ""}[i%2], Start: start, DurationMillis: ms,
			CommunityID: fmt.Sprintf("1:%027d=", i), IdleMillis: ms,
			ServicePort: (9000 + i%8) * (1 - i%2), ConnectMicros: -1, SynRetrans: -1}
	}
	return rows
}

// BenchmarkNDJSONIdle writes an all-rows tick of 10,000 idle rows and
// reports the cost per row: the rows of an all-rows tick at 50,000
// connections, most of which are idle.
func BenchmarkNDJSONIdle(b *testing.B) {
	w, err := New("ndjson", io.Discard, false)
	if err != nil {
		b.Fatal(err)
	}
	rows := loopbackRows(10_000)
	b.ReportAllocs()
	for b.Loop() {
		if err := writeTick(w, 30, rows); err != nil {
			b.Fatal(err)
		}
	}
	perRow(b, len(rows))
}
