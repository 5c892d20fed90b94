package emit

import (
	"fmt"
	"math/bits"
	"net/netip"
	"reflect"
	"slices"
	"strconv"
	"time"
	"unsafe"

	"github.com/tcptop/tcptop/internal/conn"
)

// column is one field of the schema as the writers read it: resolved once,
// from conn.Fields, into a kind and the field's offset in the row, so that
// writing a row needs no reflection and cannot drift from the schema. Each
// get method reads the field as the Go type its kind names; columnsOf
// checks the types once, when the package loads.
type column struct {
	name  string
	kind  valueKind
	off   uintptr
	field conn.Field // the schema's word on it, for the layouts for people
}

type valueKind uint8

const (
	kString valueKind = iota
	kInt
	kInt64
	kFloat
	kBool
	kAddr
	kTime
)

var kindOfType = map[reflect.Type]valueKind{
	reflect.TypeFor[string]():     kString,
	reflect.TypeFor[int]():        kInt,
	reflect.TypeFor[int64]():      kInt64,
	reflect.TypeFor[float64]():    kFloat,
	reflect.TypeFor[bool]():       kBool,
	reflect.TypeFor[netip.Addr](): kAddr,
	reflect.TypeFor[time.Time]():  kTime,
}

// columns is the schema in output order.
var columns = columnsOf(conn.Fields)

func columnsOf(fields []conn.Field) []column {
	out := make([]column, len(fields))
	for i, f := range fields {
		k, ok := kindOfType[f.Type]
		if !ok {
			panic(fmt.Sprintf("emit: field %s has unsupported type %v", f.Name, f.Type))
		}
		out[i] = column{name: f.Name, kind: k, off: f.Offset, field: f}
	}
	return out
}

// The get methods read a column of the record at p: a conn.Row, or a
// conn.GroupRow or conn.Stats for the columns made from their fields.
func (c *column) ptr(p unsafe.Pointer) unsafe.Pointer { return unsafe.Add(p, c.off) }

func (c *column) str(p unsafe.Pointer) string      { return *(*string)(c.ptr(p)) }
func (c *column) int(p unsafe.Pointer) int64       { return int64(*(*int)(c.ptr(p))) }
func (c *column) int64(p unsafe.Pointer) int64     { return *(*int64)(c.ptr(p)) }
func (c *column) float(p unsafe.Pointer) float64   { return *(*float64)(c.ptr(p)) }
func (c *column) bool(p unsafe.Pointer) bool       { return *(*bool)(c.ptr(p)) }
func (c *column) addr(p unsafe.Pointer) netip.Addr { return *(*netip.Addr)(c.ptr(p)) }
func (c *column) time(p unsafe.Pointer) time.Time  { return *(*time.Time)(c.ptr(p)) }

// appendInt appends v in base 10, as strconv.AppendInt does. A
// non-negative number (every counter) is written straight into b, two
// digits at a time, which saves strconv's copy from its own buffer.
func appendInt(b []byte, v int64) []byte {
	if v < 0 {
		return strconv.AppendInt(b, v, 10)
	}
	u := uint64(v)
	if u < 10 {
		return append(b, byte('0'+u))
	}
	n := decimalDigits(u)
	if cap(b)-len(b) < n {
		b = slices.Grow(b, n)
	}
	b = b[:len(b)+n]
	i := len(b)
	for u >= 100 {
		q := u / 100
		d := (u - q*100) * 2
		i -= 2
		b[i], b[i+1] = digitPairs[d], digitPairs[d+1]
		u = q
	}
	if u >= 10 {
		b[i-2], b[i-1] = digitPairs[u*2], digitPairs[u*2+1]
	} else {
		b[i-1] = byte('0' + u)
	}
	return b
}

const digitPairs = "00010203040506070809101112131415161718192021222324252627282930313233343536373839" +
	"40414243444546474849505152535455565758596061626364656667686970717273747576777879" +
	"8081828384858687888990919293949596979899"

