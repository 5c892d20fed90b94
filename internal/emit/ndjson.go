package emit

import (
	"fmt"
	"io"
	"strconv"
	"unicode/utf8"
	"unsafe"

	"github.com/tcptop/tcptop/internal/conn"
	"github.com/tcptop/tcptop/internal/escape"
)

// ndjsonWriter writes one JSON object per row per line. The keys are Row's
// json tags (or those picked by --fields), so every key is present in
// every object and in schema order. Values are written by a schema-driven
// appender (columns), byte for byte what encoding/json or goccy/go-json
// write for the same values, strings escaped (internal/escape), with HTML
// escaping off (a test checks this against goccy): integers in base 10,
// rates as JSON numbers with as many digits as they need (500, 1234.5), addresses as strings, times as
// strings or, with --time-format unix or unix_ms, numbers. docs/design.md
// has the measurement behind writing it by hand.
type ndjsonWriter struct {
	lines
	rec   ndjsonRecord  // rows (or grouped rows)
	stats *ndjsonRecord // --stats records, made at the first
	time  string
}

// ndjsonRecord is how one shape of record is written: its columns, the
// text before each value, and a stamp per time column.
type ndjsonRecord struct {
	cols      []column
	keys      []ndjsonKey
	stamps    []stamp
	quoteTime bool
}

// ndjsonKey is the text before a column's value, `{"timestamp":` or
// `,"tick":`, and the key with the commonest values already written: zero
// for numbers (idle flows have zero deltas and rates), both booleans. One
// append instead of two is a tenth of the cost of a row.
type ndjsonKey struct {
	key, zero, yes string
}

func newNDJSON(w io.Writer) *ndjsonWriter { return newNDJSONWith(w, columns, "") }

func newNDJSONWith(w io.Writer, cols []column, timeFormat string) *ndjsonWriter {
	return &ndjsonWriter{lines: newLines(w), rec: newNDJSONRecord(cols, timeFormat), time: timeFormat}
}

func newNDJSONRecord(cols []column, timeFormat string) ndjsonRecord {
	rec := ndjsonRecord{cols: cols, stamps: make([]stamp, len(cols)),
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
		rec.keys = append(rec.keys, ndjsonKey{key: k, zero: zero, yes: yes})
		rec.stamps[i].format = timeFormat
	}
	return rec
}

// Begin implements Writer.
func (n *ndjsonWriter) Begin(Tick) error { return n.err }

// Row implements Writer.
func (n *ndjsonWriter) Row(r *conn.Row) error { return n.record(unsafe.Pointer(r)) }

func (n *ndjsonWriter) record(p unsafe.Pointer) error { return n.write(&n.rec, p) }

// Stats implements StatsWriter.
func (n *ndjsonWriter) Stats(s *conn.Stats) error {
	if n.stats == nil {
		rec := newNDJSONRecord(columnsOf(conn.StatsFields), n.time)
		n.stats = &rec
	}
	return n.write(n.stats, unsafe.Pointer(s))
}

func (n *ndjsonWriter) write(rec *ndjsonRecord, p unsafe.Pointer) error {
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
func (n *ndjsonWriter) End() error { return n.flush() }

func (rec *ndjsonRecord) append(b []byte, p unsafe.Pointer) ([]byte, error) {
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

func appendNDJSONInt(b []byte, k *ndjsonKey, v int64) []byte {
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
