package screen

import (
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/tcptop/tcptop/internal/emit"
)

// Layout draws f on a screen width runes wide and height lines high: a
// summary line, a status line, the column header, then as many rows as
// fit, the last line saying "… N more" when some do not. No line is wider
// than width: columns are dropped or shortened to fit (fit), and summary
// items dropped, least important first. It is pure: the same frame and
// size give the same lines.
func Layout(f *Frame, width, height int) []Line {
	if width <= 0 || height <= 0 {
		return nil
	}
	body := height - 3
	var rows []Row
	switch {
	case f.Help || f.Time.IsZero() || f.Total == 0 || body <= 0:
	case f.Total <= body:
		rows = f.Rows[:min(f.Total, len(f.Rows))]
	default:
		rows = f.Rows[:min(body-1, len(f.Rows))]
	}
	lines := []Line{
		{Text: fitItems(summaryItems(f, len(rows)), width)},
		{Text: fitItems(statusItems(f), width)},
	}
	t := newTable(f, rows, width)
	lines = append(lines, Line{Text: t.header(), Style: Bold})
	switch {
	case f.Help:
		lines = append(lines, textLines(helpText, width)...)
	case f.Time.IsZero():
		lines = append(lines, Line{Text: cut("waiting for the first tick (every "+interval(f.Interval)+") …", width, false)})
	case f.Total == 0:
		lines = append(lines, textLines(emptyText(f), width)...)
	default:
		for i := range rows {
			st := Plain
			if rows[i].Closed || rows[i].Gone {
				st = Dim
			}
			lines = append(lines, Line{Text: t.line(i), Style: st})
		}
		if more := f.Total - len(rows); more > 0 {
			lines = append(lines, Line{Text: cut("… "+strconv.Itoa(more)+" more", width, false)})
		}
	}
	return lines[:min(len(lines), height)]
}

// table is the rows' cells and the columns' widths at one screen width.
type table struct {
	f      *Frame
	width  int
	cells  [][numColumns]string
	widths [numColumns]int
}

func newTable(f *Frame, rows []Row, width int) *table {
	t := &table{f: f, width: width, cells: make([][numColumns]string, len(rows))}
	var natural [numColumns]int
	for j := range columns {
		natural[j] = utf8.RuneCountInString(t.name(j))
	}
	var b []byte
	for i := range rows {
		for j, c := range columns {
			b = c.cell(b[:0], &rows[i])
			t.cells[i][j] = string(b)
			natural[j] = max(natural[j], utf8.RuneCount(b))
		}
	}
	t.widths = fit(natural, width)
	return t
}

// name is column j's header, with an arrow on the columns the rows are
// sorted by: ▼ largest first, ▲ smallest first.
func (t *table) name(j int) string {
	for _, c := range t.f.SortCol {
		if c == j {
			if t.f.Desc {
				return columns[j].name + "▼"
			}
			return columns[j].name + "▲"
		}
	}
	return columns[j].name
}

func (t *table) header() string {
	return t.join(func(j int) string { return t.name(j) })
}

func (t *table) line(i int) string {
	return t.join(func(j int) string { return t.cells[i][j] })
}

// join lays out one line: each kept column cut to its width and padded,
// the last one not padded on the right; the line is cut to the screen if
// even the narrowest columns are too wide for it.
func (t *table) join(cell func(j int) string) string {
	var b strings.Builder
	last := -1
	for j, w := range t.widths {
		if w >= 0 {
			last = j
		}
	}
	for j, w := range t.widths {
		if w < 0 {
			continue
		}
		if b.Len() > 0 {
			b.WriteString(columnGap)
		}
		s := cut(cell(j), w, columns[j].middle)
		pad := strings.Repeat(" ", w-utf8.RuneCountInString(s))
		switch {
		case columns[j].right:
			b.WriteString(pad + s)
		case j == last:
			b.WriteString(s)
		default:
			b.WriteString(s + pad)
		}
	}
	return cut(b.String(), t.width, false)
}

