package emit

import (
	"io"
	"math"
	"net/netip"
	"strconv"
	"unicode/utf8"
	"unsafe"

	"github.com/tcptop/tcptop/internal/conn"
	"github.com/tcptop/tcptop/internal/escape"
)

// textWriter writes aligned columns for people, streaming: each tick is a
// "--- tick N <timestamp>  K flows ---" line followed by its rows, and the
// screen is never cleared. Column widths start at defaults that fit IPv4
// traffic and only ever grow: when a value (an IPv6 address, say) does not
// fit, its column widens for good and the header is printed again, so
// every row lines up under the nearest header above it.
//
// A row is made for awk as well: no cell has a blank inside it (sizes are
// "10KiB", a process name's blanks are escaped, see appendText), so field
// N of every row is the same column, and the markers are the last fields.
type textWriter struct {
	lines
	header    bool // print column names at all
	headerDue bool
	cols      []textColumn // textLayout, or the columns of --fields (textfields.go)
	marks     bool         // flag closed and partial rows (textLayout only)
	stamp     stamp        // the tick line's time
	noun      string       // what the tick line counts: "flow" (""), or "group"
	started   bool         // a tick has ended: the first one prints its header even without rows
	widths    []int        // current width of each column, in runes

	// The tick being written and its cells: cell j of row i is
	// arena[ends[k-1]:ends[k]] with k = i*len(cols)+j.
	tick     Tick
	rows     int
	listens  int // of rows, listeners' (--listeners): the tick line counts them apart
	rowMarks []string
	grew     bool // a column widened during this tick
	arena    []byte
	ends     []int
}

// textColumn is one column of the text format: a name, an alignment
// (numbers right, text left), a starting width, and how to render it,
// all from the field's tags (textfields.go).
type textColumn struct {
	name  string
	right bool
	width int
	cell  func(b []byte, r *conn.Row) []byte
}

// columnGap separates columns.
const columnGap = "  "

func newText(w io.Writer, header bool) *textWriter {
	return newTextWith(w, header, textLayout(""), true, "")
}

func newTextWith(w io.Writer, header bool, cols []textColumn, marks bool, timeFormat string) *textWriter {
	t := &textWriter{lines: newLines(w), header: header, headerDue: header, cols: cols, marks: marks}
	t.stamp.format = timeFormat
	t.widths = make([]int, len(cols))
	for j, c := range cols {
		t.widths[j] = max(c.width, len(c.name))
	}
	return t
}

// Begin implements Writer.
func (t *textWriter) Begin(tick Tick) error {
	t.tick, t.rows, t.listens, t.grew = tick, 0, 0, false
	t.arena, t.ends, t.rowMarks = t.arena[:0], t.ends[:0], t.rowMarks[:0]
	return t.err
}

// Row implements Writer: it formats the row's cells and widens the
// columns that need it; the lines are written by End.
func (t *textWriter) Row(r *conn.Row) error { return t.record(unsafe.Pointer(r)) }

// record formats the cells of the record at p: a conn.Row, or a
// conn.GroupRow, which starts with one (the cells of textColumnsOf read
// it by offsets).
func (t *textWriter) record(p unsafe.Pointer) error {
	if t.err != nil {
		return t.err
	}
	r := (*conn.Row)(p)
	for j, c := range t.cols {
		start := len(t.arena)
		t.arena = c.cell(t.arena, r)
		t.ends = append(t.ends, len(t.arena))
		if n := utf8.RuneCount(t.arena[start:]); n > t.widths[j] {
			t.widths[j], t.grew = n, true
		}
	}
	mark := ""
	if t.marks {
		mark = marker(r)
	}
	t.rowMarks = append(t.rowMarks, mark)
	t.rows++
	if r.State == conn.StateListen {
		t.listens++
	}
	return nil
}

// End implements Writer. A tick without rows writes nothing, a tick line
// with no rows under it being only noise, except the first one when a
// header is due: its tick line and the header show that tcptop runs on a
// host that is idle.
func (t *textWriter) End() error {
	first := !t.started
	t.started = true
	if t.err != nil || t.rows == 0 && !(first && t.headerDue) {
		return t.err
	}
	if t.grew && t.header {
		t.headerDue = true
	}
	t.writeTickLine()
	if t.headerDue {
		t.headerDue = false
		start := len(t.buf)
		t.writeLine(func(j int) []byte { return []byte(t.cols[j].name) }, "")
		if err := t.done(start); err != nil {
			return err
		}
	}
	for i := range t.rows {
		base := i * len(t.cols)
		start := len(t.buf)
		t.writeLine(func(j int) []byte { return t.cell(base + j) }, t.rowMarks[i])
		if err := t.done(start); err != nil {
			return err
		}
	}
	return t.flush()
}

// writeTickLine writes "--- tick 3  2026-01-02T15:04:05.000000Z  12 flows ---",
// with ", 2 listeners" before the dashes where --listeners gave some.
func (t *textWriter) writeTickLine() {
	b := append(t.buf, "--- tick "...)
	b = strconv.AppendInt(b, t.tick.N, 10)
	b = append(b, "  "...)
	b = t.stamp.append(b, t.tick.Time)
	b = append(b, "  "...)
	noun := t.noun
	if noun == "" {
		noun = "flow"
	}
	b = appendCount(b, t.rows-t.listens, noun)
	if t.listens > 0 {
		b = appendCount(append(b, ", "...), t.listens, "listener")
	}
	b = append(b, " ---\n"...)
	t.buf = b
}

