package screen

import (
	"cmp"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/tcptop/tcptop/internal/conn"
)

// Config is what the screen is told once, at the start.
type Config struct {
	Interval time.Duration
	Filter   string // --where with -p folded in, shown on the status line
	// Sort is --sort's order, nil if not given: the screen starts with
	// it (named SortName), and s leaves it for the screen's own columns.
	Sort     func(x, y *conn.Row) int
	SortName string
	Top      int // --top: show at most this many rows (0: as many as fit)
	Linger   int // ticks a closed connection stays on the screen (0: 3)
}

// Model is the screen's state between ticks. Tick hands it the rows of a
// tick, Key a key pressed, and Frame makes what Layout draws. It keeps a
// copy of every row of the latest tick (the summary counts them all, and
// any of them may come first under another sort), of the tick shown while
// paused, and of the connections closed in the last few ticks: for a
// terminal, bounded by what a person looks at. Not safe for concurrent
// use.
type Model struct {
	cfg   Config
	live  snapshot // the latest tick
	shown snapshot // the tick on the screen: live, unless paused
	gone  []lingering
	seen  map[flowKey]bool // flows of the previous tick, to count opens

	sort   int // index in sorts, or -1 for Config.Sort
	desc   bool
	paused bool
	help   bool
	proto  string // "tcp" or "udp" when only those are shown

	Drops   string // kernel-side drops, for the summary line ("" if none)
	Message string // the latest warning, for the status line

	view  []Row // shown's rows, filtered by proto and sorted
	stale bool  // view needs making again
}

// snapshot is one tick as the screen keeps it.
type snapshot struct {
	time            time.Time
	rows            []Row // the tick's rows, then the lingering closed ones
	tcp, udp        int
	rateIn, rateOut float64
	opened, closed  int
}

// lingering is a connection that closed in an earlier tick, kept for a
// few more: its last row, with its rates and deltas zero, since nothing
// moves on a closed connection.
type lingering struct {
	row  conn.Row
	left int // ticks to go
}

type flowKey struct {
	proto         string
	local, remote netip.AddrPort
}

func keyOf(r *conn.Row) flowKey {
	return flowKey{r.Proto, netip.AddrPortFrom(r.LocalAddr, uint16(r.LocalPort)), netip.AddrPortFrom(r.RemoteAddr, uint16(r.RemotePort))}
}

// NewModel returns the state of a screen before its first tick.
func NewModel(cfg Config) *Model {
	if cfg.Linger <= 0 {
		cfg.Linger = 3
	}
	m := &Model{cfg: cfg, seen: map[flowKey]bool{}, desc: true}
	if cfg.Sort == nil {
		m.sort = 0
	} else {
		m.sort = -1
	}
	return m
}

// Tick takes the rows of a tick (the Model keeps the slice), read at t.
// A flow not in the previous tick counts as opened unless it is older
// than tcptop (partial); a row with closed set counts as closed, and
// stays on the screen, marked, for Config.Linger more ticks.
func (m *Model) Tick(t time.Time, rows []conn.Row) {
	s := snapshot{time: t, rows: make([]Row, 0, len(rows)+len(m.gone))}
	seen := make(map[flowKey]bool, len(rows))
	for i := range rows {
		r := &rows[i]
		s.rows = append(s.rows, Row{Row: *r})
		if r.Proto == "udp" {
			s.udp++
		} else {
			s.tcp++
		}
		s.rateIn += r.RateIn
		s.rateOut += r.RateOut
		k := keyOf(r)
		if !m.seen[k] && !r.Partial {
			s.opened++
		}
		seen[k] = true
		if r.Closed {
			s.closed++
		}
	}
	kept := m.gone[:0]
	for _, g := range m.gone {
		s.rows = append(s.rows, Row{Row: g.row, Gone: true})
		if g.left > 1 {
			kept = append(kept, lingering{g.row, g.left - 1})
		}
	}
	m.gone = kept
	for i := range rows {
		if r := rows[i]; r.Closed {
			r.RateIn, r.RateOut = 0, 0
			r.BytesInDelta, r.BytesOutDelta, r.PacketsInDelta, r.PacketsOutDelta = 0, 0, 0, 0
			m.gone = append(m.gone, lingering{r, m.cfg.Linger})
		}
	}
	m.seen, m.live = seen, s
	if !m.paused {
		m.shown, m.stale = s, true
	}
}

