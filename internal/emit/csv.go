package emit

import (
	"bytes"
	"io"
	"reflect"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/tcptop/tcptop/internal/conn"
)

// csvWriter writes RFC 4180 CSV: the header is conn.FieldNames(), values
// follow conn.Fields, so the columns cannot drift from the schema. Lines
// end in "\n" (as encoding/csv writes by default, and as Miller, xsv and
// pandas read). Strings are written as-is and quoted only when needed,
// integers in base 10, booleans as true/false, and floats (the rates) in
// the shortest decimal form that reads back exactly, without an exponent
// (strconv 'f', -1: 500, 1234.5, 0.25), so every tool parses them as
// numbers.
type csvWriter struct {
	w         io.Writer
	buf       bytes.Buffer
	headerDue bool
}

func newCSV(w io.Writer, header bool) *csvWriter {
	return &csvWriter{w: w, headerDue: header}
}

// WriteTick implements Writer.
func (c *csvWriter) WriteTick(rows []conn.Row) error {
	if c.headerDue {
		c.headerDue = false
		// Schema names are snake_case (a conn test enforces it): no quoting.
		c.buf.WriteString(strings.Join(conn.FieldNames(), ","))
		c.buf.WriteByte('\n')
	}
	for i := range rows {
		c.writeRow(reflect.ValueOf(&rows[i]).Elem())
	}
	return flush(c.w, &c.buf)
}

func (c *csvWriter) writeRow(rv reflect.Value) {
	// Append straight into the buffer's spare capacity.
	b := c.buf.AvailableBuffer()
	for i, f := range conn.Fields {
		if i > 0 {
			b = append(b, ',')
		}
		v := rv.Field(f.Index)
		switch f.Kind {
		case conn.KindString:
			b = appendCSVString(b, v.String())
		case conn.KindInt:
			b = strconv.AppendInt(b, v.Int(), 10)
		case conn.KindFloat:
			b = strconv.AppendFloat(b, v.Float(), 'f', -1, 64)
		case conn.KindBool:
			b = strconv.AppendBool(b, v.Bool())
		}
	}
	b = append(b, '\n')
	c.buf.Write(b)
}

// appendCSVString appends s, quoted if it must be. The rule is
// encoding/csv's: quote a field containing a comma, a quote, CR or LF, or
// starting with white space, or the field `\.` (a PostgreSQL end marker);
// a quote inside a quoted field is doubled.
func appendCSVString(b []byte, s string) []byte {
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
	if s == `\.` {
		return true
	}
	// A byte loop: strings.ContainsAny builds a set on every call, which
	// showed up in the profile.
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case ',', '"', '\r', '\n':
			return true
		}
	}
	r, _ := utf8.DecodeRuneInString(s)
	return unicode.IsSpace(r)
}
