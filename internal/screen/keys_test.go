package screen

import (
	"net/netip"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tcptop/tcptop/internal/conn"
)

// typeKeys hands each byte of s to m as a key, failing if one quits.
func typeKeys(t *testing.T, m *Model, s string) {
	t.Helper()
	for i := range len(s) {
		if m.Key(s[i]) {
			t.Fatalf("key %q of %q quits", s[i], s)
		}
	}
}

// TestModelTypedFilter: w opens a prompt on the status line; Enter
// compiles what was typed as --where does and applies it with the
// command line's (both must hold): rows and counts are those it lets
// through. A bad expression leaves the prompt open with the error, dated,
// on the message line; Esc keeps the filter before; an empty one clears.
func TestModelTypedFilter(t *testing.T) {
	now := t0.Add(42 * time.Second)
	m := NewModel(Config{Filter: "pid > 0", Now: func() time.Time { return now }})
	m.Tick(t0, modelRows())

	typeKeys(t, m, "w")
	typeKeys(t, m, `proto == "tcq`+"\x7f"+`p"`)
	if f := m.Frame(); !f.Editing || f.Edit != `proto == "tcp"` || !strings.HasPrefix(Layout(f, 80, 10)[1].Text, `where> proto == "tcp"_`) {
		t.Fatalf("typing: editing %v %q, status %q", f.Editing, f.Edit, Layout(f, 80, 10)[1].Text)
	}
	typeKeys(t, m, "\r")
	f := m.Frame()
	if f.Editing || !slices.Equal(comms(f), []string{"b", "c"}) || f.TCP != 2 || f.UDP != 0 || f.RateIn != 300 ||
		f.Filter != `pid > 0 && (proto == "tcp")` {
		t.Errorf("after Enter: editing %v, rows %v, tcp %d udp %d in %v, filter %q", f.Editing, comms(f), f.TCP, f.UDP, f.RateIn, f.Filter)
	}
	if s := Layout(f, 120, 10)[1].Text; !strings.Contains(s, `where pid > 0 && (proto == "tcp")`) {
		t.Errorf("status line: %q", s)
	}

	// A typo: the prompt stays, the error is said with its time.
	typeKeys(t, m, "w\x15rtt > 5\r")
	f = m.Frame()
	if !f.Editing || !strings.HasPrefix(f.Message, "w filter: ") || !strings.Contains(f.Message, "rtt_us") || !f.MessageTime.Equal(now) {
		t.Errorf("bad filter: editing %v, message %q at %v", f.Editing, f.Message, f.MessageTime)
	}
	if l := Layout(f, 200, 10)[2].Text; !strings.HasPrefix(l, "13:45:44  w filter: ") {
		t.Errorf("message line: %q", l)
	}
	if !slices.Equal(comms(f), []string{"b", "c"}) {
		t.Errorf("the filter before stays while the new one is mended: %v", comms(f))
	}
	// q is typed, not obeyed; Esc leaves the filter as it was.
	typeKeys(t, m, "q\x1b")
	if f := m.Frame(); f.Editing || !slices.Equal(comms(f), []string{"b", "c"}) {
		t.Errorf("after Esc: editing %v, rows %v", f.Editing, comms(f))
	}
	// Empty: no filter but --where's.
	typeKeys(t, m, "w\x15\r")
	if f := m.Frame(); len(f.Rows) != 3 || f.Filter != "pid > 0" || f.Message != "" {
		t.Errorf("cleared: rows %v, filter %q, message %q", comms(f), f.Filter, f.Message)
	}
	typeKeys(t, m, "w")
	if !m.Key(3) {
		t.Error("Ctrl-C does not quit while typing a filter")
	}
}

