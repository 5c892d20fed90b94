package emit

import (
	"bytes"
	"io"
	"math/rand/v2"
	"net/netip"
	"runtime"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/tcptop/tcptop/internal/conn"
)

// TestNDJSONMatchesGoccyWriter checks that the NDJSON writer writes what
// the goccy/go-json writer it replaced writes, byte for byte, on the
// golden ticks in every time format, with --fields, on stats records, on
// random rows and on the idle rows of the benchmark:
// BenchmarkNDJSONEncoders compares two writers of the same output.
func TestNDJSONMatchesGoccyWriter(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	random := make([]conn.Row, 500)
	for i := range random {
		random[i] = randomRow(rng)
	}
	cases := []struct {
		name   string
		fields []string
		time   string
		ticks  [][]conn.Row
	}{
		{"golden", nil, "", ticks()},
		{"unix", nil, TimeUnix, ticks()},
		{"unix_ms", nil, TimeUnixMs, ticks()},
		{"fields", pickedFields, "", ticks()},
		{"random", nil, "", [][]conn.Row{random}},
		{"idle", nil, "", [][]conn.Row{idleRows()}},
	}
	for _, tc := range cases {
		cols, err := pick(conn.Fields, tc.fields)
		if err != nil {
			t.Fatal(err)
		}
		var want, got bytes.Buffer
		hw, gw := newGoccyNDJSONWith(&want, cols, tc.time), newNDJSONWith(&got, cols, tc.time)
		for _, rows := range tc.ticks {
			for _, w := range []Writer{hw, gw} {
				if err := writeTick(w, 1, rows); err != nil {
					t.Fatal(err)
				}
				if err := w.(StatsWriter).Stats(statsFixture()); err != nil {
					t.Fatal(err)
				}
			}
		}
		if got.String() != want.String() {
			t.Errorf("%s: the writer writes\n%s\nthe goccy writer\n%s", tc.name, got.String(), want.String())
		}
	}
}

// BenchmarkNDJSONEncoders measured the change from goccy/go-json's
// encoder to the appender (docs/design.md, 2026-12-07): both write the
// same 1,000 rows to the same text (TestNDJSONMatchesGoccyWriter) in each
// iteration, one after the other, timed by the CPU time of the thread, so
// other jobs on the machine do not count. It reports each one's ns/row
// and goccy/appender, how many times faster the appender is. Two sets of
// rows: busy (the golden rows: large counters, IPv6, rates, escapes) and
// idle (what most rows of a host with many connections are: IPv4, a short
// name, counters and nothing moving this tick, zero deltas and rates).
func BenchmarkNDJSONEncoders(b *testing.B) {
	b.Run("busy", func(b *testing.B) { benchmarkEncoders(b, benchRows()) })
	b.Run("idle", func(b *testing.B) { benchmarkEncoders(b, idleRows()) })
}

func benchmarkEncoders(b *testing.B, rows []conn.Row) {
	hw, gw := newNDJSON(io.Discard), newGoccyNDJSON(io.Discard)
	// CPU time of this thread, not the wall clock: on a machine shared
	// with other jobs a writer descheduled mid-tick would be charged for
	// their time. The thread is locked so that the clock is this one's.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var th, tg time.Duration
	b.ReportAllocs()
	for b.Loop() {
		t0 := threadCPU(b)
		if err := writeTick(hw, 1, rows); err != nil {
			b.Fatal(err)
		}
		t1 := threadCPU(b)
		if err := writeTick(gw, 1, rows); err != nil {
			b.Fatal(err)
		}
		th, tg = th+t1-t0, tg+threadCPU(b)-t1
	}
	n := float64(b.N * len(rows))
	b.ReportMetric(float64(th.Nanoseconds())/n, "appender-cpu-ns/row")
	b.ReportMetric(float64(tg.Nanoseconds())/n, "goccy-cpu-ns/row")
	b.ReportMetric(float64(tg)/float64(th), "goccy/appender")
}

// threadCPU is the CPU time the calling thread has used.
func threadCPU(b *testing.B) time.Duration {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_THREAD_CPUTIME_ID, &ts); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ts.Nano())
}

// idleRows are 1,000 rows as the aggregator makes them for established
// connections that did not move this tick (BenchmarkPipeline100k's).
func idleRows() []conn.Row {
	rows := make([]conn.Row, 1000)
	for i := range rows {
		start := ts1.Add(-time.Duration(i) * time.Second)
		rows[i] = conn.Row{Timestamp: ts3, Tick: 3, Proto: "tcp", Family: "ipv4",
			LocalAddr: netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)}), LocalPort: 443,
			RemoteAddr: netip.AddrFrom4([4]byte{10, 1, 0, byte(i >> 8)}), RemotePort: 1024 + i,
			PID: 1000 + i%64, Comm: "nginx", State: "ESTABLISHED",
			BytesIn: int64(i) << 10, BytesOut: int64(i) << 8, PacketsIn: int64(i), PacketsOut: int64(i),
			RTTMicros: int64(i % 9000), NetNS: 4026531840, UID: 33, Start: start,
			DurationMillis: ts3.Sub(start).Milliseconds(), IdleMillis: ts3.Sub(start).Milliseconds(),
			CommunityID: conn.CommunityID(conn.TCP, netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)}), 443),
				netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 1, 0, byte(i >> 8)}), uint16(1024+i)))}
	}
	return rows
}