// appendCount appends "1 flow" or "N flows".
func appendCount(b []byte, n int, noun string) []byte {
	b = strconv.AppendInt(b, int64(n), 10)
	b = append(append(b, ' '), noun...)
	if n != 1 {
		b = append(b, 's')
	}
	return b
}

func (t *textWriter) cell(k int) []byte {
	start := 0
	if k > 0 {
		start = t.ends[k-1]
	}
	return t.arena[start:t.ends[k]]
}

// writeLine writes one padded line: cell(j) for each column, then the
// marker if any. The last column is not padded on the right, so lines carry
// no trailing blanks.
func (t *textWriter) writeLine(cell func(j int) []byte, mark string) {
	b := t.buf
	last := len(t.cols) - 1
	for j, c := range t.cols {
		v := cell(j)
		pad := t.widths[j] - utf8.RuneCount(v)
		if j > 0 {
			b = append(b, columnGap...)
		}
		if c.right {
			b = appendSpaces(b, pad)
		}
		b = append(b, v...)
		if !c.right && (j < last || mark != "") {
			b = appendSpaces(b, pad)
		}
	}
	if mark != "" {
		b = append(b, columnGap...)
		b = append(b, mark...)
	}
	t.buf = append(b, '\n')
}

const spaces = "                                "

func appendSpaces(b []byte, n int) []byte {
	for n > len(spaces) {
		b = append(b, spaces...)
		n -= len(spaces)
	}
	if n > 0 {
		b = append(b, spaces[:n]...)
	}
	return b
}

// marker flags rows whose counters need a second look.
func marker(r *conn.Row) string {
	switch {
	case r.Closed && r.Partial:
		return "[CLOSED] [PARTIAL]"
	case r.Closed:
		return "[CLOSED]"
	case r.Partial:
		return "[PARTIAL]"
	}
	return ""
}

// appendText appends s as one blank-free field, escaped as in every
// format (internal/escape) and each byte of a blank too, so "my app" is
// my\x20app and a backslash always starts an escape. An empty string is
// shown as "-".
func appendText(b []byte, s string) []byte {
	if s == "" {
		return append(b, '-')
	}
	return escape.AppendWord(b, s)
}

// AppendHostPort appends addr:port, bracketing IPv6 addresses as in URLs.
// The text format and the live screen (internal/screen) write endpoints,
// sizes and round-trip times alike.
func AppendHostPort(b []byte, addr netip.Addr, port int) []byte {
	if addr.Is6() {
		b = append(b, '[')
		b = appendAddr(b, addr)
		b = append(b, ']')
	} else {
		b = appendAddr(b, addr)
	}
	b = append(b, ':')
	return strconv.AppendInt(b, int64(port), 10)
}

var sizeUnits = [...]string{"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"}

// AppendSize appends v bytes in binary units, then suffix, without a
// blank (one field for awk). Like ls -h it shows about two significant
// digits: whole bytes below 1 KiB, one decimal below 10 of a unit, none
// above: "0B", "512B", "1.2KiB", "340KiB", "7.3MiB", "1.0GiB".
func AppendSize(b []byte, v float64, suffix string) []byte {
	u := 0
	// Move up a unit when the value would print as 1024 or more.
	for u < len(sizeUnits)-1 && roundTo(v, sizeDecimals(u, v)) >= 1024 {
		v /= 1024
		u++
	}
	b = strconv.AppendFloat(b, v, 'f', sizeDecimals(u, v), 64)
	b = append(b, sizeUnits[u]...)
	return append(b, suffix...)
}

func sizeDecimals(unit int, v float64) int {
	if unit > 0 && v < 9.95 {
		return 1
	}
	return 0
}

func roundTo(v float64, decimals int) float64 {
	p := math.Pow10(decimals)
	return math.Round(v*p) / p
}

// AppendRTT appends a round-trip time given in microseconds: "850us",
// "12.3ms", "1.20s"; "-" when unknown (zero).
func AppendRTT(b []byte, us int64) []byte {
	switch {
	case us <= 0:
		return append(b, '-')
	case us < 1000:
		return append(strconv.AppendInt(b, us, 10), "us"...)
	case us < 999_950: // below what would round to 1000.0ms
		return append(strconv.AppendFloat(b, float64(us)/1e3, 'f', 1, 64), "ms"...)
	}
	return append(strconv.AppendFloat(b, float64(us)/1e6, 'f', 2, 64), 's')
}

// AppendMillis appends a time given in milliseconds, about three digits
// and no blank, rounded: "0ms", "850ms", "12.3s", "4m05s", "3h07m".
func AppendMillis(b []byte, ms int64) []byte {
	if ms < 1000 {
		return append(strconv.AppendInt(b, ms, 10), "ms"...)
	}
	if ms < 59_950 { // below what would round to 60.0s
		return append(strconv.AppendFloat(b, float64(ms)/1e3, 'f', 1, 64), 's')
	}
	if s := (ms + 500) / 1000; s < 3600 {
		b = append(strconv.AppendInt(b, s/60, 10), 'm')
		return append(appendTwo(b, s%60), 's')
	}
	m := (ms + 30_000) / 60_000
	b = append(strconv.AppendInt(b, m/60, 10), 'h')
	return append(appendTwo(b, m%60), 'm')
}
