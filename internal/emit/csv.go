package emit

import (
	"io"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
	"unsafe"

	"github.com/tcptop/tcptop/internal/conn"
	"github.com/tcptop/tcptop/internal/escape"
)

// csvWriter writes RFC 4180 CSV: the header is conn.FieldNames() (or the
// fields --fields picks), values follow the same columns, so the two
// cannot drift from the schema. Lines end in "\n" (as encoding/csv writes
// by default, and as Miller, xsv and pandas read). Strings are escaped
// (internal/escape) and quoted only when needed, a cell starting with = +
// - @ left as it is (docs/security.md); addresses and times as in NDJSON,
// integers in base 10, booleans as true/false, and floats (the rates) in
// the shortest decimal form that reads back exactly, without an exponent
// (strconv 'f', -1: 500, 1234.5, 0.25), so every tool parses them as
// numbers.
type csvWriter struct {
	lines
	headerDue bool
	cols      []column
	stamps    []stamp
}

func newCSV(w io.Writer, header bool) *csvWriter { return newCSVWith(w, header, columns, "") }

func newCSVWith(w io.Writer, header bool, cols []column, timeFormat string) *csvWriter {
	c := &csvWriter{lines: newLines(w), headerDue: header, cols: cols, stamps: make([]stamp, len(cols))}
	for i := range c.stamps {
		c.stamps[i].format = timeFormat
	}
	return c
}

// Begin implements Writer: the header, if due, comes with the first tick.
func (c *csvWriter) Begin(Tick) error {
	if c.headerDue && c.err == nil {
		c.headerDue = false
		// Schema names are snake_case (a conn test enforces it): no quoting.
		start := len(c.buf)
		for i, col := range c.cols {
			if i > 0 {
				c.buf = append(c.buf, ',')
			}
			c.buf = append(c.buf, col.name...)
		}
		c.buf = append(c.buf, '\n')
		return c.done(start)
	}
	return c.err
}

// Row implements Writer.
func (c *csvWriter) Row(r *conn.Row) error { return c.record(unsafe.Pointer(r)) }

func (c *csvWriter) record(p unsafe.Pointer) error {
	if c.err != nil {
		return c.err
	}
	start := len(c.buf)
	b := c.buf
	for i := range c.cols {
		col := &c.cols[i]
		if i > 0 {
			b = append(b, ',')
		}
		switch col.kind {
		case kString:
			b = appendCSVString(b, col.str(p))
		case kInt:
			b = appendInt(b, col.int(p))
		case kInt64:
			b = appendInt(b, col.int64(p))
		case kFloat:
			b = strconv.AppendFloat(b, col.float(p), 'f', -1, 64)
		case kBool:
			b = strconv.AppendBool(b, col.bool(p))
		case kAddr:
			b = appendAddr(b, col.addr(p)) // never needs quotes
		case kTime:
			b = c.stamps[i].append(b, col.time(p))
		}
	}
	c.buf = append(b, '\n')
	return c.done(start)
}

// End implements Writer.
func (c *csvWriter) End() error { return c.flush() }

// appendCSVString appends s escaped (internal/escape), quoted if it must
// be. The rule is encoding/csv's, for text that has no control character
// or backslash once escaped (so no CR, LF, or PostgreSQL's `\.`): quote a
// field containing a comma or a quote, or starting with white space; a
// quote inside a quoted field is doubled.
func appendCSVString(b []byte, s string) []byte {
	s = escape.String(s)
	if !csvNeedsQuotes(s) {
		return append(b, s...)
	}
	b = append(b, '"')
	for {
		i := strings.IndexByte(s, '"')
		if i < 0 {
			break
		}
		b = append(b, s[:i+1]...)
		b = append(b, '"')
		s = s[i+1:]
	}
	b = append(b, s...)
	return append(b, '"')
}

func csvNeedsQuotes(s string) bool {
	if s == "" {
		return false
	}
	// A byte loop: strings.ContainsAny builds a set on every call, which
	// showed up in the profile.
	for i := 0; i < len(s); i++ {
		if s[i] == ',' || s[i] == '"' {
			return true
		}
	}
	r, _ := utf8.DecodeRuneInString(s)
	return unicode.IsSpace(r)
}
