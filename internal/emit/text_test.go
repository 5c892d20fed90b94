package emit

import (
	"bytes"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/tcptop/tcptop/internal/conn"
)

// span is where a column sits on a line, in runes: the left edge of a
// left-aligned column, the right edge of a right-aligned one.
type span struct {
	edge  int
	right bool
}

// headerSpans locates each column name on a header line.
func headerSpans(t *testing.T, header string) []span {
	t.Helper()
	spans := make([]span, len(textLayout("")))
	from := 0
	for j, c := range textLayout("") {
		i := strings.Index(header[from:], c.name)
		if i < 0 {
			t.Fatalf("header %q lacks %s", header, c.name)
		}
		start := utf8.RuneCountInString(header[:from+i])
		spans[j] = span{start, c.right}
		if c.right {
			spans[j].edge = start + len(c.name)
		}
		from += i + len(c.name)
	}
	return spans
}

// checkAligned checks that a line has a cell edge at every span: a
// non-blank rune inside the edge, blanks (at least the column gap) or the
// line's end outside it.
func checkAligned(t *testing.T, line string, spans []span) {
	t.Helper()
	r := []rune(line)
	blank := func(i int) bool { return i < 0 || i >= len(r) || r[i] == ' ' }
	for j, s := range spans {
		in, out := s.edge, s.edge-1 // left-aligned: the cell starts at edge
		if s.right {
			in, out = s.edge-1, s.edge // right-aligned: it ends just before edge
		}
		gapOK := s.right || j == 0 || (blank(out) && blank(out-1))
		if blank(in) || !blank(out) || !gapOK {
			t.Errorf("column %s is not at rune %d in\n%q", textLayout("")[j].name, s.edge, line)
		}
	}
}

// TestTextAligned checks, for each tick of the golden input, that every
// row lines up under the header above it, and that the header is printed
// again exactly when a column had to widen (the IPv6 tick).
func TestTextAligned(t *testing.T) {
	out := render(t, "text", true, ticks())
	var spans []span
	headers, ticks := 0, 0
	for _, line := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		switch {
		case strings.HasPrefix(line, "--- tick "):
			ticks++
		case strings.HasPrefix(line, "PROTO "):
			headers++
			spans = headerSpans(t, line)
		default:
			if spans == nil {
				t.Fatalf("row before any header: %q", line)
			}
			checkAligned(t, line, spans)
		}
		if strings.HasSuffix(line, " ") {
			t.Errorf("trailing blank: %q", line)
		}
	}
	if ticks != 2 || headers != 2 {
		t.Errorf("%d tick lines and %d headers, want 2 and 2 (the IPv6 tick widens columns)", ticks, headers)
	}
}

func TestTextNoHeader(t *testing.T) {
	out := render(t, "text", false, ticks())
	if strings.Contains(out, "PROTO") {
		t.Errorf("header printed with header=false:\n%s", out)
	}
	// Widths still grow: the IPv6 tick's rows are wider than the first's.
	lines := strings.Split(out, "\n")
	if len(lines[1]) >= len(lines[len(lines)-2]) {
		t.Errorf("columns did not widen:\n%s", out)
	}
}

func TestTextEscapes(t *testing.T) {
	rows := tick1()
	rows[0].Comm = "evil\nname\x7f\xff"
	rows[1].Comm = `C:\dir`
	out := render(t, "text", false, [][]conn.Row{rows})
	if strings.Count(out, "\n") != 1+len(rows) || !strings.Contains(out, `evil\x0aname\x7f\xff`) || !strings.Contains(out, `C:\x5cdir`) {
		t.Errorf("control characters, invalid UTF-8 or a backslash not escaped:\n%s", out)
	}
}

