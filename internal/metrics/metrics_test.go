package metrics

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tcptop/tcptop/internal/conn"
	"github.com/tcptop/tcptop/internal/testnet"
)

var t0 = time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)

// tickAt is the read time of tick n, a second apart.
func tickAt(n int) time.Time { return t0.Add(time.Duration(n) * time.Second) }

func tcpRow(tick int, rport int, comm string) conn.Row {
	return conn.Row{Timestamp: tickAt(tick), Tick: int64(tick), Proto: "tcp", Comm: comm, RemotePort: rport, ServicePort: rport,
		Direction: "out", LocalAddr: netip.MustParseAddr("127.0.0.1"), RemoteAddr: netip.MustParseAddr("127.0.0.1"),
		LocalPort: 40000, Start: tickAt(tick).Add(-300 * time.Millisecond)}
}

// serve serves s on a free loopback port and returns its URL.
func serve(t *testing.T, s *Sink) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := Serve(ln, s)
	t.Cleanup(func() {
		if err := srv.Close(); err != nil {
			t.Error(err)
		}
	})
	return "http://" + ln.Addr().String() + Path
}

// scrape gets url as the format accept names ("" for the classic text).
func scrape(t *testing.T, url, accept string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

// values reads the samples of a classic text scrape: `name{labels}` → value.
func values(t *testing.T, text string) map[string]float64 {
	t.Helper()
	out := map[string]float64{}
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		l := sc.Text()
		if l == "" || l[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(l, ' ')
		v, err := strconv.ParseFloat(l[i+1:], 64)
		if err != nil {
			t.Fatalf("sample %q: %v", l, err)
		}
		out[l[:i]] = v
	}
	return out
}

func newSink(t *testing.T, cfg Config) *Sink {
	t.Helper()
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestCountersKeepClosedBytes: counters add each tick's deltas, a
// connection's bytes stay after its closed record and after it is gone,
// a connection counts as opened once over the ticks it shows in, and a
// UDP flow that expires takes nothing away.
func TestCountersKeepClosedBytes(t *testing.T) {
	s := newSink(t, Config{MaxSeries: 10})
	url := serve(t, s)
	if code, _ := scrape(t, url, ""); code != http.StatusServiceUnavailable {
		t.Fatalf("before the first tick: status %d, want 503", code)
	}
	a1 := tcpRow(1, 80, "curl")
	a1.BytesOutDelta, a1.BytesInDelta, a1.PacketsOutDelta, a1.RTTMicros = 100, 5000, 2, 1500
	b1 := tcpRow(1, 80, "curl")
	b1.LocalPort, b1.BytesOutDelta = 40001, 7
	u1 := conn.Row{Timestamp: tickAt(1), Proto: "udp", Comm: "dig", RemotePort: 53, ServicePort: 53, Direction: "out", BytesOutDelta: 40, BytesInDelta: 120, Start: tickAt(1)}
	s.Row(&a1)
	s.Row(&b1)
	s.Row(&u1)
	s.EndTick(Health{Read: tickAt(1), Took: time.Millisecond, Stats: conn.Stats{TCPFlows: 2, UDPFlows: 1, TCPTableSize: 65536, EventsLost: 3}})
	// Tick 2: a closes with more bytes and an error; b is idle (a row
	// with no deltas, as without --changed); the UDP flow expired (no row).
	a2 := a1
	a2.Timestamp, a2.Tick, a2.BytesOutDelta, a2.BytesInDelta, a2.PacketsOutDelta, a2.RTTMicros = tickAt(2), 2, 11, 0, 1, 2500
	a2.Closed, a2.Error = true, "reset"
	b2 := b1
	b2.Timestamp, b2.Tick, b2.BytesOutDelta = tickAt(2), 2, 0
	s.Row(&a2)
	s.Row(&b2)
	s.EndTick(Health{Read: tickAt(2), Took: 2 * time.Millisecond})
	// Tick 3: b is still there, with nothing new.
	b3 := b2
	b3.Timestamp, b3.Tick = tickAt(3), 3
	s.Row(&b3)
	s.EndTick(Health{Read: tickAt(3), Took: time.Millisecond})

	_, text := scrape(t, url, "")
	got := values(t, text)
	curl := `{comm="curl",direction="out",proto="tcp",service_port="80"}`
	dig := `{comm="dig",direction="out",proto="udp",service_port="53"}`
	for name, want := range map[string]float64{
		"tcptop_sent_bytes_total" + curl:         118,
		"tcptop_received_bytes_total" + curl:     5000,
		"tcptop_sent_packets_total" + curl:       3,
		"tcptop_connections_opened_total" + curl: 2,
		"tcptop_connections_closed_total" + curl: 1,
		"tcptop_connections_failed_total" + curl: 1,
		"tcptop_sent_bytes_total" + dig:          40,
		"tcptop_received_bytes_total" + dig:      120,
		"tcptop_connections_opened_total" + dig:  0,
		"tcptop_rtt_seconds_count" + curl:        2,
		"tcptop_rtt_seconds_sum" + curl:          0.004,
		`tcptop_rtt_seconds_bucket{comm="curl",direction="out",proto="tcp",service_port="80",le="0.0025"}`: 2,
		`tcptop_rtt_seconds_bucket{comm="curl",direction="out",proto="tcp",service_port="80",le="0.001"}`:  0,
		"tcptop_ticks_total":                 3,
		"tcptop_rows_total":                  6,
		"tcptop_metrics_series":              2,
		"tcptop_metrics_overflow_rows_total": 0,
		"tcptop_tick_duration_seconds_count": 3,
		`tcptop_flows{proto="tcp"}`:          0, // tick 3's stats
	} {
		if v, ok := got[name]; !ok || v != want {
			t.Errorf("%s = %v (present %v), want %v", name, v, ok, want)
		}
	}
}

// TestMaxSeriesUnder5000Ports: 5,000 distinct remote ports make at most
// --max-series label sets; the rest are counted, exactly, in other.
func TestMaxSeriesUnder5000Ports(t *testing.T) {
	var warned []string
	s := newSink(t, Config{MaxSeries: 100, Warn: func(f string, a ...any) { warned = append(warned, f) }})
	url := serve(t, s)
	for tick := 1; tick <= 2; tick++ {
		for p := range 5000 {
			r := tcpRow(tick, 10000+p, "scan")
			r.BytesOutDelta = 1
			s.Row(&r)
		}
		s.EndTick(Health{Read: tickAt(tick)})
	}
	_, text := scrape(t, url, "")
	got := values(t, text)
	n := 0
	for k := range got {
		if strings.HasPrefix(k, "tcptop_sent_bytes_total{") {
			n++
		}
	}
	other := `{comm="other",direction="other",proto="other",service_port="other"}`
	switch {
	case n != 100:
		t.Errorf("%d label sets, want 100", n)
	case got["tcptop_metrics_series"] != 100:
		t.Errorf("tcptop_metrics_series = %v, want 100", got["tcptop_metrics_series"])
	case got["tcptop_sent_bytes_total"+other] != 2*4901:
		t.Errorf("other's bytes = %v, want %d", got["tcptop_sent_bytes_total"+other], 2*4901)
	case got["tcptop_metrics_overflow_rows_total"] != 2*4901:
		t.Errorf("overflow rows = %v, want %d", got["tcptop_metrics_overflow_rows_total"], 2*4901)
	case len(warned) != 1:
		t.Errorf("warned %d times, want once", len(warned))
	}
}

// TestOpenings: a connection counts as opened at its first row only,
// even when it first shows a tick after it started (it opened during a
// read); a partial one, and UDP, never.
func TestOpenings(t *testing.T) {
	o := newOpenings()
	late := tcpRow(2, 1, "x")
	late.Start = tickAt(1).Add(-time.Millisecond) // opened just before tick 1's read, shown in tick 2
	partial := tcpRow(1, 2, "x")
	partial.Partial, partial.Start = true, tickAt(1)
	fresh := tcpRow(1, 3, "x")
	var got []bool
	for tick := 1; tick <= 4; tick++ {
		for _, r := range []conn.Row{fresh, partial} {
			got = append(got, o.first(&r))
		}
		if tick >= 2 {
			got = append(got, o.first(&late))
		}
		o.endTick(tickAt(tick))
	}
	want := "true false false false true false false false false false false"
	if s := fmtBools(got); s != want {
		t.Errorf("first = %s, want %s", s, want)
	}
}

func fmtBools(b []bool) string {
	s := make([]string, len(b))
	for i, v := range b {
		s[i] = strconv.FormatBool(v)
	}
	return strings.Join(s, " ")
}

// TestOpenMetricsAndPromtool: Prometheus is served OpenMetrics (ending in
// # EOF), and promtool check metrics finds nothing wrong with a scrape.
func TestOpenMetricsAndPromtool(t *testing.T) {
	promtool := testnet.RequireTool(t, "promtool", "--version")
	s := newSink(t, Config{Labels: []string{"proto", "comm", "remote_addr", "remote_port"}, MaxSeries: 3})
	url := serve(t, s)
	for i, comm := range []string{"curl", "evil\x1b[2J\"\\", "nginx"} {
		r := tcpRow(1, 443+i, comm)
		r.BytesOutDelta, r.RTTMicros = 10, 30
		s.Row(&r)
	}
	s.EndTick(Health{Read: tickAt(1), Took: time.Millisecond})
	_, om := scrape(t, url, "application/openmetrics-text;version=1.0.0")
	if !strings.HasSuffix(om, "# EOF\n") || !strings.Contains(om, "# TYPE tcptop_sent_bytes counter\n") {
		t.Errorf("not OpenMetrics:\n%s", om)
	}
	_, text := scrape(t, url, "")
	if !strings.Contains(text, `comm="evil\\x1b[2J\"\\x5c"`) {
		t.Errorf("the escaped comm is not a label value:\n%s", text)
	}
	cmd := exec.Command(promtool, "check", "metrics")
	cmd.Stdin = strings.NewReader(text)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("promtool check metrics: %v\n%s", err, out)
	}
}

// TestNewRefuses: labels --group-by would refuse, and no room for series.
func TestNewRefuses(t *testing.T) {
	for _, cfg := range []Config{
		{Labels: []string{"bytes_in"}, MaxSeries: 10},
		{Labels: []string{"nope"}, MaxSeries: 10},
		{MaxSeries: 0},
	} {
		if _, err := New(cfg); err == nil {
			t.Errorf("New(%+v) accepted", cfg)
		}
	}
}
