package emit

import (
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"net/netip"
	"strconv"
	"time"
	"unsafe"

	"github.com/tcptop/tcptop/internal/conn"
	"github.com/tcptop/tcptop/internal/escape"
)

// ndjsonWriter writes one JSON object per row per line, appended straight
// from the schema's columns. The keys are Row's json tags (or those picked
// by --fields), so every key is present in every object and in schema
// order. Values are as encoding/json writes them with HTML escaping off:
// strings escaped first (internal/escape), integers in base 10, rates as
// JSON numbers with as many digits as they need (500, 1234.5), addresses
// as strings, times as strings or, with --time-format unix or unix_ms,
// numbers.
//
// Until 2026-12-07 goccy/go-json encoded a struct made for the columns
// (goccywriter_test.go keeps that writer); the text is the same byte for
// byte, and the all-rows tick at 50,000 connections takes 0.57-0.74 times
// the CPU with this one (docs/design.md, 2026-12-07 session 09:00), which
// the 1 µs target needed.
type ndjsonWriter struct {
	lines
	rec   ndjsonRecord  // rows (or grouped rows)
	stats *ndjsonRecord // --stats records, made at the first
	time  string
}

// ndjsonRecord is how one shape of record is written: its columns, the
// text before each value, and per column a memo of its last text.
type ndjsonRecord struct {
	cols      []column
	ops       []ndjsonOp // per column, what the loop over a record reads
	keys      []ndjsonKey
	stamps    []stamp    // per time column
	memos     []memo     // per string column
	addrs     []addrMemo // per address column
	ints      []intMemo  // per integer column
	zeros     []zeroRun  // per column
	quoteTime bool
}

// ndjsonKey is the text before a column's value, `{"timestamp":` or
// `,"tick":`, and the key with the commonest values already written: zero
// for numbers (idle flows have zero deltas and rates), both booleans, so
// that they take one append.
type ndjsonKey struct {
	key, zero, yes string
}

func newNDJSON(w io.Writer) *ndjsonWriter { return newNDJSONWith(w, columns, "") }

func newNDJSONWith(w io.Writer, cols []column, timeFormat string) *ndjsonWriter {
	return &ndjsonWriter{lines: newLines(w), rec: newNDJSONRecord(cols, timeFormat), time: timeFormat}
}

func newNDJSONRecord(cols []column, timeFormat string) ndjsonRecord {
	rec := ndjsonRecord{cols: cols, stamps: make([]stamp, len(cols)), memos: make([]memo, len(cols)),
		addrs: make([]addrMemo, len(cols)), ints: make([]intMemo, len(cols)), quoteTime: timeFormat == "" || timeFormat == TimeRFC3339}
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
	rec.zeros = zeroRuns(cols, rec.keys)
	for i, c := range cols {
		rec.ops = append(rec.ops, ndjsonOp{off: c.off, kind: c.kind, run: rec.zeros[i].n > 1})
	}
	return rec
}

// ndjsonOp is a column as the loop over a record reads it, in 16 bytes: a
// column (a few hundred, with its schema field) took a cache line of its
// own at every step of the loop.
type ndjsonOp struct {
	off  uintptr
	kind valueKind
	run  bool // the column starts a run of usual values (zeroRun) of more than one
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
		n.drop(start) // no partial line
		return err
	}
	n.buf = append(b, '}', '\n')
	return n.done(start)
}

// End implements Writer.
func (n *ndjsonWriter) End() error { return n.flush() }

// append appends the record at p's keys and values, without the closing
// brace. A rate that is not a number is an error naming the field.
func (rec *ndjsonRecord) append(b []byte, p unsafe.Pointer) ([]byte, error) {
	for i := 0; i < len(rec.ops); i++ {
		o := &rec.ops[i]
		v := unsafe.Add(p, o.off)
		if o.run {
			z := &rec.zeros[i]
			if n := usualWords(v, z.want); n > 1 {
				b = append(b, z.text[:z.ends[n-1]]...)
				i += n - 1
				continue
			}
		}
		k := &rec.keys[i]
		switch o.kind {
		case kString:
			b = rec.memos[i].append(b, k.key, *(*string)(v))
		case kInt:
			b = rec.ints[i].append(b, k, int64(*(*int)(v)))
		case kInt64:
			b = rec.ints[i].append(b, k, *(*int64)(v))
		case kFloat:
			f := *(*float64)(v)
			if f == 0 && !math.Signbit(f) { // -0 is written "-0", as encoding/json writes it
				b = append(b, k.zero...)
				break
			}
			var err error
			if b, err = appendJSONFloat(append(b, k.key...), f); err != nil {
				return b, fmt.Errorf("encode %s: %w", rec.cols[i].name, err)
			}
		case kBool:
			if *(*bool)(v) {
				b = append(b, k.yes...)
			} else {
				b = append(b, k.zero...)
			}
		case kAddr:
			b = append(b, rec.addrs[i].text(k.key, *(*netip.Addr)(v))...)
		case kTime:
			b = append(b, k.key...)
			if rec.quoteTime {
				b = append(rec.stamps[i].append(append(b, '"'), *(*time.Time)(v)), '"')
			} else {
				b = rec.stamps[i].append(b, *(*time.Time)(v))
			}
		}
	}
	return b, nil
}

