package screen

import (
	"flag"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/tcptop/tcptop/internal/conn"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden")

var t0 = time.Date(2026, 11, 26, 13, 45, 2, 0, time.UTC)

// busyTick is a tick of a busy host, in the aggregator's order (rate
// descending): IPv4 and IPv6, long and odd process names, a UDP flow, a
// partial connection, two closing in this tick, and many idle ones.
func busyTick(tick int64) []conn.Row {
	ip := netip.MustParseAddr
	at := func(r conn.Row) conn.Row { r.Tick, r.Timestamp = tick, t0; return r }
	rows := []conn.Row{
		at(conn.Row{Proto: "tcp", LocalAddr: ip("2001:db8:85a3::8a2e:370:7334"), LocalPort: 40000,
			RemoteAddr: ip("2606:4700:4700::1111"), RemotePort: 443, PID: 2200, Comm: "Web Content", State: "ESTABLISHED",
			BytesIn: 1 << 30, BytesOut: 65536, PacketsIn: 750000, PacketsOut: 300000, RateIn: 7654321, RateOut: 1200, RTTMicros: 23456}),
		at(conn.Row{Proto: "tcp", LocalAddr: ip("10.0.0.5"), LocalPort: 51234, RemoteAddr: ip("93.184.216.34"), RemotePort: 443,
			PID: 1234, Comm: "curl", State: "ESTABLISHED", BytesIn: 5 << 20, BytesOut: 1024, PacketsIn: 3900, PacketsOut: 120,
			RateIn: 1234567, RateOut: 500, RTTMicros: 850}),
		at(conn.Row{Proto: "tcp", LocalAddr: ip("10.0.0.5"), LocalPort: 22, RemoteAddr: ip("203.0.113.200"), RemotePort: 60000,
			PID: 4194304, Comm: "sshd: alice@pts", State: "ESTABLISHED", BytesIn: 7654321, BytesOut: 3 << 20,
			PacketsIn: 5000, PacketsOut: 4000, RateIn: 2048, RateOut: 348160, RTTMicros: 12345}),
		at(conn.Row{Proto: "udp", LocalAddr: ip("192.168.1.10"), LocalPort: 53124, RemoteAddr: ip("8.8.8.8"), RemotePort: 53,
			PID: 812, Comm: "systemd-resolve", BytesIn: 512, BytesOut: 40, PacketsIn: 1, PacketsOut: 1, RateIn: 512, RateOut: 40}),
		at(conn.Row{Proto: "tcp", LocalAddr: ip("10.0.0.5"), LocalPort: 51300, RemoteAddr: ip("10.0.0.7"), RemotePort: 8080,
			PID: 99, Comm: "wget", State: "CLOSE", BytesIn: 2048, BytesOut: 300, PacketsIn: 6, PacketsOut: 5,
			RateIn: 2048, RateOut: 300, RTTMicros: 1_200_000, Closed: true}),
		at(conn.Row{Proto: "tcp", LocalAddr: ip("::1"), LocalPort: 8443, RemoteAddr: ip("::1"), RemotePort: 39876,
			PID: 77, Comm: "python3", State: "CLOSE", BytesIn: 100, BytesOut: 9000, PacketsIn: 4, PacketsOut: 9,
			RateIn: 100, RateOut: 9000, RTTMicros: 40, Closed: true}),
	}
	for i := range 60 {
		rows = append(rows, at(conn.Row{Proto: "tcp", LocalAddr: ip("127.0.0.1"), LocalPort: 5432,
			RemoteAddr: ip("127.0.0.1"), RemotePort: 40000 + i, PID: 700 + i%3, Comm: []string{"postgres", "postgres", "pgbouncer"}[i%3],
			State: "ESTABLISHED", BytesIn: int64(i) * 1000, BytesOut: int64(i) * 3000, PacketsIn: int64(i), PacketsOut: int64(2 * i),
			RTTMicros: 30 + int64(i), Partial: i%2 == 0}))
	}
	return rows
}

