package emit

import (
	"fmt"
	"io"
	"math"
	"strconv"
	"unicode/utf8"
	"unsafe"

	"github.com/tcptop/tcptop/internal/conn"
	"github.com/tcptop/tcptop/internal/escape"
)

// appenderNDJSON is the hand-written NDJSON writer that tcptop used
// before goccy/go-json (ndjson.go): a schema-driven appender with the
// keys pre-rendered with their commonest values (zero, both booleans) and
// integers written two digits at a time. It stays here as the baseline of
// BenchmarkNDJSONEncoders, which decides between the two (docs/design.md:
// the appender had to be 2× faster to stay), and as a second, independent
// reference for the writer's text (TestNDJSONMatchesAppender).
type appenderNDJSON struct {
	lines
	rec   appenderRecord  // rows (or grouped rows)
	stats *appenderRecord // --stats records, made at the first
	time  string
}

// appenderRecord is how one shape of record is written: its columns, the
// text before each value, and a stamp per time column.
type appenderRecord struct {
	cols      []column
	keys      []appenderKey
	stamps    []stamp
	quoteTime bool
}

// appenderKey is the text before a column's value, `{"timestamp":` or
// `,"tick":`, and the key with the commonest values already written: zero
// for numbers (idle flows have zero deltas and rates), both booleans. One
// append instead of two is a tenth of the cost of a row.
type appenderKey struct {
	key, zero, yes string
}

func newAppenderNDJSON(w io.Writer, cols []column, timeFormat string) *appenderNDJSON {
	return &appenderNDJSON{lines: newLines(w), rec: newAppenderRecord(cols, timeFormat), time: timeFormat}
}

func newAppenderRecord(cols []column, timeFormat string) appenderRecord {
	rec := appenderRecord{cols: cols, stamps: make([]stamp, len(cols)),
		quoteTime: timeFormat == "" || timeFormat == TimeRFC3339}
	for i, c := range cols {
		sep := ","
		if i == 0 {
			sep = "{"
		}
		k := sep + strconv.Quote(c.name) + ":"
		zero, yes := k+"0", ""
		if c.kind == kBool {
			zero, yes = k+"false", k+"true"
		}
		rec.keys = append(rec.keys, appenderKey{key: k, zero: zero, yes: yes})
		rec.stamps[i].format = timeFormat
	}
	return rec
}

// Begin implements Writer.
func (n *appenderNDJSON) Begin(Tick) error { return n.err }

// Row implements Writer.
func (n *appenderNDJSON) Row(r *conn.Row) error { return n.record(unsafe.Pointer(r)) }

func (n *appenderNDJSON) record(p unsafe.Pointer) error { return n.write(&n.rec, p) }

// Stats implements StatsWriter.
func (n *appenderNDJSON) Stats(s *conn.Stats) error {
	if n.stats == nil {
		rec := newAppenderRecord(columnsOf(conn.StatsFields), n.time)
		n.stats = &rec
	}
	return n.write(n.stats, unsafe.Pointer(s))
}

func (n *appenderNDJSON) write(rec *appenderRecord, p unsafe.Pointer) error {
	if n.err != nil {
		return n.err
	}
	start := len(n.buf)
	b, err := rec.append(n.buf, p)
	if err != nil {
		n.buf = b
		n.drop(start)
		return err
	}
	n.buf = append(b, '}', '\n')
	return n.done(start)
}

// End implements Writer.
func (n *appenderNDJSON) End() error { return n.flush() }

func (rec *appenderRecord) append(b []byte, p unsafe.Pointer) ([]byte, error) {
	for i := range rec.cols {
		c, k := &rec.cols[i], &rec.keys[i]
		switch c.kind {
		case kString:
			// Escaped as in every format first (internal/escape): a
			// consumer gets the same text as from CSV, and invalid UTF-8
			// survives, which a JSON string cannot carry.
			b = appendJSONString(append(b, k.key...), escape.String(c.str(p)))
		case kInt:
			b = appendNDJSONInt(b, k, c.int(p))
		case kInt64:
			b = appendNDJSONInt(b, k, c.int64(p))
		case kFloat:
			f := c.float(p)
			if f == 0 {
				b = append(b, k.zero...)
				break
			}
			var err error
			if b, err = appendJSONFloat(append(b, k.key...), f); err != nil {
				return b, fmt.Errorf("encode %s: %w", c.name, err)
			}
		case kBool:
			if c.bool(p) {
				b = append(b, k.yes...)
			} else {
				b = append(b, k.zero...)
			}
		case kAddr:
			b = append(appendAddr(append(append(b, k.key...), '"'), c.addr(p)), '"')
		case kTime:
			if rec.quoteTime {
				b = append(rec.stamps[i].append(append(append(b, k.key...), '"'), c.time(p)), '"')
			} else {
				b = rec.stamps[i].append(append(b, k.key...), c.time(p))
			}
		}
	}
	return b, nil
}

func appendNDJSONInt(b []byte, k *appenderKey, v int64) []byte {
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

// appendJSONFloat appends f as encoding/json (and goccy/go-json) write a
// float64: the shortest decimal that reads back exactly, in exponent form
// only below 1e-6 or from 1e21, with a two-digit exponent shortened. It
// fails on NaN and the infinities, which JSON cannot carry.
func appendJSONFloat(b []byte, f float64) ([]byte, error) {
	if f == 0 {
		return append(b, '0'), nil // the rate of an idle flow
	}
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return b, fmt.Errorf("%v is not a JSON number", f)
	}
	format := byte('f')
	if abs := math.Abs(f); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if format == 'e' {
		// e-07 becomes e-7, as encoding/json writes it.
		if n := len(b); n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b, nil
}