// TestModelColumnChooser: f lists the view's columns with a key each;
// a key hides a shown column or shows a hidden one; f closes the list.
func TestModelColumnChooser(t *testing.T) {
	m := NewModel(Config{})
	m.Tick(t0, modelRows())
	if f := m.Frame(); slices.Contains(f.Cols, colRetrans) || !slices.Contains(f.Cols, colProto) {
		t.Fatalf("columns at start: %v", f.Cols)
	}
	typeKeys(t, m, "f")
	f := m.Frame()
	if len(f.Choices) != len(flowColumns) || f.Choices[0] != (Choice{'a', "PROTO", true}) {
		t.Fatalf("chooser: %+v", f.Choices)
	}
	retrans := chooserKeys[slices.Index(flowColumns, colRetrans)]
	typeKeys(t, m, "a"+string(retrans))
	if f := m.Frame(); f.Choices[0].On || !slices.Contains(f.Cols, colRetrans) || slices.Contains(f.Cols, colProto) {
		t.Errorf("after a and %c: %+v, columns %v", retrans, f.Choices, f.Cols)
	}
	typeKeys(t, m, "f")
	if f := m.Frame(); f.Choices != nil || len(f.Rows) != 3 {
		t.Errorf("f closes the chooser: %+v", f.Choices)
	}
	if h := Layout(m.Frame(), 200, 10)[2].Text; strings.HasPrefix(h, "PROTO") || !strings.Contains(h, "RETRANS") {
		t.Errorf("header: %q", h)
	}
}

// TestModelByProcess: g sums the flows per pid and name: a row each with
// the flows counted, bytes and rates summed; closed connections of
// earlier ticks do not count. s then cycles only through the sorts of
// the columns the view has. g again: the flows.
func TestModelByProcess(t *testing.T) {
	m := NewModel(Config{})
	rows := []conn.Row{
		{Proto: "tcp", PID: 7, Comm: "nginx", LocalPort: 1, RateIn: 100, BytesIn: 1000, RTTMicros: 5},
		{Proto: "tcp", PID: 8, Comm: "curl", LocalPort: 2, RateOut: 50, BytesOut: 10},
		{Proto: "udp", PID: 7, Comm: "nginx", LocalPort: 3, RateIn: 30, RateOut: 20, BytesIn: 5},
		{Proto: "tcp", PID: 7, Comm: "nginx", LocalPort: 4, Closed: true, State: "CLOSE", BytesIn: 2},
	}
	m.Tick(t0, rows)
	m.Tick(t0.Add(time.Second), rows[:3]) // the closed one lingers: not a flow of the process any more
	typeKeys(t, m, "g")
	f := m.Frame()
	if !f.Procs || len(f.Rows) != 2 || f.Total != 2 {
		t.Fatalf("by process: %+v", f.Rows)
	}
	ng, cu := f.Rows[0], f.Rows[1]
	if ng.PID != 7 || ng.Comm != "nginx" || ng.Flows != 2 || ng.RateIn != 130 || ng.RateOut != 20 || ng.BytesIn != 1005 ||
		cu.PID != 8 || cu.Flows != 1 || cu.RateOut != 50 {
		t.Errorf("rows: %+v", f.Rows)
	}
	if !slices.Equal(f.Cols, procColumns) {
		t.Errorf("columns: %v", f.Cols)
	}
	if lines := Layout(f, 80, 10); !strings.HasPrefix(lines[2].Text, "PID COMM  FLOWS") || !strings.Contains(lines[0].Text, "processes 2/2") {
		t.Errorf("layout:\n%s\n%s", lines[0].Text, lines[2].Text)
	}
	var seen []string
	for range len(sorts) {
		typeKeys(t, m, "s")
		seen = append(seen, m.Frame().Sort)
	}
	if want := []string{"rx/s▼", "tx/s▼", "rx▼", "tx▼", "packets▼", "pid▲", "comm▲", "rate▼", "rx/s▼", "tx/s▼"}; !slices.Equal(seen, want) {
		t.Errorf("sorts by process: %v, want %v (no rtt, no remote)", seen, want)
	}
	typeKeys(t, m, "g")
	if f := m.Frame(); f.Procs || len(f.Rows) != 4 {
		t.Errorf("g again: %v", comms(f))
	}
}

