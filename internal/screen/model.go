package screen

import (
	"net/netip"
	"slices"
	"time"

	"github.com/tcptop/tcptop/internal/conn"
	"github.com/tcptop/tcptop/internal/filter"
	"github.com/tcptop/tcptop/internal/group"
)

// Config is what the screen is told once, at the start.
type Config struct {
	Interval time.Duration
	Filter   string // --where with -p folded in, shown on the status line
	// Sort is --sort's order, nil if not given: the screen starts with
	// it (named SortName), and s leaves it for the screen's own columns.
	Sort     func(x, y *conn.Row) int
	SortName string
	Top      int              // --top: show at most this many rows (0: as many as fit)
	Linger   int              // ticks a closed connection stays on the screen (0: 3)
	Now      func() time.Time // the clock that dates messages made by keys (nil: time.Now)
	// Listeners starts the screen showing the listeners' rows (state
	// LISTEN, --listeners); l toggles them, and calls OnListeners (if
	// set) so that the engine reads them only while they show.
	Listeners   bool
	OnListeners func(show bool)
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
	proto  string   // "tcp" or "udp" when only those are shown
	procs  bool     // one row per process (g)
	names  bool     // REMOTE shows remote_name (n)
	listen bool     // listeners' rows shown (l)
	hidden []bool   // per column
	keys   keyState // the filter being typed (w), the column chooser (f)
	where  where    // the filter typed with w

	Drops string  // kernel-side drops, for the summary line ("" if none)
	msg   message // the latest warning

	view    []Row  // shown's rows, filtered and sorted
	counts  counts // of shown's rows that the typed filter lets through
	grouper *group.Grouper
	stale   bool // view needs making again
}

// snapshot is one tick as the screen keeps it.
type snapshot struct {
	time time.Time
	rows []Row // the tick's rows, then the lingering closed ones
}

// counts are what the summary line sums up of a tick.
type counts struct {
	tcp, udp        int
	rateIn, rateOut float64
	opened, closed  int
}

// message is a warning and when it came.
type message struct {
	at   time.Time
	text string
}

// where is the filter typed with w: its text and the compiled filter.
type where struct {
	text string
	f    *filter.Filter
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
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	g, err := group.New([]string{"pid", "comm"})
	if err != nil {
		panic(err) // fixed keys of the schema
	}
	m := &Model{cfg: cfg, seen: map[flowKey]bool{}, desc: true, grouper: g, hidden: make([]bool, len(columns))}
	if cfg.Sort == nil {
		m.sort = 0
	} else {
		m.sort = -1
	}
	for _, c := range hiddenAtStart {
		m.hidden[c] = true
	}
	if cfg.Listeners {
		m.showListeners(true)
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
		k := keyOf(r)
		s.rows = append(s.rows, Row{Row: *r, opened: !m.seen[k] && !r.Partial && r.State != stateListen})
		seen[k] = true
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

// Say shows a warning, made at t, until the next one.
func (m *Model) Say(t time.Time, text string) { m.msg = message{t, text} }

// Frame makes what the screen shows now.
func (m *Model) Frame() *Frame {
	if m.stale {
		m.makeView()
	}
	c := &m.counts
	f := &Frame{
		Time: m.shown.time, Interval: m.cfg.Interval, Rows: m.view, Total: len(m.view), Cols: m.columns(),
		TCP: c.tcp, UDP: c.udp, RateIn: c.rateIn, RateOut: c.rateOut, Opened: c.opened, Closed: c.closed,
		Drops: m.Drops, Filter: m.filterText(), Message: m.msg.text, MessageTime: m.msg.at,
		Desc: m.desc, Proto: m.proto, Procs: m.procs, Paused: m.paused, Help: m.help,
		Names: m.names,
	}
	m.keys.frame(f, m)
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

// filterText is --where and the typed filter, as both must hold.
func (m *Model) filterText() string {
	switch {
	case m.where.text == "":
		return m.cfg.Filter
	case m.cfg.Filter == "":
		return m.where.text
	}
	return m.cfg.Filter + " && (" + m.where.text + ")"
}

// offered are the columns of the view, shown or hidden.
func (m *Model) offered() []int {
	if m.procs {
		return procColumns
	}
	return flowColumns
}

// columns are the view's columns that are not hidden.
func (m *Model) columns() []int {
	var out []int
	for _, c := range m.offered() {
		if !m.hidden[c] {
			out = append(out, c)
		}
	}
	return out
}

func arrow(desc bool) string {
	if desc {
		return "▼"
	}
	return "▲"
}

// makeView counts the shown rows the typed filter lets through, keeps
// those of the protocol shown, sums them per process in that view, and
// sorts them, stably, so rows the sort cannot tell apart keep the
// aggregator's order.
func (m *Model) makeView() {
	m.view, m.counts = m.view[:0], counts{}
	failed := false
	for _, r := range m.shown.rows {
		ok, err := m.where.f.Match(&r.Row)
		if err != nil && !failed {
			m.Say(m.shown.time, filterSays+err.Error())
			failed = true
		}
		if !ok || r.State == stateListen && !m.listen {
			continue
		}
		if !r.Gone && r.State != stateListen { // a listener is no flow: the summary counts flows
			m.counts.add(&r)
		}
		if m.proto == "" || r.Proto == m.proto {
			m.view = append(m.view, r)
		}
	}
	if m.procs {
		m.view = m.byProcess(m.view)
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

func (c *counts) add(r *Row) {
	if r.Proto == "udp" {
		c.udp++
	} else {
		c.tcp++
	}
	c.rateIn += r.RateIn
	c.rateOut += r.RateOut
	if r.opened {
		c.opened++
	}
	if r.Closed {
		c.closed++
	}
}

// byProcess sums the flows of rows per pid and name, as nethogs shows
// them: a row per process with its flows counted and their bytes,
// packets and rates summed. Connections that closed in an earlier tick
// no longer count.
func (m *Model) byProcess(rows []Row) []Row {
	m.grouper.Begin()
	for i := range rows {
		if !rows[i].Gone {
			m.grouper.Add(&rows[i].Row)
		}
	}
	out := rows[:0] // the groups are fewer than the rows, and copied out of the grouper
	_ = m.grouper.Each(func(gr *conn.GroupRow) error {
		r := Row{Row: gr.Row, Flows: int(gr.Connections)}
		r.Closed = false
		out = append(out, r)
		return nil
	})
	return out
}