func TestAppendTextEscapesBlanks(t *testing.T) {
	for in, want := range map[string]string{
		"":            "-",
		"curl":        "curl",
		"Web Content": `Web\x20Content`,
		`a\x20b`:      `a\x5cx20b`, // a backslash is escaped: this is not a blank
		"tab\there":   `tab\x09here`,
		"nb\u00a0sp":  `nb\xc2\xa0sp`,
		"日本":          "日本",
		"bad\xffutf8": `bad\xffutf8`,
	} {
		if got := string(appendText(nil, in)); got != want {
			t.Errorf("appendText(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestTextFieldsForAwk checks that every row of the golden ticks, split
// on blanks as awk does, has one field per column and then its markers,
// even with a process name holding blanks.
func TestTextFieldsForAwk(t *testing.T) {
	rows := tick3()
	rows[0].Comm = "Web Content"
	out := render(t, "text", true, [][]conn.Row{rows})
	for _, line := range strings.Split(strings.TrimSuffix(out, "\n"), "\n")[1:] {
		f := strings.Fields(line)
		if len(f) < len(textLayout("")) {
			t.Fatalf("%d fields, want %d: %q", len(f), len(textLayout("")), line)
		}
		for _, m := range f[len(textLayout("")):] {
			if m != "[CLOSED]" && m != "[PARTIAL]" {
				t.Errorf("field %q after the columns is not a marker: %q", m, line)
			}
		}
		if f[0] != "PROTO" && f[0] != "tcp" && f[0] != "udp" {
			t.Errorf("field 1 is %q, not the protocol: %q", f[0], line)
		}
	}
	if !strings.Contains(out, `Web\x20Content`) {
		t.Errorf("blank in a name not escaped:\n%s", out)
	}
}

// TestTextHeaderOnEmptyFirstTick: an idle host shows that tcptop runs.
func TestTextHeaderOnEmptyFirstTick(t *testing.T) {
	rows := tick1()[:2]
	for i := range rows {
		rows[i].Tick = 3
	}
	out := render(t, "text", true, [][]conn.Row{nil, nil, rows})
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) != 3+2 || !strings.HasPrefix(lines[0], "--- tick 1 ") || !strings.HasSuffix(lines[0], " 0 flows ---") ||
		!strings.HasPrefix(lines[1], "PROTO ") || !strings.HasPrefix(lines[2], "--- tick 3 ") || strings.Count(out, "PROTO") != 1 {
		t.Errorf("want tick 1's line and the header, nothing for tick 2, tick 3's rows:\n%s", out)
	}
	if out := render(t, "text", false, [][]conn.Row{nil}); out != "" {
		t.Errorf("without a header an empty first tick wrote %q", out)
	}
}

func TestAppendSize(t *testing.T) {
	for _, tt := range []struct {
		v    float64
		want string
	}{
		{0, "0B"}, {1, "1B"}, {512, "512B"}, {1023, "1023B"}, {1023.6, "1.0KiB"},
		{1024, "1.0KiB"}, {1234, "1.2KiB"}, {10188, "9.9KiB"}, {10189, "10KiB"},
		{348160, "340KiB"}, {1048000, "1023KiB"}, {1048500, "1.0MiB"},
		{7654321, "7.3MiB"}, {1 << 30, "1.0GiB"}, {1 << 40, "1.0TiB"},
		{9223372036854775807, "8.0EiB"},
	} {
		if got := string(AppendSize(nil, tt.v, "")); got != tt.want {
			t.Errorf("AppendSize(%v) = %q, want %q", tt.v, got, tt.want)
		}
	}
	if got := string(AppendSize(nil, 348160, "/s")); got != "340KiB/s" {
		t.Errorf("rate = %q, want 340KiB/s", got)
	}
	if got := string(AppendSize(nil, 0, "/s")); got != "0B/s" {
		t.Errorf("zero rate = %q, want 0B/s", got)
	}
}

func TestAppendRTT(t *testing.T) {
	for _, tt := range []struct {
		us   int64
		want string
	}{
		{0, "-"}, {1, "1us"}, {850, "850us"}, {999, "999us"}, {1000, "1.0ms"},
		{12345, "12.3ms"}, {999_949, "999.9ms"}, {999_950, "1.00s"},
		{1_200_000, "1.20s"}, {65_000_000, "65.00s"},
	} {
		if got := string(AppendRTT(nil, tt.us)); got != tt.want {
			t.Errorf("AppendRTT(%d) = %q, want %q", tt.us, got, tt.want)
		}
	}
}

func TestAppendMillis(t *testing.T) {
	for ms, want := range map[int64]string{0: "0ms", 850: "850ms", 999: "999ms", 1000: "1.0s", 12_345: "12.3s",
		59_949: "59.9s", 59_950: "1m00s", 60_000: "1m00s", 245_000: "4m05s", 3_599_000: "59m59s", 3_599_999: "1h00m",
		3_600_000: "1h00m", 11_220_000: "3h07m", 360_000_000: "100h00m"} {
		if got := string(AppendMillis(nil, ms)); got != want {
			t.Errorf("AppendMillis(%d) = %s, want %s", ms, got, want)
		}
	}
}

func TestAppendHostPort(t *testing.T) {
	for _, tt := range []struct {
		addr string
		port int
		want string
	}{
		{"10.0.0.1", 443, "10.0.0.1:443"},
		{"2001:db8::1", 53, "[2001:db8::1]:53"},
		{"::", 0, "[::]:0"},
		{"::ffff:10.0.0.1", 80, "[::ffff:10.0.0.1]:80"}, // rows carry unmapped addresses; a mapped one shows as such
	} {
		if got := string(AppendHostPort(nil, ip(tt.addr), tt.port)); got != tt.want {
			t.Errorf("AppendHostPort(%q, %d) = %q, want %q", tt.addr, tt.port, got, tt.want)
		}
	}
}

func TestAppendSpaces(t *testing.T) {
	for _, n := range []int{0, 1, 31, 32, 33, 70} {
		if got := string(appendSpaces([]byte("x"), n)); got != "x"+strings.Repeat(" ", n) {
			t.Errorf("appendSpaces(%d) wrote %q", n, got)
		}
	}
}

// TestTextFieldsUnits: with --fields, each cell reads as its field's unit
// and none tags say (conn/columns.go), as in the default layout: sizes,
// rates, microseconds and milliseconds, "-" for none (pid 0, uid -1, a
// TCP-only counter on a UDP row); a field without a unit as it is.
func TestTextFieldsUnits(t *testing.T) {
	var buf bytes.Buffer
	fields := []string{"proto", "pid", "uid", "retrans", "rtt_us", "idle_ms", "bytes_in_delta", "delivery_rate", "rate_in", "snd_wnd"}
	w, err := NewWith("text", &buf, Options{Fields: fields})
	if err != nil {
		t.Fatal(err)
	}
	rows := []conn.Row{
		{Proto: "tcp", PID: 42, UID: 1000, Retrans: 3, RTTMicros: 12_345, IdleMillis: 245_000, BytesInDelta: 5 << 20,
			DeliveryRate: 1536, RateIn: 2048, SndWnd: 65535},
		{Proto: "udp", PID: 0, UID: -1, IdleMillis: 850},
	}
	if err := writeTick(w, 1, rows); err != nil {
		t.Fatal(err)
	}
	got := strings.Split(buf.String(), "\n")[1:3]
	want := []string{
		"tcp 42 1000 3 12.3ms 4m05s 5.0MiB 1.5KiB/s 2.0KiB/s 65535",
		"udp - - - - 850ms 0B 0B/s 0B/s 0",
	}
	for i := range want {
		if strings.Join(strings.Fields(got[i]), " ") != strings.Join(strings.Fields(want[i]), " ") {
			t.Errorf("row %d: %q, want %q", i, got[i], want[i])
		}
	}
}

// TestTextTickLineCountsListenersApart: a listener's row (--listeners)
// is no flow: the tick line counts it apart.
func TestTextTickLineCountsListenersApart(t *testing.T) {
	rows := tick1()[:1]
	rows = append(rows, rows[0])
	rows[1].State = conn.StateListen
	out := render(t, "text", false, [][]conn.Row{rows})
	if line, _, _ := strings.Cut(out, "\n"); !strings.HasSuffix(line, " 1 flow, 1 listener ---") {
		t.Errorf("tick line %q, want 1 flow, 1 listener", line)
	}
}
