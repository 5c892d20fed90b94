package run

import (
	"bytes"
	"errors"
	"github.com/tcptop/tcptop/internal/agg"
	"github.com/tcptop/tcptop/internal/conn"
	"github.com/tcptop/tcptop/internal/emit"
	"github.com/tcptop/tcptop/internal/filter"
	"github.com/tcptop/tcptop/internal/source"
	"slices"
	"testing"
	"time"
)

// rowsWriter records the pids of the rows it is given.
type rowsWriter struct{ pids []int }

func (w *rowsWriter) Begin(emit.Tick) error { return nil }
func (w *rowsWriter) Row(r *conn.Row) error { w.pids = append(w.pids, r.PID); return nil }
func (w *rowsWriter) End() error            { return nil }

func TestSinkSortAndTop(t *testing.T) {
	rows := []conn.Row{{PID: 1, RTTMicros: 30}, {PID: 2, RTTMicros: 10}, {PID: 3, RTTMicros: 20}, {PID: 4, RTTMicros: 40}}
	for _, tt := range []struct {
		sort string
		top  int
		want []int
	}{
		{"", 0, []int{1, 2, 3, 4}}, // as the aggregator ordered them
		{"", 2, []int{1, 2}},       // --top alone: the first N, as they come
		{"rtt_us", 0, []int{4, 1, 3, 2}},
		{"-rtt_us", 3, []int{2, 3, 1}},
	} {
		order, err := agg.ParseOrder(tt.sort)
		if err != nil {
			t.Fatal(err)
		}
		var w rowsWriter
		var s sink = &streamSink{w: &w, top: tt.top}
		if !order.IsZero() {
			s = &rankSink{rank: agg.NewRanker(order, tt.top), out: streamSink{w: &w}}
		}
		for tick := range 2 { // the second tick starts afresh
			w.pids = nil
			if err := s.begin(emit.Tick{}); err != nil {
				t.Fatal(err)
			}
			var err error
			for i := range rows {
				if err = s.row(&rows[i]); err != nil {
					break
				}
			}
			if err != nil && !errors.Is(err, errEnough) {
				t.Fatal(err)
			}
			if n, err := s.flush(); err != nil || n != int64(len(tt.want)) {
				t.Fatalf("flush: %d rows, %v; want %d", n, err, len(tt.want))
			}
			if !slices.Equal(w.pids, tt.want) {
				t.Errorf("--sort %q --top %d, tick %d: %v, want %v", tt.sort, tt.top, tick, w.pids, tt.want)
			}
		}
	}
}

func TestUseScreen(t *testing.T) {
	var pipe bytes.Buffer // not a terminal
	for _, tt := range []struct {
		screen, output string
		want           bool
	}{
		{"auto", "text", false}, // into a pipe: the stream
		{"never", "text", false},
		{"always", "text", true},
		{"auto", "ndjson", false},
	} {
		if got := useScreen(&Config{Screen: tt.screen, Output: tt.output}, &pipe); got != tt.want {
			t.Errorf("--screen=%s -o %s to a pipe: screen %v, want %v", tt.screen, tt.output, got, tt.want)
		}
	}
}

func TestDropsText(t *testing.T) {
	for _, tt := range []struct {
		st   source.Stats
		want string
	}{
		{source.Stats{}, ""},
		{source.Stats{EventsLost: 3, HotListFull: 2}, ""}, // recovered from: not drops
		{source.Stats{TCPUntracked: 2}, "kernel drops: 2 conns untracked"},
		{source.Stats{TCPUntracked: 2, UDPTableFull: 7}, "kernel drops: 2 conns untracked, 7 datagrams uncounted"},
	} {
		if got := dropsText(tt.st); got != tt.want {
			t.Errorf("dropsText(%+v) = %q, want %q", tt.st, got, tt.want)
		}
	}
}

func TestLogSinkHoldsLinesWhileDiverted(t *testing.T) {
	var stderr bytes.Buffer
	sink := &logSink{w: &stderr}
	log := newLogger(sink)
	log.Printf("before")
	var held []string
	sink.divert(func(line string) { held = append(held, line) })
	log.Printf("during %d", 1)
	log.Printf("during %d", 2)
	sink.divert(nil)
	log.Printf("after")
	if stderr.String() != "tcptop: before\ntcptop: after\n" || !slices.Equal(held, []string{"tcptop: during 1", "tcptop: during 2"}) {
		t.Errorf("stderr %q, held %q", stderr.String(), held)
	}
}

// TestPanicInTicksRestoresFirst: a panic in the ticks goroutine, which
// Run's deferred calls do not see, gives the terminal back, then goes on.
func TestPanicInTicksRestoresFirst(t *testing.T) {
	restored := false
	tk := &ticker{onPanic: func() { restored = true }}
	defer func() {
		if r := recover(); r != "boom" || !restored {
			t.Errorf("recovered %v, restored %v: want the panic to go on after the restore", r, restored)
		}
	}()
	func() {
		defer tk.repanic()
		panic("boom")
	}()
}