// frames are the golden cases: a busy host after a tick in which two
// connections closed and the next, where they linger; an idle host; the
// help; the screen before the first tick; a busy host by process; the
// column chooser.
func frames() map[string]*Frame {
	cfg := Config{Interval: time.Second, Filter: `proto=="tcp" || proto=="udp"`}
	busy := NewModel(cfg)
	busy.Tick(t0.Add(-time.Second), busyTick(1))
	busy.Tick(t0, busyTick(2)[:4])
	busy.Drops = "drops: 3 untracked"

	idle := NewModel(Config{Interval: 2 * time.Second})
	idle.Tick(t0, nil)

	help := NewModel(cfg)
	help.Tick(t0, busyTick(1))
	help.Key('?')

	procs := NewModel(cfg)
	procs.Tick(t0, busyTick(1))
	procs.Key('g')

	chooser := NewModel(cfg)
	chooser.Tick(t0, busyTick(1))
	chooser.Key('f')

	return map[string]*Frame{
		"procs":   procs.Frame(),
		"columns": chooser.Frame(),
		"busy":    busy.Frame(),
		"closing": func() *Frame { m := NewModel(cfg); m.Tick(t0, busyTick(1)); return m.Frame() }(),
		"empty":   idle.Frame(),
		"help":    help.Frame(),
		"waiting": NewModel(Config{Interval: 500 * time.Millisecond}).Frame(),
	}
}

var sizes = [][2]int{{40, 16}, {60, 20}, {80, 24}, {120, 40}, {200, 50}}

func TestLayoutGolden(t *testing.T) {
	for name, f := range frames() {
		for _, size := range sizes {
			w, h := size[0], size[1]
			t.Run(fmt.Sprintf("%s_%dx%d", name, w, h), func(t *testing.T) {
				var b strings.Builder
				for _, l := range Layout(f, w, h) {
					fmt.Fprintf(&b, "%s|%s\n", "PBD"[l.Style:l.Style+1], l.Text)
				}
				path := filepath.Join("testdata", fmt.Sprintf("%s_%dx%d.golden", name, w, h))
				if *update {
					if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
						t.Fatal(err)
					}
					return
				}
				want, err := os.ReadFile(path)
				if err != nil {
					t.Fatalf("%v (go test ./internal/screen -update writes it)", err)
				}
				if b.String() != string(want) {
					t.Errorf("layout differs from %s (go test ./internal/screen -update rewrites it):\n%s", path, b.String())
				}
			})
		}
	}
}

// TestLayoutNeverWraps: at every size, no line is wider than the screen,
// there are no more lines than it has, and a row is one line that starts
// with a cell of its own.
func TestLayoutNeverWraps(t *testing.T) {
	for name, f := range frames() {
		for w := 1; w <= 220; w += 3 {
			for h := 1; h <= 60; h += 7 {
				lines := Layout(f, w, h)
				if len(lines) > h {
					t.Fatalf("%s at %dx%d: %d lines", name, w, h, len(lines))
				}
				for _, l := range lines {
					if n := utf8.RuneCountInString(l.Text); n > w || strings.ContainsAny(l.Text, "\n\r\x1b") {
						t.Fatalf("%s at %dx%d: line of %d runes: %q", name, w, h, n, l.Text)
					}
				}
			}
		}
	}
}

// TestLayoutFillsTheHeight: a busy host fills the screen, the last line
// counting the rows left out; a screen tall enough shows every row.
func TestLayoutFillsTheHeight(t *testing.T) {
	f := frames()["closing"]
	lines := Layout(f, 120, 24)
	if len(lines) != 24 || lines[23].Text != fmt.Sprintf("… %d more", f.Total-20) {
		t.Errorf("24 lines ending in … %d more, got %d ending %q", f.Total-20, len(lines), lines[len(lines)-1].Text)
	}
	if lines := Layout(f, 120, 3+f.Total); len(lines) != 3+f.Total || strings.Contains(lines[len(lines)-1].Text, "more") {
		t.Errorf("a screen of %d lines should show all %d rows", 3+f.Total, f.Total)
	}
}