// TestLayoutKeepsKeysAndDatesMessages: a warning has a line of its own
// with its time, and the key help stays on the status line at any width
// where it fits; items left out are marked.
func TestLayoutKeepsKeysAndDatesMessages(t *testing.T) {
	m := NewModel(Config{Interval: time.Second, Filter: `comm == "a very long process name indeed"`})
	m.Tick(t0, modelRows())
	m.Say(t0.Add(-3*time.Second), "tcptop: 2 flows untracked")
	for _, w := range []int{200, 80, 40, 20} {
		lines := Layout(m.Frame(), w, 12)
		if !strings.HasSuffix(lines[1].Text, keysHelp) {
			t.Errorf("width %d: status line %q lost the keys", w, lines[1].Text)
		}
		if w < 80 && !strings.Contains(lines[1].Text, "…") {
			t.Errorf("width %d: status line %q drops the filter silently", w, lines[1].Text)
		}
		if want := cut("13:44:59  tcptop: 2 flows untracked", w, false); lines[2].Text != want {
			t.Errorf("width %d: message line %q, want %q", w, lines[2].Text, want)
		}
		if !strings.Contains(lines[3].Text, "COMM") {
			t.Errorf("width %d: header %q", w, lines[3].Text)
		}
	}
}

// TestREADMEListsTheKeys: the README's live-screen section names every
// key the help screen lists.
func TestREADMEListsTheKeys(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, _ := strings.Cut(string(readme), "## The live screen")
	section, _, _ = strings.Cut(section, "\n## ")
	for _, k := range keyDocs {
		for key := range strings.SplitSeq(k.keys, "/") {
			if !strings.Contains(section, "`"+key+"`") {
				t.Errorf("README's live screen section does not name the key %s (%s)", key, k.word)
			}
		}
	}
}

// TestModelNames: n shows remote_name in REMOTE, with the port, where a
// row has one; a row without keeps its address; n again shows addresses.
func TestModelNames(t *testing.T) {
	m := NewModel(Config{})
	remote := netip.MustParseAddr("192.0.2.7")
	m.Tick(t0, []conn.Row{
		{Proto: "tcp", PID: 7, Comm: "curl", RemoteAddr: remote, RemotePort: 443, RemoteName: "svc.example.com", RateIn: 2},
		{Proto: "tcp", PID: 8, Comm: "nc", RemoteAddr: remote, RemotePort: 80, RateIn: 1},
	})
	remotes := func() string {
		var b strings.Builder
		for _, l := range Layout(m.Frame(), 120, 10)[3:5] {
			f := strings.Fields(l.Text)
			b.WriteString(f[2] + " ")
		}
		return b.String()
	}
	if got := remotes(); got != "192.0.2.7:443 192.0.2.7:80 " {
		t.Errorf("addresses: %q", got)
	}
	typeKeys(t, m, "n")
	if got := remotes(); got != "svc.example.com:443 192.0.2.7:80 " {
		t.Errorf("names: %q", got)
	}
	typeKeys(t, m, "n")
	if got := remotes(); got != "192.0.2.7:443 192.0.2.7:80 " {
		t.Errorf("n again: %q", got)
	}
}

// TestHelpFitsEightyByTwentyFour: at 80x24, the most common terminal,
// the help screen shows every line of its text, none cut short, even
// with a message on a line of its own (the n key's lines once pushed
// the last two off).
func TestHelpFitsEightyByTwentyFour(t *testing.T) {
	m := NewModel(Config{Interval: time.Second})
	m.Tick(t0, modelRows())
	m.Say(t0, "tcptop: a message")
	m.Key('?')
	lines := Layout(m.Frame(), 80, 24)
	want := strings.Split(helpText(80), "\n")
	got := lines[len(lines)-min(len(want), len(lines)):]
	for i, l := range want {
		if i >= len(got) || got[i].Text != l {
			t.Fatalf("help at 80x24 with a message: the last %d lines are not the help's %d:\n%v", len(got), len(want), got)
		}
	}
	if len(lines) != 3+1+len(want) {
		t.Errorf("%d lines, want the 4 top lines and the help's %d", len(lines), len(want))
	}
}