// fixedLog is a Logger at a fixed time.
func fixedLog(w *bytes.Buffer, format string) Logger {
	l := NewLogger(w, format)
	l.now = func() time.Time { return time.Date(2026, 11, 26, 5, 47, 55, 123456789, time.FixedZone("X", 3600)) }
	return l
}

// TestLogJSON checks the JSON lines byte for byte: time, level, msg (as
// every message, escaped: a newline is \x0a, then JSON's escapes), one
// object per line.
func TestLogJSON(t *testing.T) {
	var b bytes.Buffer
	l := fixedLog(&b, "json")
	l.Printf("%d UDP datagrams not counted: flow table full", 3)
	l.Infof("attached %s path", "tracepoint")
	l.Errorf("open %q: <denied> \"quoted\"\n", "/sys/fs/bpf")
	want := `{"time":"2026-11-26T04:47:55.123456Z","level":"warn","msg":"3 UDP datagrams not counted: flow table full"}
{"time":"2026-11-26T04:47:55.123456Z","level":"info","msg":"attached tracepoint path"}
{"time":"2026-11-26T04:47:55.123456Z","level":"error","msg":"open \"/sys/fs/bpf\": <denied> \"quoted\"\\x0a"}
`
	if b.String() != want {
		t.Errorf("got\n%s\nwant\n%s", b.String(), want)
	}
	b.Reset()
	fixedLog(&b, "text").Printf("%d ticks joined", 2)
	if b.String() != "tcptop: 2 ticks joined\n" {
		t.Errorf("text line %q", b.String())
	}
}

// TestStatsOnStderr: CSV and text cannot carry the stats record; it is a
// log line, text or JSON.
func TestStatsOnStderr(t *testing.T) {
	s := &conn.Stats{Type: "stats", Timestamp: time.Date(2026, 11, 26, 5, 47, 55, 123456789, time.UTC), Tick: 3, Rows: 12,
		Flows: 40, TCPFlows: 31, UDPFlows: 9, TCPTableEntries: 33, TCPTableSize: 262144, UDPTableEntries: 9, UDPTableSize: 131072,
		UDPDropped: 2, TicksJoined: 1, CPUMillis: 250, RSSBytes: 1 << 25}
	var b bytes.Buffer
	fixedLog(&b, "text").stats(s, "")
	want := "tcptop: stats timestamp=2026-11-26T05:47:55.123456Z tick=3 rows=12 flows=40 tcp_flows=31 udp_flows=9 " +
		"tcp_table_entries=33 tcp_table_size=262144 udp_table_entries=9 udp_table_size=131072 tcp_untracked=0 udp_dropped=2 " +
		"hot_list_full=0 events_lost=0 closes_inferred=0 drops_unattributed=0 kprobe_runs_skipped=0 ticks_late=0 ticks_joined=1 cpu_ms=250 rss_bytes=33554432\n"
	if b.String() != want {
		t.Errorf("text:\n got %q\nwant %q", b.String(), want)
	}
	b.Reset()
	fixedLog(&b, "json").stats(s, emit.TimeUnix)
	want = `{"time":"2026-11-26T04:47:55.123456Z","level":"info","msg":"stats","type":"stats","timestamp":1795672075.123456,"tick":3,"rows":12,` +
		`"flows":40,"tcp_flows":31,"udp_flows":9,"tcp_table_entries":33,"tcp_table_size":262144,"udp_table_entries":9,"udp_table_size":131072,` +
		`"tcp_untracked":0,"udp_dropped":2,"hot_list_full":0,"events_lost":0,"closes_inferred":0,"drops_unattributed":0,"kprobe_runs_skipped":0,"ticks_late":0,"ticks_joined":1,"cpu_ms":250,"rss_bytes":33554432}` + "\n"
	if b.String() != want {
		t.Errorf("json:\n got %s\nwant %s", b.String(), want)
	}
}

// TestLateness: a tick is late when its read comes more than half an
// interval after it was due; ticks joined in between move what is due.
func TestLateness(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	h := newHealth(time.Second, t0)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	for _, step := range []struct {
		readMs int
		joined int64
		late   int64
	}{
		{1010, 0, 0},  // on time
		{2400, 0, 0},  // 390 ms late: not yet
		{3950, 0, 1},  // 550 ms after 3400
		{7000, 2, 1},  // two ticks joined: due at 6950
		{9000, 2, 2},  // due at 8000
		{10001, 2, 2}, // on time
	} {
		if got := h.lateness(at(step.readMs), step.joined); got != step.late {
			t.Errorf("read at %d ms: %d late, want %d", step.readMs, got, step.late)
		}
	}
}

