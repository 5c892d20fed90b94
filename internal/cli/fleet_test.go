package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/tcptop/tcptop/internal/agg"
	"github.com/tcptop/tcptop/internal/conn"
	"github.com/tcptop/tcptop/internal/emit"
	"github.com/tcptop/tcptop/internal/filter"
)

// TestHeaderWanted: --header=auto writes the header unless stdout appends
// (O_APPEND, >>) to a regular file with something in it; always and
// never, and --no-header.
func TestHeaderWanted(t *testing.T) {
	dir := t.TempDir()
	empty, _ := os.Create(filepath.Join(dir, "empty.csv"))
	full, _ := os.Create(filepath.Join(dir, "full.csv"))
	full.WriteString("timestamp,tick\n")
	appending, _ := os.OpenFile(full.Name(), os.O_WRONLY|os.O_APPEND, 0)
	appendingEmpty, _ := os.OpenFile(empty.Name(), os.O_WRONLY|os.O_APPEND, 0)
	pr, pw, _ := os.Pipe()
	devnull, _ := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	for _, f := range []*os.File{empty, full, appending, appendingEmpty, pr, pw, devnull} {
		defer f.Close()
	}
	for _, tc := range []struct {
		name     string
		header   string
		noHeader bool
		stdout   any
		want     bool
	}{
		{"auto, an empty file", "auto", false, empty, true},
		{"auto, > after other output", "auto", false, full, true},
		{"auto, >> to a file with a header", "auto", false, appending, false},
		{"auto, >> to an empty file", "auto", false, appendingEmpty, true},
		{"auto, a pipe", "auto", false, pw, true},
		{"auto, /dev/null", "auto", false, devnull, true},
		{"auto, not a file", "auto", false, &bytes.Buffer{}, true},
		{"always, a file with a header", "always", false, full, true},
		{"never, an empty file", "never", false, empty, false},
		{"--no-header", "auto", true, pw, false},
		{"--no-header and never", "never", true, pw, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := &Options{NoHeader: tc.noHeader}
			o.Header = tc.header
			w, _ := tc.stdout.(interface{ Write([]byte) (int, error) })
			got, err := headerWanted(o, w)
			if err != nil || got != tc.want {
				t.Errorf("headerWanted = %v, %v; want %v", got, err, tc.want)
			}
		})
	}
	o := &Options{NoHeader: true}
	o.Header = "always"
	if _, err := headerWanted(o, pw); err == nil {
		t.Error("--no-header --header=always accepted")
	}
}