// intMemo remembers an integer column's last nonzero value and, once it
// came twice in a row, its text in the line, key included: many columns
// hold the same value row after row (a host's netns and cgroup_id, the
// window and cwnd of idle connections, their handshake's packets), and
// one append of the text costs less than the key's append and the
// digits'. A value of a row's own (a port, an RTT) costs only its store:
// the text is kept from its second row on.
type intMemo struct {
	v    int64
	out  []byte // v's text, if kept
	kept bool
}

// append appends key and v as the line carries them.
func (m *intMemo) append(b []byte, k *ndjsonKey, v int64) []byte {
	if v == 0 {
		return append(b, k.zero...)
	}
	if v == m.v && m.kept {
		return append(b, m.out...)
	}
	start := len(b)
	b = appendInt(append(b, k.key...), v)
	if v == m.v {
		m.out, m.kept = append(m.out[:0], b[start:]...), true
	} else {
		m.v, m.kept = v, false
	}
	return b
}

// memo remembers a string column's last value and its text in the line:
// the key and the value escaped (internal/escape: the same text as CSV
// carries, and invalid UTF-8 survives, which a JSON string cannot carry)
// and quoted. Most rows hand out the very strings of the row before
// (proto, family, state and cc are interned, and so are an owner's comm
// and cgroup): the same pointer and length are the same bytes, as Go
// strings are immutable, so they take one append. Equal bytes at another
// address are escaped again: comparing them would cost about what
// escaping does (memeqbody took 7% when a memo compared bytes).
type memo struct {
	in  string
	out []byte // nil until the first value
}

// append appends key and s as the line carries them. A string of another
// row's own (a Community ID: every row has its own) that is printable
// ASCII without a quote or backslash, as most are, is the same text
// escaped or not: it is appended at once, in one pass over its bytes
// instead of three (escape's, the JSON quoting's, the copy from the
// memo), and the memo keeps the string it had, which the next row likely
// shares.
func (m *memo) append(b []byte, key, s string) []byte {
	if m.out != nil && len(s) == len(m.in) && unsafe.StringData(s) == unsafe.StringData(m.in) {
		return append(b, m.out...)
	}
	if m.out != nil && plainJSON(s) {
		b = append(append(b, key...), '"')
		return append(append(b, s...), '"')
	}
	m.in = s
	m.out = appendJSONString(append(m.out[:0], key...), escape.String(s))
	return append(b, m.out...)
}

// plainJSON reports whether s is the same text escaped (internal/escape)
// and as a JSON string's content: printable ASCII without '"' or '\\'.
// Eight bytes are checked at a time (a Community ID is 30): a byte's high
// bit is set in bad where it is below 0x20, 0x7f or above, '"' or '\\'.
func plainJSON(s string) bool {
	const ones, highs, lows = 0x0101010101010101, 0x8080808080808080, 0x7f7f7f7f7f7f7f7f
	i := 0
	for ; i+8 <= len(s); i += 8 {
		x := binary.LittleEndian.Uint64(unsafe.Slice(unsafe.StringData(s[i:]), 8))
		low := x & lows
		bad := x | (low + ones) | ^(low + (0x80-0x20)*ones) | zeroBytes(x^'"'*ones) | zeroBytes(x^'\\'*ones)
		if bad&highs != 0 {
			return false
		}
	}
	for ; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}

// zeroBytes sets the high bit of each byte of x that is 0, and of no
// other (no carry crosses a byte: each sum is at most 0xfe).
func zeroBytes(x uint64) uint64 {
	const lows = 0x7f7f7f7f7f7f7f7f
	return ^((x&lows + lows) | x)
}

// addrMemo remembers an address column's last value and its text in the
// line, key included: most rows of a host share their local address, and
// formatting one took 2% of an NDJSON row's CPU at 50,000 connections
// (perf, 2026-12-07).
type addrMemo struct {
	a   netip.Addr
	out []byte // nil until the first value
}

// text returns key and a as the line carries them: "" for an unset
// address.
func (m *addrMemo) text(key string, a netip.Addr) []byte {
	if m.out == nil || a != m.a {
		m.a = a
		m.out = append(appendAddr(append(append(m.out[:0], key...), '"'), a), '"')
	}
	return m.out
}
