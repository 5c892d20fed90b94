package emit

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tcptop/tcptop/internal/conn"
	"github.com/tcptop/tcptop/internal/group"
)

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (go test ./internal/emit -update writes it)", err)
	}
	if got != string(want) {
		t.Errorf("output differs from %s (go test ./internal/emit -update rewrites it):\n%s", path, got)
	}
}

// renderWith writes the golden ticks with options o.
func renderWith(t *testing.T, format string, o Options) string {
	t.Helper()
	var buf bytes.Buffer
	w, err := NewWith(format, &buf, o)
	if err != nil {
		t.Fatal(err)
	}
	for _, rows := range ticks() {
		if err := writeTick(w, 0, rows); err != nil {
			t.Fatal(err)
		}
	}
	return buf.String()
}

// pickedFields is a --fields list in an order of its own, with a time, an
// address, a float, a bool and identity fields.
var pickedFields = []string{"timestamp", "comm", "remote_addr", "remote_port", "bytes_out_delta", "rate_out",
	"rtt_us", "closed", "direction", "start", "container_id", "community_id"}

// TestFieldsGolden: --fields picks and orders the keys, columns and text
// columns, in every format.
func TestFieldsGolden(t *testing.T) {
	for _, format := range Formats() {
		t.Run(format, func(t *testing.T) {
			golden(t, "fields."+format+".golden", renderWith(t, format, Options{Header: true, Fields: pickedFields}))
		})
	}
}

// TestTimeFormatsGolden: --time-format in every format, on timestamp and
// start (and the text format's tick line).
func TestTimeFormatsGolden(t *testing.T) {
	fields := []string{"timestamp", "tick", "comm", "start", "duration_ms"}
	for _, tf := range []string{TimeUnix, TimeUnixMs} {
		for _, format := range Formats() {
			t.Run(tf+"/"+format, func(t *testing.T) {
				golden(t, "time-"+tf+"."+format+".golden", renderWith(t, format, Options{Header: true, Fields: fields, Time: tf}))
			})
		}
	}
	// rfc3339 is the default, byte for byte.
	for _, format := range Formats() {
		if got, want := renderWith(t, format, Options{Header: true, Time: TimeRFC3339}), render(t, format, true, ticks()); got != want {
			t.Errorf("%s: --time-format=rfc3339 differs from the default", format)
		}
	}
}

func TestAppendTime(t *testing.T) {
	for _, tc := range []struct {
		t      time.Time
		format string
		want   string
	}{
		{time.Date(2026, 1, 2, 15, 4, 5, 123456789, time.UTC), TimeRFC3339, "2026-01-02T15:04:05.123456Z"},
		{time.Date(2026, 1, 2, 15, 4, 5, 123456789, time.UTC), TimeUnix, "1767366245.123456"},
		{time.Date(2026, 1, 2, 15, 4, 5, 123456789, time.UTC), TimeUnixMs, "1767366245123"},
		{time.Date(2026, 1, 2, 15, 4, 5, 0, time.FixedZone("X", 3600)), TimeUnix, "1767362645.000000"},
		{time.Date(2026, 1, 2, 15, 4, 5, 7000, time.UTC), TimeUnix, "1767366245.000007"},
		{time.Unix(0, 0), TimeUnix, "0.000000"},
		{time.Unix(-1, 500000000), TimeUnix, "-1.500000"},
	} {
		if got := string(appendTime(nil, tc.t, tc.format)); got != tc.want {
			t.Errorf("appendTime(%v, %s) = %s, want %s", tc.t, tc.format, got, tc.want)
		}
	}
}

func TestOptionsRejected(t *testing.T) {
	for _, tc := range []struct {
		o    Options
		want string
	}{
		{Options{Fields: []string{"comm", "bogus"}}, `unknown field "bogus" (valid: timestamp, tick, proto,`},
		{Options{Fields: []string{"comm", "comm"}}, "named twice"},
		{Options{Fields: []string{}}, "no fields"},
		{Options{Time: "iso"}, `unknown time format "iso" (want one of rfc3339, unix, unix_ms)`},
	} {
		_, err := NewWith("csv", &bytes.Buffer{}, tc.o)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("NewWith(%+v) = %v, want %q", tc.o, err, tc.want)
		}
	}
	if _, err := NewWith("csv", &bytes.Buffer{}, Options{Fields: []string{"x"}}); !errors.Is(err, ErrUnknownField) {
		t.Errorf("unknown field error %v is not ErrUnknownField", err)
	}
	// Grouped rows have their own names.
	if _, err := NewGroups("csv", &bytes.Buffer{}, []string{"comm"}, Options{Fields: []string{"comm", "pid"}}); err == nil || !strings.Contains(err.Error(), "(valid: timestamp, tick, comm, connections,") {
		t.Errorf("NewGroups with a flow field: %v", err)
	}
}

// groupTicks groups the golden ticks by keys.
func groupTicks(t *testing.T, keys []string) [][]conn.GroupRow {
	t.Helper()
	g, err := group.New(keys)
	if err != nil {
		t.Fatal(err)
	}
	var out [][]conn.GroupRow
	for _, rows := range ticks() {
		g.Begin()
		for i := range rows {
			g.Add(&rows[i])
		}
		var gs []conn.GroupRow
		_ = g.Each(func(gr *conn.GroupRow) error { gs = append(gs, *gr); return nil })
		out = append(out, gs)
	}
	return out
}