// TestFitDropsLeastImportantFirst: as the screen narrows, the packet
// counters go, then the byte totals; long addresses are cut in their
// hosts, ESTABLISHED becomes ESTAB; at 80 columns the state and the
// round-trip time stay; at 60 the state stays; no endpoint is cut below
// its port ("…" and the port: 7).
func TestFitDropsLeastImportantFirst(t *testing.T) {
	in := newWidths()
	for j := range in.natural {
		in.short[j], in.least[j] = -1, -1
	}
	for j, n := range map[int]int{colProto: 5, colLocal: 21, colRemote: 26, colPID: 7, colComm: 15, colState: 11,
		colRxRate: 7, colTxRate: 7, colRx: 7, colTx: 7, colRTT: 6, colPktRx: 6, colPktTx: 6} {
		in.natural[j], in.short[j], in.least[j] = n, n, len(columns[j].name)
	}
	in.short[colState] = 6
	in.least[colLocal], in.least[colRemote] = 7, 7
	kept := func(width int) string {
		var names []string
		w, short := fit(in, width)
		for j, x := range w {
			if x >= 0 {
				s := fmt.Sprintf("%s:%d", columns[j].name, x)
				if short[j] {
					s += "s"
				}
				names = append(names, s)
			}
		}
		return strings.Join(names, " ")
	}
	for _, tt := range []struct {
		width int
		want  string
	}{
		{200, "PROTO:5 LOCAL:21 REMOTE:26 PID:7 COMM:15 STATE:11 RX/s:7 TX/s:7 RX:7 TX:7 RTT:6 PKT_RX:6 PKT_TX:6"},
		{140, "PROTO:5 LOCAL:21 REMOTE:26 PID:7 COMM:15 STATE:11 RX/s:7 TX/s:7 RX:7 TX:7 RTT:6"},
		{114, "PROTO:5 LOCAL:21 REMOTE:26 PID:7 COMM:15 STATE:11 RX/s:7 TX/s:7 RTT:6"}, // RX and TX go together
		{112, "PROTO:5 LOCAL:21 REMOTE:26 PID:7 COMM:15 STATE:6s RX/s:7 TX/s:7 RTT:6"}, // ESTABLISHED as ESTAB
		{100, "PROTO:5 LOCAL:21 REMOTE:21 PID:7 COMM:12 STATE:6s RX/s:7 TX/s:7 RTT:6"},
		{80, "LOCAL:7 REMOTE:21 PID:7 COMM:12 STATE:6s RX/s:7 TX/s:7 RTT:6"}, // state and RTT stay, the local port too
		{60, "REMOTE:21 COMM:8 STATE:6s RX/s:7 TX/s:7"},
		{40, "REMOTE:10 COMM:6 STATE:6s RX/s:7 TX/s:7"},
	} {
		if got := kept(tt.width); got != tt.want {
			t.Errorf("width %d:\n got %s\nwant %s", tt.width, got, tt.want)
		}
	}
}

func TestCut(t *testing.T) {
	for _, tt := range []struct {
		s      string
		n      int
		middle bool
		want   string
	}{
		{"curl", 10, false, "curl"},
		{"systemd-resolve", 10, false, "systemd-r…"},
		{"[2606:4700:4700::1111]:443", 15, true, "[2606:4…11]:443"},
		{"[2606:4700:4700::1111]:443", 21, true, "[2606:4700…:1111]:443"},
		{"abc", 1, true, "…"},
		{"abc", 0, false, ""},
	} {
		if got := cut(tt.s, tt.n, tt.middle); got != tt.want || utf8.RuneCountInString(got) > tt.n {
			t.Errorf("cut(%q, %d, %v) = %q, want %q", tt.s, tt.n, tt.middle, got, tt.want)
		}
	}
}

// TestLayoutEscapesNames: a process name with a terminal escape, a
// backslash and invalid UTF-8 is shown escaped as in every output format
// (internal/escape), not as '?' and never raw.
func TestLayoutEscapesNames(t *testing.T) {
	rows := busyTick(1)[:2]
	rows[0].Comm = "ev\x1b[2J\\\xff"
	m := NewModel(Config{Interval: time.Second})
	m.Tick(t0, rows)
	var found bool
	for _, l := range Layout(m.Frame(), 200, 20) {
		if strings.ContainsAny(l.Text, "\x1b\xff") || !utf8.ValidString(l.Text) {
			t.Fatalf("a raw escape or invalid byte in %q", l.Text)
		}
		found = found || strings.Contains(l.Text, `ev\x1b[2J\x5c\xff`)
	}
	if !found {
		t.Errorf("no escaped name in:\n%v", Layout(m.Frame(), 200, 20))
	}
}
