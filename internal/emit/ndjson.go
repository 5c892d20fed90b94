package emit

import (
	"fmt"
	"io"
	"strconv"
	"unicode/utf8"

	"github.com/tcptop/tcptop/internal/conn"
)

// ndjsonWriter writes one JSON object per row per line. The keys are Row's
// json tags, so every key is present in every object and in schema order.
// Values are written by a schema-driven appender (columns), byte for byte
// what encoding/json or goccy/go-json write for the same values with HTML
// escaping off (a test checks this against goccy): integers in base 10,
// rates as JSON numbers with as many digits as they need (500, 1234.5),
// addresses and the timestamp as strings. docs/design.md has the
// measurement behind writing it by hand.
type ndjsonWriter struct {
	lines
	keys  []ndjsonKey
	stamp stamp
}

// ndjsonKey is the text before a column's value, `{"timestamp":` or
// `,"tick":`, and the key with the commonest values already written: zero
// for numbers (idle flows have zero deltas and rates), both booleans. One
// append instead of two is a tenth of the cost of a row.
type ndjsonKey struct {
	key, zero, yes string
}

func newNDJSON(w io.Writer) *ndjsonWriter {
	n := &ndjsonWriter{lines: newLines(w)}
	for i, c := range columns {
		sep := ","
		if i == 0 {
			sep = "{"
		}
		k := sep + strconv.Quote(c.name) + ":"
		zero, yes := k+"0", ""
		if c.kind == kBool {
			zero, yes = k+"false", k+"true"
		}
		n.keys = append(n.keys, ndjsonKey{key: k, zero: zero, yes: yes})
	}
	return n
}

// Begin implements Writer.
func (n *ndjsonWriter) Begin(Tick) error { return n.err }

// Row implements Writer.
func (n *ndjsonWriter) Row(r *conn.Row) error {
	if n.err != nil {
		return n.err
	}
	start := len(n.buf)
	b, err := n.appendRow(n.buf, r)
	if err != nil {
		n.buf = b
		n.drop(start)
		return err
	}
	n.buf = append(b, '}', '\n')
	return n.done(start)
}

// End implements Writer.
func (n *ndjsonWriter) End() error { return n.flush() }

func (n *ndjsonWriter) appendRow(b []byte, r *conn.Row) ([]byte, error) {
	for i := range columns {
		c, k := &columns[i], &n.keys[i]
		switch c.kind {
		case kString:
			b = appendJSONString(append(b, k.key...), c.str(r))
		case kInt:
			b = n.appendInt(b, k, c.int(r))
		case kInt64:
			b = n.appendInt(b, k, c.int64(r))
		case kFloat:
			f := c.float(r)
			if f == 0 {
				b = append(b, k.zero...)
				break
			}
			var err error
			if b, err = appendJSONFloat(append(b, k.key...), f); err != nil {
				return b, fmt.Errorf("encode %s: %w", c.name, err)
			}
		case kBool:
			if c.bool(r) {
				b = append(b, k.yes...)
			} else {
				b = append(b, k.zero...)
			}
		case kAddr:
			b = append(appendAddr(append(append(b, k.key...), '"'), c.addr(r)), '"')
		case kTime:
			b = append(n.stamp.append(append(append(b, k.key...), '"'), c.time(r)), '"')
		}
	}
	return b, nil
}

func (n *ndjsonWriter) appendInt(b []byte, k *ndjsonKey, v int64) []byte {
	if v == 0 {
		return append(b, k.zero...)
	}
	return appendInt(append(b, k.key...), v)
}

// appendJSONString appends s as a JSON string the way encoding/json does
// with HTML escaping off: quote, backslash and control characters escaped
// (\b \f \n \r \t short, the rest \u00XX), invalid UTF-8 as \ufffd, and
// U+2028 and U+2029 escaped for JavaScript's sake.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

const hex = "0123456789abcdef"