// TestGroupsGolden writes grouped rows in every format: by comm, and by
// remote address and port with --fields picking among the grouped names.
func TestGroupsGolden(t *testing.T) {
	for _, tc := range []struct {
		name   string
		keys   []string
		fields []string
	}{
		{"direction", []string{"direction"}, nil},
		{"remote", []string{"remote_addr", "remote_port"}, []string{"remote_addr", "remote_port", "connections", "bytes_in", "rate_in", "rtt_max_us"}},
	} {
		for _, format := range Formats() {
			t.Run(tc.name+"/"+format, func(t *testing.T) {
				var buf bytes.Buffer
				w, err := NewGroups(format, &buf, tc.keys, Options{Header: true, Fields: tc.fields})
				if err != nil {
					t.Fatal(err)
				}
				for _, gs := range groupTicks(t, tc.keys) {
					tick := Tick{N: 1, Time: ts1}
					if len(gs) > 0 {
						tick = Tick{N: gs[0].Row.Tick, Time: gs[0].Row.Timestamp}
					}
					if err := w.Begin(tick); err != nil {
						t.Fatal(err)
					}
					for i := range gs {
						if err := w.Group(&gs[i]); err != nil {
							t.Fatal(err)
						}
					}
					if err := w.End(); err != nil {
						t.Fatal(err)
					}
				}
				golden(t, "group-"+tc.name+"."+format+".golden", buf.String())
			})
		}
	}
}

func statsFixture() *conn.Stats {
	return &conn.Stats{Type: "stats", Timestamp: ts1, Tick: 1, Rows: 4, Flows: 40, TCPFlows: 31, UDPFlows: 9,
		TCPTableEntries: 33, TCPTableSize: 262144, UDPTableEntries: 9, UDPTableSize: 131072,
		TCPUntracked: 0, UDPDropped: 2, HotListFull: 1, EventsLost: 0, TicksLate: 1, TicksJoined: 3,
		CPUMillis: 1250, RSSBytes: 41 << 20}
}

// TestStatsGolden: a tick of rows ends with its stats record, in NDJSON,
// for rows and for grouped rows; a tick without rows still has it.
func TestStatsGolden(t *testing.T) {
	var buf bytes.Buffer
	w, _ := NewWith("ndjson", &buf, Options{Fields: []string{"tick", "comm"}, Time: TimeUnixMs})
	sw := w.(StatsWriter)
	s := statsFixture()
	for _, rows := range ticks() {
		if err := w.Begin(Tick{}); err != nil {
			t.Fatal(err)
		}
		for i := range rows {
			_ = w.Row(&rows[i])
		}
		s.Rows = int64(len(rows))
		if err := sw.Stats(s); err != nil {
			t.Fatal(err)
		}
		s.Tick++
		if err := w.End(); err != nil {
			t.Fatal(err)
		}
	}
	gw, _ := NewGroups("ndjson", &buf, []string{"comm"}, Options{Fields: []string{"comm", "connections"}})
	_ = gw.Begin(Tick{})
	for _, g := range groupTicks(t, []string{"comm"})[0] {
		_ = gw.Group(&g)
	}
	if err := gw.(StatsWriter).Stats(statsFixture()); err != nil {
		t.Fatal(err)
	}
	_ = gw.End()
	golden(t, "stats.ndjson.golden", buf.String())
	for _, format := range []string{"csv", "text"} {
		gw, _ := NewGroups(format, &bytes.Buffer{}, []string{"comm"}, Options{})
		if err := gw.(StatsWriter).Stats(statsFixture()); err == nil {
			t.Errorf("%s carried a stats record", format)
		}
	}
}

// TestStampRFC3339 checks the fast rfc3339 path against time.Format on
// times from year 1 to 9999, before and after 1970, and runs of times of
// one day (where only the clock is formatted).
func TestStampRFC3339(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	var s stamp
	times := []time.Time{{}, time.Unix(0, 0), time.Unix(-1, 999999999), time.Unix(-86400, 0),
		time.Date(2024, 2, 29, 23, 59, 59, 999999999, time.UTC), time.Date(9999, 12, 31, 23, 59, 59, 0, time.FixedZone("X", -3600))}
	for range 20000 {
		base := time.Unix(rng.Int64N(253402300799+62135596800)-62135596800, rng.Int64N(1e9))
		times = append(times, base, base.Add(time.Duration(rng.Int64N(3600e9))), base.Add(-time.Duration(rng.Int64N(3600e9))))
	}
	for _, tm := range times {
		want := tm.UTC().Format(timestampLayout)
		if got := string(s.append(nil, tm)); got != want {
			t.Fatalf("%v: %s, want %s", tm, got, want)
		}
	}
}

func BenchmarkStampStarts(b *testing.B) {
	t0 := time.Date(2026, 11, 26, 5, 47, 55, 123456789, time.UTC)
	var s stamp
	buf := make([]byte, 0, 64)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		buf = s.append(buf[:0], t0.Add(time.Duration(i)*time.Millisecond))
	}
}