// item is one part of a summary or status line; when the line is too
// wide, the items of lowest rank go first.
type item struct {
	text string
	rank int
}

// fitItems joins items with two blanks, leaving out the lowest ranked
// until the line fits, and cuts what still does not.
func fitItems(items []item, width int) string {
	for {
		var parts []string
		lowest := -1
		for i, it := range items {
			if it.text == "" {
				continue
			}
			parts = append(parts, it.text)
			if lowest < 0 || it.rank < items[lowest].rank {
				lowest = i
			}
		}
		line := strings.Join(parts, "  ")
		if utf8.RuneCountInString(line) <= width || len(parts) <= 1 {
			return cut(line, width, false)
		}
		items[lowest].text = ""
	}
}

// summaryItems: the time, the interval, rows shown of all, TCP and UDP,
// total rates, opens and closes, kernel-side drops.
func summaryItems(f *Frame, shown int) []item {
	if f.Time.IsZero() {
		return []item{{"tcptop", 1}, {"every " + interval(f.Interval), 2}}
	}
	return []item{
		{"tcptop", 1},
		{f.Time.Format(time.TimeOnly), 6},
		{"every " + interval(f.Interval), 3},
		{"shown " + strconv.Itoa(shown) + "/" + strconv.Itoa(f.Total), 9},
		{"tcp " + strconv.Itoa(f.TCP) + " udp " + strconv.Itoa(f.UDP), 7},
		{"in " + rate(f.RateIn) + " out " + rate(f.RateOut), 10},
		{"opened " + strconv.Itoa(f.Opened) + " closed " + strconv.Itoa(f.Closed), 5},
		{f.Drops, 8},
	}
}

// statusItems: the sort, the filter, TCP or UDP only, pause, a warning,
// and how to get help.
func statusItems(f *Frame) []item {
	items := []item{{"sort " + f.Sort, 7}}
	if f.Filter != "" {
		items = append(items, item{"where " + oneLine(f.Filter), 6})
	}
	if f.Proto != "" {
		items = append(items, item{strings.ToUpper(f.Proto) + " only", 9})
	}
	if f.Paused {
		items = append(items, item{"PAUSED", 10})
	}
	items = append(items, item{f.Message, 8}, item{"? keys  q quit", 1})
	return items
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

func rate(v float64) string { return string(emit.AppendSize(nil, v, "/s")) }

// interval writes 1s, 500ms, 1m30s without the zero units Duration.String
// adds ("1m0s").
func interval(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

func emptyText(f *Frame) string {
	what, again := "connections", ""
	if f.Proto != "" {
		what = strings.ToUpper(f.Proto) + " connections"
		again = " (press " + f.Proto[:1] + " again for all)"
	}
	if f.Filter != "" {
		return "No " + what + " match the filter in this tick" + again + "."
	}
	if f.Proto != "" {
		return "No " + what + " in this tick" + again + "."
	}
	return "No connections in this tick: tcptop is watching and shows them as they come."
}

var helpText = `Keys
  q        quit (Ctrl-C too)
  s / S    sort by the next / previous column: rate (RX/s + TX/s),
           RX/s, TX/s, RX, TX, packets, RTT, PID, COMM, REMOTE
  r        reverse the sort
  p        pause the screen (counting goes on)
  t / u    only TCP / only UDP (the same key again: both)
  ?        this help (any other key closes it)

Rows are the flows of the last tick that --where and -p let through; a
closed connection stays for a few ticks, marked CLOSED. RX/s and TX/s
are bytes per second received and sent, RX and TX totals. Every field,
as a stream: tcptop --screen=never, tcptop | cat, tcptop -o ndjson.`

// textLines splits text into lines cut to width.
func textLines(text string, width int) []Line {
	var out []Line
	for l := range strings.SplitSeq(text, "\n") {
		out = append(out, Line{Text: cut(l, width, false)})
	}
	return out
}