// decimalDigits is the number of digits of u in base 10, from its bit
// length: 1233/4096 is just over log10(2), so t is the digits of the
// smallest number of that bit length, or one fewer.
func decimalDigits(u uint64) int {
	t := bits.Len64(u) * 1233 >> 12
	if u >= powersOf10[t] {
		t++
	}
	return max(t, 1)
}

// powersOf10 are 10^0 to 10^19, the powers that fit in a uint64.
var powersOf10 = [20]uint64{1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13,
	1e14, 1e15, 1e16, 1e17, 1e18, 1e19}

// timestampLayout is RFC 3339 with a fixed six-digit fraction, for UTC.
const timestampLayout = "2006-01-02T15:04:05.000000Z"

// stamp renders the times of one column, remembering the last one: every
// row of a tick has the same timestamp, so a tick formats it once. Each
// time column has its own (start differs from row to row).
type stamp struct {
	t      time.Time
	text   []byte
	format string // a TimeFormats() name; "" is rfc3339

	// rfc3339: the date of the last time, formatted ("2026-01-02T"), and
	// its day since 1970: times of one day format only their clock.
	day     int64
	dayText []byte
}

// append appends t in the stamp's format.
func (s *stamp) append(b []byte, t time.Time) []byte {
	s.set(t)
	return append(b, s.text...)
}

// set makes text t's, formatting it only when t is not the last time.
func (s *stamp) set(t time.Time) {
	if s.text == nil || !t.Equal(s.t) {
		s.t = t
		if s.format == "" || s.format == TimeRFC3339 {
			s.text = s.appendRFC3339(s.text[:0], t)
		} else {
			s.text = appendTime(s.text[:0], t, s.format)
		}
	}
}

const microsPerDay = 86400e6

// appendRFC3339 appends t as appendTime does in rfc3339, formatting the
// date only when the day changes (a row's start differs from the row
// before's, but mostly not its day): a quarter of the cost.
func (s *stamp) appendRFC3339(b []byte, t time.Time) []byte {
	us := t.UnixMicro()
	day := us / microsPerDay
	if us%microsPerDay < 0 {
		day--
	}
	if s.dayText == nil || day != s.day {
		s.day, s.dayText = day, t.UTC().AppendFormat(s.dayText[:0], "2006-01-02T")
	}
	rem := us - day*microsPerDay
	b = append(b, s.dayText...)
	b = appendTwo(b, rem/3600e6)
	b = appendTwo(append(b, ':'), rem/60e6%60)
	b = appendTwo(append(b, ':'), rem/1e6%60)
	frac := rem % 1e6
	b = appendTwo(append(b, '.'), frac/1e4)
	return append(appendTwo(appendTwo(b, frac/100%100), frac%100), 'Z')
}

func appendTwo(b []byte, v int64) []byte { return append(b, digitPairs[v*2], digitPairs[v*2+1]) }

// appendTime appends t in format (docs/fields.md, Times): rfc3339 as UTC
// in timestampLayout, unix as seconds with six decimals, unix_ms as whole
// milliseconds; the fraction is truncated to what is shown in each.
func appendTime(b []byte, t time.Time, format string) []byte {
	switch format {
	case TimeUnix:
		us := t.UnixMicro()
		sec, frac := us/1e6, us%1e6
		if frac < 0 {
			sec, frac = sec-1, frac+1e6
		}
		b = append(strconv.AppendInt(b, sec, 10), '.')
		for p := int64(1e5); p > 0; p /= 10 {
			b = append(b, byte('0'+frac/p%10))
		}
		return b
	case TimeUnixMs:
		return strconv.AppendInt(b, t.UnixMilli(), 10)
	}
	return t.UTC().AppendFormat(b, timestampLayout)
}

// appendAddr appends an address as text: IPv4 dotted, IPv6 in RFC 5952
// form, "" for an unset address. Rows carry unmapped addresses, so
// IPv4-mapped ones never show as ::ffff:a.b.c.d.
func appendAddr(b []byte, a netip.Addr) []byte {
	if !a.IsValid() {
		return b
	}
	return a.AppendTo(b)
}
