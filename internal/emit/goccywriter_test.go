package emit

import (
	"fmt"
	"io"
	"math"
	"net/netip"
	"reflect"
	"strconv"
	"time"
	"unsafe"

	"github.com/goccy/go-json"

	"github.com/tcptop/tcptop/internal/conn"
	"github.com/tcptop/tcptop/internal/escape"
)

// goccyNDJSON is the NDJSON writer tcptop used from 2026-12-06 to
// 2026-12-07, with goccy/go-json's encoder: each record is copied into a
// struct made for its columns with reflect.StructOf (strings escaped,
// addresses and rfc3339 times as strings aliasing a per-column memo of
// their last text, unix times as json.Number) and goccy encodes that
// struct. The typed appender of ndjson.go replaced it (docs/design.md,
// 2026-12-07 session 09:00); it stays here as the
// baseline of BenchmarkNDJSONEncoders, which measured the change, and as
// an independent reference for the writer's text
// (TestNDJSONMatchesGoccyWriter).
type goccyNDJSON struct {
	lines
	rec   goccyRecord  // rows (or grouped rows)
	stats *goccyRecord // --stats records, made at the first
	time  string
}

// goccyRecord is how one shape of record is written: its columns, the
// struct goccy encodes (one field per column, at offs), a stamp per time
// column, and a memo per string and address column of its last text.
type goccyRecord struct {
	cols   []column
	offs   []uintptr
	wire   unsafe.Pointer
	value  any // wire, boxed once as a pointer to its struct type
	stamps []stamp
	time   string
	enc    *json.Encoder
	memos  []goccyMemo // per column: its last string and that string escaped
	addrs  []goccyAddrMemo
	runs   []int // per integer column: how many columns from it are copied at once
}

// goccyAddrMemo remembers an address column's last value and its text: most
// rows of a host share their local address, and formatting one took 2%
// of an NDJSON row's CPU at 50,000 connections (perf, 2026-12-07).
type goccyAddrMemo struct {
	a    netip.Addr
	text []byte
	set  bool
}

// textOf returns a's text, formatted only when a is not the last address.
// The string aliases the memo's buffer, which the next different address
// overwrites: it is read by the Encode that follows, and never after.
func (m *goccyAddrMemo) textOf(a netip.Addr) string {
	if !m.set || a != m.a {
		m.a, m.set, m.text = a, true, appendAddr(m.text[:0], a)
	}
	return unsafe.String(unsafe.SliceData(m.text), len(m.text))
}

// memo remembers a string column's last value and its escaped text. Most
// rows hand out the very strings of the row before (proto, family, state
// and cc are interned, and so are an owner's comm and cgroup): the same
// pointer and length are the same bytes, as Go strings are immutable, so
// the escaping's byte-by-byte scan, 13% of an NDJSON row's CPU at
// 100,000 rows (BenchmarkPipeline100k/ndjson, pprof), is skipped for
// them: 10% is left, nearly all community_id, new at every row. Equal
// bytes at another address are escaped again: comparing them would cost
// about what escaping does (memeqbody took 7% when the memo compared
// bytes).
type goccyMemo struct{ in, out string }

// escape returns s escaped (escape.String), from the memo when s is its
// last value.
func (m *goccyMemo) escape(s string) string {
	if len(s) != len(m.in) || unsafe.StringData(s) != unsafe.StringData(m.in) {
		m.in, m.out = s, escape.String(s) // the zero memo holds "", which escapes to ""
	}
	return m.out
}

// goccyTrustUTF8 turns off goccy's check of every string byte for invalid
// UTF-8 and U+2028/U+2029: every string it is given was escaped first
// (internal/escape), which leaves valid UTF-8 without those separators,
// and addresses and times are ASCII, so the check never changed a byte;
// it cost a tenth of goccy's time per row (BenchmarkNDJSONEncoders).
var goccyTrustUTF8 = json.DisableNormalizeUTF8()

// goccySink appends what the encoder writes (one line) to the writer's
// buffer of lines.
type goccySink struct{ buf *[]byte }

func (s goccySink) Write(p []byte) (int, error) { *s.buf = append(*s.buf, p...); return len(p), nil }

func newGoccyNDJSON(w io.Writer) *goccyNDJSON { return newGoccyNDJSONWith(w, columns, "") }

func newGoccyNDJSONWith(w io.Writer, cols []column, timeFormat string) *goccyNDJSON {
	n := &goccyNDJSON{lines: newLines(w), time: timeFormat}
	n.rec = newGoccyRecord(cols, timeFormat, &n.buf)
	return n
}

func newGoccyRecord(cols []column, timeFormat string, buf *[]byte) goccyRecord {
	fields := make([]reflect.StructField, len(cols))
	for i, c := range cols {
		fields[i] = reflect.StructField{Name: "F" + strconv.Itoa(i), Type: goccyWireTypeOf(c.kind, timeFormat),
			Tag: reflect.StructTag(`json:` + strconv.Quote(c.name))}
	}
	typ := reflect.StructOf(fields)
	v := reflect.New(typ)
	rec := goccyRecord{cols: cols, wire: v.UnsafePointer(), value: v.Interface(),
		stamps: make([]stamp, len(cols)), time: timeFormat, memos: make([]goccyMemo, len(cols)),
		addrs: make([]goccyAddrMemo, len(cols))}
	for i := range cols {
		rec.offs = append(rec.offs, typ.Field(i).Offset)
		rec.stamps[i].format = timeFormat
	}
	rec.runs = goccyIntRuns(cols, rec.offs)
	rec.enc = json.NewEncoder(goccySink{buf})
	rec.enc.SetEscapeHTML(false)
	return rec
}

