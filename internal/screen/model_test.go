package screen

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tcptop/tcptop/internal/conn"
)

// comms lists the process names of the frame's rows, in order; a row
// that closed in an earlier tick is marked with a +.
func comms(f *Frame) []string {
	var out []string
	for _, r := range f.Rows {
		c := r.Comm
		if r.Gone {
			c += "+"
		}
		out = append(out, c)
	}
	return out
}

func modelRows() []conn.Row {
	return []conn.Row{
		{Proto: "tcp", Comm: "b", PID: 2, RemotePort: 2, RateIn: 300, BytesIn: 10, RTTMicros: 5, LocalPort: 1},
		{Proto: "udp", Comm: "a", PID: 3, RemotePort: 3, RateIn: 200, BytesIn: 30, LocalPort: 2},
		{Proto: "tcp", Comm: "c", PID: 1, RemotePort: 1, RateOut: 100, BytesIn: 20, RTTMicros: 9, LocalPort: 3, Partial: true},
	}
}

func TestModelSortKeys(t *testing.T) {
	m := NewModel(Config{Interval: time.Second})
	m.Tick(t0, modelRows())
	for _, step := range []struct {
		key  byte
		sort string
		want []string
	}{
		{0, "rate▼", []string{"b", "a", "c"}},
		{'s', "rx/s▼", []string{"b", "a", "c"}},
		{'s', "tx/s▼", []string{"c", "b", "a"}},
		{'s', "rx▼", []string{"a", "c", "b"}},
		{'r', "rx▲", []string{"b", "c", "a"}},
		{'S', "tx/s▼", []string{"c", "b", "a"}}, // back, in that sort's own direction
		{'s', "rx▼", []string{"a", "c", "b"}},
		{'s', "tx▼", []string{"b", "a", "c"}}, // all equal: the tick's order
		{'s', "packets▼", []string{"b", "a", "c"}},
		{'s', "rtt▼", []string{"c", "b", "a"}},
		{'s', "pid▲", []string{"c", "b", "a"}},
		{'s', "comm▲", []string{"a", "b", "c"}},
		{'s', "remote▲", []string{"c", "b", "a"}},
		{'s', "rate▼", []string{"b", "a", "c"}}, // around again
		{'S', "remote▲", []string{"c", "b", "a"}},
	} {
		if step.key != 0 && m.Key(step.key) {
			t.Fatalf("key %q quits", step.key)
		}
		f := m.Frame()
		if f.Sort != step.sort || !slices.Equal(comms(f), step.want) {
			t.Errorf("after %q: sort %s %v, want %s %v", step.key, f.Sort, comms(f), step.sort, step.want)
		}
	}
}

func TestModelCustomSortAndTop(t *testing.T) {
	m := NewModel(Config{SortName: "pid", Top: 2, Sort: func(x, y *conn.Row) int { return y.PID - x.PID }})
	m.Tick(t0, modelRows())
	if f := m.Frame(); f.Sort != "pid" || !slices.Equal(comms(f), []string{"a", "b"}) || f.Total != 2 {
		t.Errorf("--sort pid --top 2: %s %v total %d", f.Sort, comms(f), f.Total)
	}
	m.Key('r')
	if f := m.Frame(); f.Sort != "pid reversed" || !slices.Equal(comms(f), []string{"c", "b"}) {
		t.Errorf("reversed: %s %v", f.Sort, comms(f))
	}
	m.Key('s')
	if f := m.Frame(); f.Sort != "rate▼" {
		t.Errorf("s leaves --sort for the screen's first sort, got %s", f.Sort)
	}
}