func TestVmRSS(t *testing.T) {
	status := "Name:\ttcptop\nVmPeak:\t  80000 kB\nVmRSS:\t   41984 kB\nRssAnon:\t 30000 kB\n"
	if got := vmRSS([]byte(status)); got != 41984<<10 {
		t.Errorf("vmRSS = %d", got)
	}
	if rssBytes() <= 0 || cpuMillis() < 0 {
		t.Errorf("rss %d, cpu %d of this process", rssBytes(), cpuMillis())
	}
}

// TestPipeGroups runs rows through the pipe with --where and --group-by:
// the filter picks the flows, the groups are written at the end of the
// tick, counted, then the stats record.
func TestPipeGroups(t *testing.T) {
	flt, err := filter.Compile(`proto == "tcp"`)
	if err != nil {
		t.Fatal(err)
	}
	cfg := &Config{Output: "ndjson", Filter: flt, Header: true, GroupBy: []string{"comm"}, Fields: []string{"comm", "connections", "bytes_out"}, Stats: true}
	var out, logs bytes.Buffer
	p, err := newPipe(cfg, &out, fixedLog(&logs, "text"))
	if err != nil {
		t.Fatal(err)
	}
	ts := time.Date(2026, 11, 26, 5, 47, 55, 0, time.UTC)
	if err := p.begin(emit.Tick{N: 1, Time: ts}); err != nil {
		t.Fatal(err)
	}
	for _, r := range []conn.Row{
		{Proto: "tcp", Comm: "nginx", BytesOut: 100},
		{Proto: "udp", Comm: "nginx", BytesOut: 1000},
		{Proto: "tcp", Comm: "curl", BytesOut: 7},
		{Proto: "tcp", Comm: "nginx", BytesOut: 20},
	} {
		if err := p.row(&r); err != nil {
			t.Fatal(err)
		}
	}
	var written int64
	err = p.end(func(n int64) *conn.Stats {
		written = n
		return &conn.Stats{Type: "stats", Timestamp: ts, Tick: 1, Rows: n}
	})
	if err != nil {
		t.Fatal(err)
	}
	want := `{"comm":"curl","connections":1,"bytes_out":7}
{"comm":"nginx","connections":2,"bytes_out":120}
{"type":"stats","timestamp":"2026-11-26T05:47:55.000000Z","tick":1,"rows":2,"flows":0,"tcp_flows":0,"udp_flows":0,"tcp_table_entries":0,"tcp_table_size":0,"udp_table_entries":0,"udp_table_size":0,"tcp_untracked":0,"udp_dropped":0,"hot_list_full":0,"events_lost":0,"closes_inferred":0,"drops_unattributed":0,"kprobe_runs_skipped":0,"ticks_late":0,"ticks_joined":0,"cpu_ms":0,"rss_bytes":0}
`
	if out.String() != want || written != 2 || logs.Len() != 0 {
		t.Errorf("output\n%s\nwant\n%s(written %d, logs %q)", out.String(), want, written, logs.String())
	}
}

// TestNeedsCommunityID: the aggregator keeps digests only when rows need
// community_id.
func TestNeedsCommunityID(t *testing.T) {
	where := func(s string) *filter.Filter { f, _ := filter.Compile(s); return f }
	for _, tc := range []struct {
		fields, groupBy []string
		where           string
		want            bool
	}{
		{nil, nil, "", true},
		{[]string{"comm"}, nil, "", false},
		{[]string{"comm", "community_id"}, nil, "", true},
		{[]string{"comm"}, nil, `community_id != ""`, true},
		{nil, []string{"comm"}, "", false},
		{nil, []string{"community_id"}, "", true},
	} {
		if got := needsCommunityID(&Config{Fields: tc.fields, GroupBy: tc.groupBy, Filter: where(tc.where)}); got != tc.want {
			t.Errorf("fields %v group-by %v where %q: %v, want %v", tc.fields, tc.groupBy, tc.where, got, tc.want)
		}
	}
}

// TestPipeTopGroups: --top keeps the first N grouped rows, in their order.
func TestPipeTopGroups(t *testing.T) {
	cfg := &Config{Output: "csv", Top: 2, Filter: &filter.Filter{}, GroupBy: []string{"comm"}, Fields: []string{"comm", "connections", "rate_out"}}
	var out bytes.Buffer
	p, err := newPipe(cfg, &out, fixedLog(&bytes.Buffer{}, "text"))
	if err != nil {
		t.Fatal(err)
	}
	for tick := range 2 {
		if err := p.begin(emit.Tick{N: int64(tick + 1)}); err != nil {
			t.Fatal(err)
		}
		for _, r := range []conn.Row{{Comm: "a", RateOut: 1}, {Comm: "b", RateOut: 30}, {Comm: "c", RateOut: 2}, {Comm: "b", RateOut: 5}} {
			if err := p.row(&r); err != nil {
				t.Fatal(err)
			}
		}
		if err := p.end(nil); err != nil {
			t.Fatal(err)
		}
	}
	if want := "b,2,35\nc,1,2\nb,2,35\nc,1,2\n"; out.String() != want {
		t.Errorf("got %q, want %q", out.String(), want)
	}
}