func TestBareFields(t *testing.T) {
	for _, tc := range []struct{ in, want []string }{
		{[]string{"--fields"}, []string{"--list-fields"}},
		{[]string{"--fields", "-o", "csv"}, []string{"--list-fields", "-o", "csv"}},
		{[]string{"--fields", "comm,pid"}, []string{"--fields", "comm,pid"}},
		{[]string{"--fields=comm"}, []string{"--fields=comm"}},
		{[]string{"-w", "x", "--", "--fields"}, []string{"-w", "x", "--", "--fields"}},
	} {
		if got := bareFields(tc.in); !slices.Equal(got, tc.want) {
			t.Errorf("bareFields(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// fixedLog is a logger at a fixed time.
func fixedLog(w *bytes.Buffer, format string) logger {
	l := newLogFormat(w, format)
	l.now = func() time.Time { return time.Date(2026, 11, 26, 5, 47, 55, 123456789, time.FixedZone("X", 3600)) }
	return l
}

// TestLogJSON checks the JSON lines byte for byte: time, level, msg (as
// every message, escaped: a newline is \x0a, then JSON's escapes), one
// object per line.
func TestLogJSON(t *testing.T) {
	var b bytes.Buffer
	l := fixedLog(&b, "json")
	l.printf("%d UDP datagrams not counted: flow table full", 3)
	l.infof("attached %s path", "tracepoint")
	l.errorf("open %q: <denied> \"quoted\"\n", "/sys/fs/bpf")
	want := `{"time":"2026-11-26T04:47:55.123456Z","level":"warn","msg":"3 UDP datagrams not counted: flow table full"}
{"time":"2026-11-26T04:47:55.123456Z","level":"info","msg":"attached tracepoint path"}
{"time":"2026-11-26T04:47:55.123456Z","level":"error","msg":"open \"/sys/fs/bpf\": <denied> \"quoted\"\\x0a"}
`
	if b.String() != want {
		t.Errorf("got\n%s\nwant\n%s", b.String(), want)
	}
	b.Reset()
	fixedLog(&b, "text").printf("%d ticks joined", 2)
	if b.String() != "tcptop: 2 ticks joined\n" {
		t.Errorf("text line %q", b.String())
	}
}

func TestLogFor(t *testing.T) {
	for _, tc := range []struct {
		args []string
		env  string
		json bool
	}{
		{[]string{"--log-format=json", "--bogus"}, "", true},
		{[]string{"--bogus", "--log-format", "json"}, "", true},
		{[]string{"--bogus"}, "json", true},
		{[]string{"--log-format=text"}, "json", false},
		{[]string{"--", "--log-format=json"}, "", false},
	} {
		t.Setenv("TCPTOP_LOG_FORMAT", tc.env)
		if got := logFor(tc.args, &bytes.Buffer{}).json; got != tc.json {
			t.Errorf("logFor(%q) with TCPTOP_LOG_FORMAT=%q: json %v, want %v", tc.args, tc.env, got, tc.json)
		}
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
		"hot_list_full=0 events_lost=0 ticks_late=0 ticks_joined=1 cpu_ms=250 rss_bytes=33554432\n"
	if b.String() != want {
		t.Errorf("text:\n got %q\nwant %q", b.String(), want)
	}
	b.Reset()
	fixedLog(&b, "json").stats(s, emit.TimeUnix)
	want = `{"time":"2026-11-26T04:47:55.123456Z","level":"info","msg":"stats","type":"stats","timestamp":1795672075.123456,"tick":3,"rows":12,` +
		`"flows":40,"tcp_flows":31,"udp_flows":9,"tcp_table_entries":33,"tcp_table_size":262144,"udp_table_entries":9,"udp_table_size":131072,` +
		`"tcp_untracked":0,"udp_dropped":2,"hot_list_full":0,"events_lost":0,"ticks_late":0,"ticks_joined":1,"cpu_ms":250,"rss_bytes":33554432}` + "\n"
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
	opts := &Options{Output: "ndjson"}
	opts.GroupBy, opts.Fields, opts.Stats = []string{"comm"}, []string{"comm", "connections", "bytes_out"}, true
	var out, logs bytes.Buffer
	p, err := newPipe(opts, flt, agg.Order{}, &out, true, fixedLog(&logs, "text"))
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
{"type":"stats","timestamp":"2026-11-26T05:47:55.000000Z","tick":1,"rows":2,"flows":0,"tcp_flows":0,"udp_flows":0,"tcp_table_entries":0,"tcp_table_size":0,"udp_table_entries":0,"udp_table_size":0,"tcp_untracked":0,"udp_dropped":0,"hot_list_full":0,"events_lost":0,"ticks_late":0,"ticks_joined":0,"cpu_ms":0,"rss_bytes":0}
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
		o := &Options{}
		o.Fields, o.GroupBy = tc.fields, tc.groupBy
		if got := needsCommunityID(o, where(tc.where)); got != tc.want {
			t.Errorf("fields %v group-by %v where %q: %v, want %v", tc.fields, tc.groupBy, tc.where, got, tc.want)
		}
	}
}

// TestPipeTopGroups: --top keeps the first N grouped rows, in their order.
func TestPipeTopGroups(t *testing.T) {
	opts := &Options{Output: "csv", Top: 2}
	opts.GroupBy, opts.Fields = []string{"comm"}, []string{"comm", "connections", "rate_out"}
	var out bytes.Buffer
	p, err := newPipe(opts, &filter.Filter{}, agg.Order{}, &out, false, fixedLog(&bytes.Buffer{}, "text"))
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