func TestModelProtoPauseHelpQuit(t *testing.T) {
	m := NewModel(Config{})
	m.Tick(t0, modelRows())
	m.Key('u')
	if f := m.Frame(); !slices.Equal(comms(f), []string{"a"}) || f.Proto != "udp" || f.TCP != 2 || f.UDP != 1 {
		t.Errorf("u: %v proto %q, counts tcp %d udp %d (the counts stay the tick's)", comms(f), f.Proto, f.TCP, f.UDP)
	}
	m.Key('t')
	if f := m.Frame(); !slices.Equal(comms(f), []string{"b", "c"}) {
		t.Errorf("t: %v", comms(f))
	}
	m.Key('t')
	if f := m.Frame(); len(f.Rows) != 3 || f.Proto != "" {
		t.Errorf("t again: %v %q", comms(f), f.Proto)
	}

	m.Key('p')
	m.Tick(t0.Add(time.Second), modelRows()[:1])
	if f := m.Frame(); !f.Paused || len(f.Rows) != 3 || !f.Time.Equal(t0) {
		t.Errorf("paused: the screen should keep the tick it showed, got %v at %v", comms(f), f.Time)
	}
	m.Key('s') // sorting a paused screen sorts what it shows
	if f := m.Frame(); len(f.Rows) != 3 || f.Sort != "rx/s▼" {
		t.Errorf("sort while paused: %v %s", comms(f), f.Sort)
	}
	m.Key('p')
	if f := m.Frame(); f.Paused || len(f.Rows) != 1 || !f.Time.Equal(t0.Add(time.Second)) {
		t.Errorf("unpaused: the latest tick, got %v at %v", comms(f), f.Time)
	}

	m.Key('?')
	if !m.Frame().Help {
		t.Error("? shows no help")
	}
	if m.Key('s'); m.Frame().Help || m.Frame().Sort != "rx/s▼" {
		t.Errorf("a key closes the help and does nothing else: help %v sort %s", m.Frame().Help, m.Frame().Sort)
	}
	for _, k := range []byte{'x', 'Z', 0x1b, '['} {
		if m.Key(k) {
			t.Errorf("key %q quits", k)
		}
	}
	for _, k := range []byte{'q', 'Q', 3} {
		if !m.Key(k) {
			t.Errorf("key %q does not quit", k)
		}
	}
}

// TestModelOpensClosesAndLinger: opens count flows new since the previous
// tick (not older than tcptop), closes the closed rows; a closed row
// stays three more ticks, marked, with rates of zero.
func TestModelOpensClosesAndLinger(t *testing.T) {
	m := NewModel(Config{})
	rows := modelRows()
	m.Tick(t0, rows)
	if f := m.Frame(); f.Opened != 2 || f.Closed != 0 || f.RateIn != 500 || f.RateOut != 100 {
		t.Errorf("first tick: opened %d closed %d, rates %v %v", f.Opened, f.Closed, f.RateIn, f.RateOut)
	}
	next := modelRows()
	next[0].Closed, next[0].State = true, "CLOSE"
	next = append(next, conn.Row{Proto: "tcp", Comm: "d", LocalPort: 4})
	m.Tick(t0.Add(time.Second), next)
	if f := m.Frame(); f.Opened != 1 || f.Closed != 1 || len(f.Rows) != 4 {
		t.Errorf("second tick: opened %d closed %d, %v", f.Opened, f.Closed, comms(f))
	}
	for i := range 4 {
		m.Tick(t0.Add(time.Duration(2+i)*time.Second), modelRows()[1:])
		f := m.Frame()
		gone := slices.Contains(comms(f), "b+")
		if gone != (i < 3) {
			t.Errorf("tick %d after the close: closed row shown %v (%v)", i+1, gone, comms(f))
		}
		for _, r := range f.Rows {
			if r.Gone && (r.RateIn != 0 || r.RateOut != 0) {
				t.Errorf("a closed row keeps rates: %+v", r)
			}
		}
	}
	lines := Layout(m.Frame(), 120, 10)
	if strings.Contains(lines[3].Text, "CLOSED") {
		t.Errorf("closed row still shown: %q", lines[3].Text)
	}
}