// goccyWireTypeOf is the Go type goccy encodes a column of kind k as.
func goccyWireTypeOf(k valueKind, timeFormat string) reflect.Type {
	switch k {
	case kInt, kInt64:
		return reflect.TypeFor[int64]()
	case kFloat:
		return reflect.TypeFor[float64]()
	case kBool:
		return reflect.TypeFor[bool]()
	case kTime:
		switch timeFormat {
		case TimeUnix:
			return reflect.TypeFor[json.Number]()
		case TimeUnixMs:
			return reflect.TypeFor[int64]()
		}
	}
	return reflect.TypeFor[string]() // strings, addresses, rfc3339 times
}

// Begin implements Writer.
func (n *goccyNDJSON) Begin(Tick) error { return n.err }

// Row implements Writer.
func (n *goccyNDJSON) Row(r *conn.Row) error { return n.record(unsafe.Pointer(r)) }

func (n *goccyNDJSON) record(p unsafe.Pointer) error { return n.write(&n.rec, p) }

// Stats implements StatsWriter.
func (n *goccyNDJSON) Stats(s *conn.Stats) error {
	if n.stats == nil {
		rec := newGoccyRecord(columnsOf(conn.StatsFields), n.time, &n.buf)
		n.stats = &rec
	}
	return n.write(n.stats, unsafe.Pointer(s))
}

func (n *goccyNDJSON) write(rec *goccyRecord, p unsafe.Pointer) error {
	if n.err != nil {
		return n.err
	}
	if err := rec.fill(p); err != nil {
		return err
	}
	start := len(n.buf)
	if err := rec.enc.EncodeWithOption(rec.value, goccyTrustUTF8); err != nil {
		n.drop(start)
		return err
	}
	return n.done(start)
}

// End implements Writer.
func (n *goccyNDJSON) End() error { return n.flush() }

// fill copies the record at p into the wire struct. A rate that is not a
// number is an error naming the field, before anything is written.
func (rec *goccyRecord) fill(p unsafe.Pointer) error {
	for i := 0; i < len(rec.cols); i++ {
		c := &rec.cols[i]
		dst := unsafe.Add(rec.wire, rec.offs[i])
		switch c.kind {
		case kString:
			// Escaped as in every format first (internal/escape): a
			// consumer gets the same text as from CSV, and invalid UTF-8
			// survives, which a JSON string cannot carry.
			*(*string)(dst) = rec.memos[i].escape(c.str(p))
		case kInt, kInt64:
			if n := rec.runs[i]; n > 0 {
				copy(unsafe.Slice((*int64)(dst), n), unsafe.Slice((*int64)(c.ptr(p)), n))
				i += n - 1
			} else {
				*(*int64)(dst) = c.int(p) // an int narrower than int64
			}
		case kFloat:
			f := c.float(p)
			if math.IsNaN(f) || math.IsInf(f, 0) {
				return fmt.Errorf("encode %s: %v is not a JSON number", c.name, f)
			}
			*(*float64)(dst) = f
		case kBool:
			*(*bool)(dst) = c.bool(p)
		case kAddr:
			*(*string)(dst) = rec.addrs[i].textOf(c.addr(p))
		case kTime:
			rec.fillTime(dst, &rec.stamps[i], c.time(p))
		}
	}
	return nil
}

// goccyIntRuns gives each integer column of cols, written at offs of the wire
// struct, the number of columns from it on that are 64-bit integers at
// consecutive places in both the record and the wire struct (a row's
// counters are: bytes_in to packets_out_delta, rtt_us to rcv_wnd), so
// that fill copies them at once; 0 for an int narrower than int64 (on a
// 32-bit machine), read alone. The columns of other kinds get 0 too.
func goccyIntRuns(cols []column, offs []uintptr) []int {
	wide := func(c *column) bool { return c.kind == kInt64 || c.kind == kInt && strconv.IntSize == 64 }
	runs := make([]int, len(cols))
	for i := len(cols) - 1; i >= 0; i-- {
		if !wide(&cols[i]) {
			continue
		}
		runs[i] = 1
		if j := i + 1; j < len(cols) && runs[j] > 0 && cols[j].off == cols[i].off+8 && offs[j] == offs[i]+8 {
			runs[i] += runs[j]
		}
	}
	return runs
}

// fillTime sets a time column: rfc3339 as a string, unix as a number with
// six decimals (json.Number, written as it is), unix_ms as an integer.
func (rec *goccyRecord) fillTime(dst unsafe.Pointer, s *stamp, t time.Time) {
	switch rec.time {
	case TimeUnixMs:
		*(*int64)(dst) = t.UnixMilli()
	case TimeUnix:
		*(*json.Number)(dst) = json.Number(s.goccyText(t))
	default:
		*(*string)(dst) = s.goccyText(t)
	}
}

// textOf returns t in the stamp's format, aliasing the stamp's buffer
// (no copy: every row of a tick shares its timestamp). The
// buffer is rewritten only by the next different time, after the Encode
// that reads the string.
func (s *stamp) goccyText(t time.Time) string {
	s.set(t)
	return unsafe.String(unsafe.SliceData(s.text), len(s.text))
}