// Key acts on one key and reports whether it asks to quit: q (or
// Ctrl-C, which raw mode turns into a key). While the help shows, any
// other key closes it.
func (m *Model) Key(k byte) (quit bool) {
	if k == 'q' || k == 'Q' || k == 3 {
		return true
	}
	if m.help {
		m.help = false
		return false
	}
	switch k {
	case 's':
		m.setSort(m.sort + 1)
	case 'S':
		m.setSort(m.sort - 1)
	case 'r':
		m.desc = !m.desc
	case 'p':
		m.paused = !m.paused
		m.shown = m.live
	case 't', 'u':
		p := map[byte]string{'t': "tcp", 'u': "udp"}[k]
		if m.proto == p {
			p = ""
		}
		m.proto = p
	case '?', 'h':
		m.help = true
	default:
		return false
	}
	m.stale = true
	return false
}

// setSort picks the screen's sort i, wrapping around, in its own
// direction.
func (m *Model) setSort(i int) {
	m.sort = (i + len(sorts)) % len(sorts)
	m.desc = sorts[m.sort].desc
}

// Frame makes what the screen shows now.
func (m *Model) Frame() *Frame {
	if m.stale {
		m.makeView()
	}
	s := &m.shown
	f := &Frame{
		Time: s.time, Interval: m.cfg.Interval, Rows: m.view, Total: len(m.view),
		TCP: s.tcp, UDP: s.udp, RateIn: s.rateIn, RateOut: s.rateOut, Opened: s.opened, Closed: s.closed,
		Drops: m.Drops, Filter: m.cfg.Filter, Message: m.Message,
		Desc: m.desc, Proto: m.proto, Paused: m.paused, Help: m.help,
	}
	if m.sort < 0 {
		f.Sort = m.cfg.SortName
		if !m.desc {
			f.Sort += " reversed"
		}
	} else {
		f.Sort, f.SortCol = sorts[m.sort].name+arrow(m.desc), sorts[m.sort].cols
	}
	return f
}

func arrow(desc bool) string {
	if desc {
		return "▼"
	}
	return "▲"
}

// makeView filters the shown rows by protocol and sorts them, stably, so
// rows the sort cannot tell apart keep the aggregator's order.
func (m *Model) makeView() {
	m.view = m.view[:0]
	for _, r := range m.shown.rows {
		if m.proto == "" || r.Proto == m.proto {
			m.view = append(m.view, r)
		}
	}
	compare := m.cfg.Sort
	if m.sort >= 0 {
		compare = sorts[m.sort].cmp
	}
	desc := m.desc
	if m.sort < 0 {
		desc = !desc // Config.Sort is in its own direction already
	}
	slices.SortStableFunc(m.view, func(x, y Row) int {
		c := compare(&x.Row, &y.Row)
		if desc {
			return -c
		}
		return c
	})
	if m.cfg.Top > 0 && len(m.view) > m.cfg.Top {
		m.view = m.view[:m.cfg.Top]
	}
	m.stale = false
}

// sortBy is one sort of the screen's s and S keys: a name, the columns
// it reads (marked in the header), its first direction, and the order of
// two rows, smallest first.
type sortBy struct {
	name string
	cols []int
	desc bool
	cmp  func(x, y *conn.Row) int
}

var sorts = []sortBy{
	{"rate", []int{colRxRate, colTxRate}, true, func(x, y *conn.Row) int {
		return cmp.Compare(x.RateIn+x.RateOut, y.RateIn+y.RateOut)
	}},
	{"rx/s", []int{colRxRate}, true, func(x, y *conn.Row) int { return cmp.Compare(x.RateIn, y.RateIn) }},
	{"tx/s", []int{colTxRate}, true, func(x, y *conn.Row) int { return cmp.Compare(x.RateOut, y.RateOut) }},
	{"rx", []int{colRx}, true, func(x, y *conn.Row) int { return cmp.Compare(x.BytesIn, y.BytesIn) }},
	{"tx", []int{colTx}, true, func(x, y *conn.Row) int { return cmp.Compare(x.BytesOut, y.BytesOut) }},
	{"packets", []int{colPktRx, colPktTx}, true, func(x, y *conn.Row) int {
		return cmp.Compare(x.PacketsIn+x.PacketsOut, y.PacketsIn+y.PacketsOut)
	}},
	{"rtt", []int{colRTT}, true, func(x, y *conn.Row) int { return cmp.Compare(x.RTTMicros, y.RTTMicros) }},
	{"pid", []int{colPID}, false, func(x, y *conn.Row) int { return cmp.Compare(x.PID, y.PID) }},
	{"comm", []int{colComm}, false, func(x, y *conn.Row) int { return strings.Compare(x.Comm, y.Comm) }},
	{"remote", []int{colRemote}, false, func(x, y *conn.Row) int {
		if c := x.RemoteAddr.Compare(y.RemoteAddr); c != 0 {
			return c
		}
		return cmp.Compare(x.RemotePort, y.RemotePort)
	}},
}
