package screen

import (
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/tcptop/tcptop/internal/escape"
)

// Layout draws f on a screen width runes wide and height lines high: a
// summary line, a status line (or the filter being typed), the latest
// warning on a line of its own with its time, the column header, then as
// many rows as fit, the last line saying "… N more" when some do not. No
// line is wider than width: columns are dropped or shortened to fit
// (fit), and summary items dropped, least important first, an "…" in
// their place. It is pure: the same frame and size give the same lines.
func Layout(f *Frame, width, height int) []Line {
	if width <= 0 || height <= 0 {
		return nil
	}
	var msg []Line
	if f.Message != "" {
		msg = []Line{{Text: cut(f.MessageTime.Format(time.TimeOnly)+"  "+f.Message, width, false)}}
	}
	body := height - 3 - len(msg)
	var rows []Row
	switch {
	case f.Help || f.Choices != nil || f.Time.IsZero() || f.Total == 0 || body <= 0:
	case f.Total <= body:
		rows = f.Rows[:min(f.Total, len(f.Rows))]
	default:
		rows = f.Rows[:min(body-1, len(f.Rows))]
	}
	lines := append([]Line{{Text: fitItems(summaryItems(f, len(rows)), width)}, {Text: statusLine(f, width)}}, msg...)
	t := newTable(f, rows, width)
	lines = append(lines, Line{Text: t.header(), Style: Bold})
	switch {
	case f.Help:
		lines = append(lines, textLines(helpText(width), width)...)
	case f.Choices != nil:
		lines = append(lines, chooserLines(f.Choices, width)...)
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
	cells  [][]string // [row][column]
	widths []int
	short  []bool // the column's short cells are shown
}

func newTable(f *Frame, rows []Row, width int) *table {
	t := &table{f: f, width: width, cells: make([][]string, len(rows))}
	in := newWidths()
	for _, j := range f.Cols {
		n := utf8.RuneCountInString(t.name(j))
		in.natural[j], in.short[j], in.least[j] = n, n, n
	}
	shortCells := make([][]string, len(rows))
	var b []byte
	for i := range rows {
		t.cells[i], shortCells[i] = make([]string, len(columns)), make([]string, len(columns))
		for _, j := range f.Cols {
			c := &columns[j]
			b = t.cell(b[:0], j, &rows[i])
			t.cells[i][j] = string(b)
			in.natural[j] = max(in.natural[j], utf8.RuneCount(b))
			if c.endpoint {
				in.least[j] = max(in.least[j], leastEndpoint(t.cells[i][j]))
			}
			if c.short != nil {
				b = c.short(b[:0], &rows[i])
			}
			shortCells[i][j] = string(b)
			in.short[j] = max(in.short[j], utf8.RuneCount(b))
		}
	}
	t.widths, t.short = fit(in, width)
	for j, s := range t.short {
		if s {
			for i := range t.cells {
				t.cells[i][j] = shortCells[i][j]
			}
		}
	}
	return t
}

// cell writes row r's cell of column j: REMOTE as remote_name:port
// where the frame asks for names and the row has one.
func (t *table) cell(b []byte, j int, r *Row) []byte {
	if j == colRemote && t.f.Names && r.RemoteName != "" {
		return strconv.AppendInt(append(escape.Append(b, r.RemoteName), ':'), int64(r.RemotePort), 10)
	}
	return columns[j].cell(b, r)
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
		s := cell(j)
		if columns[j].endpoint {
			s = cutEndpoint(s, w)
		} else {
			s = cut(s, w, false)
		}
		pad := strings.Repeat(" ", max(w-utf8.RuneCountInString(s), 0))
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
