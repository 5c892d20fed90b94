// Package group sums a tick's rows per key, for --group-by: one
// conn.GroupRow per distinct value of the key fields, with the number of
// flows, the sums of their counters, deltas and rates, and their largest
// and mean round-trip time (docs/fields.md, Grouped rows). It sees the
// rows that passed --where, one at a time, as the aggregator hands them
// out, and keeps one row per group, not the rows.
package group

import (
	"cmp"
	"encoding/binary"
	"math"
	"net/netip"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"
	"unsafe"

	"github.com/tcptop/tcptop/internal/conn"
)

// Grouper sums the rows of one tick at a time. It is not safe for
// concurrent use.
type Grouper struct {
	keys []key
	sums []sum

	index  map[string]int // encoded key → groups[i]
	groups []conn.GroupRow
	rtt    []rttSum // per group
	order  []int    // groups in output order
	buf    []byte   // the key being encoded
}

// key is a key field of the row: where it is, how its value is encoded
// into a group's key and how two values are ordered.
type key struct {
	off uintptr
	enc func(b []byte, p unsafe.Pointer) []byte
	cmp func(x, y unsafe.Pointer) int
}

// sum is a summed field: an int64, or a float64 (the rates).
type sum struct {
	off   uintptr
	float bool
}

type rttSum struct{ sum, n int64 }

// New returns a Grouper by keys, which conn.CheckGroupKeys must accept.
func New(keys []string) (*Grouper, error) {
	if err := conn.CheckGroupKeys(keys); err != nil {
		return nil, err
	}
	g := &Grouper{index: make(map[string]int)}
	for _, k := range keys {
		f, _ := conn.FieldByName(k)
		g.keys = append(g.keys, keyOf(f))
	}
	for _, n := range conn.GroupSums {
		f, _ := conn.FieldByName(n)
		g.sums = append(g.sums, sum{off: f.Offset, float: f.Type == reflect.TypeFor[float64]()})
	}
	return g, nil
}

// keyOf is how a field of the schema is a key: encoded so that two rows
// share it only if their values are equal, ordered numerically (numbers,
// addresses: IPv4 before IPv6), bytewise (text), false before true, and
// in time order.
func keyOf(f conn.Field) key {
	switch f.Type {
	case reflect.TypeFor[string]():
		return keyFor(f.Offset, func(b []byte, s string) []byte {
			return append(binary.AppendUvarint(b, uint64(len(s))), s...)
		}, strings.Compare)
	case reflect.TypeFor[int]():
		return keyFor(f.Offset, func(b []byte, v int) []byte { return binary.LittleEndian.AppendUint64(b, uint64(v)) }, cmp.Compare[int])
	case reflect.TypeFor[int64]():
		return keyFor(f.Offset, func(b []byte, v int64) []byte { return binary.LittleEndian.AppendUint64(b, uint64(v)) }, cmp.Compare[int64])
	case reflect.TypeFor[float64]():
		return keyFor(f.Offset, func(b []byte, v float64) []byte {
			return binary.LittleEndian.AppendUint64(b, math.Float64bits(v))
		}, cmp.Compare[float64])
	case reflect.TypeFor[bool]():
		return keyFor(f.Offset, func(b []byte, v bool) []byte { return strconv.AppendBool(b, v) },
			func(x, y bool) int { return cmp.Compare(boolInt(x), boolInt(y)) })
	case reflect.TypeFor[netip.Addr]():
		return keyFor(f.Offset, func(b []byte, a netip.Addr) []byte { return append(append(b, byte(a.BitLen())), a.AsSlice()...) },
			netip.Addr.Compare)
	case reflect.TypeFor[time.Time]():
		return keyFor(f.Offset, func(b []byte, t time.Time) []byte { return binary.LittleEndian.AppendUint64(b, uint64(t.UnixNano())) },
			time.Time.Compare)
	}
	panic("group: field " + f.Name + " of unsupported type " + f.Type.String())
}

func keyFor[T any](off uintptr, enc func([]byte, T) []byte, compare func(T, T) int) key {
	return key{off: off,
		enc: func(b []byte, p unsafe.Pointer) []byte { return enc(b, *(*T)(p)) },
		cmp: func(x, y unsafe.Pointer) int { return compare(*(*T)(x), *(*T)(y)) }}
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// Begin starts a tick: the groups of the previous one are forgotten.
func (g *Grouper) Begin() {
	clear(g.index)
	g.groups, g.rtt, g.order = g.groups[:0], g.rtt[:0], g.order[:0]
}

// Len is the number of groups so far in the tick.
func (g *Grouper) Len() int { return len(g.groups) }

// Add counts a row in its group. It does not keep r.
func (g *Grouper) Add(r *conn.Row) {
	g.buf = g.buf[:0]
	for _, k := range g.keys {
		g.buf = k.enc(g.buf, unsafe.Add(unsafe.Pointer(r), k.off))
	}
	i, ok := g.index[string(g.buf)]
	if !ok {
		i = len(g.groups)
		g.index[string(g.buf)] = i
		g.groups = append(g.groups, conn.GroupRow{Row: *r}) // and its strings: a row owns them
		g.rtt = append(g.rtt, rttSum{})
	} else {
		g.add(&g.groups[i].Row, r)
	}
	gr, s := &g.groups[i], &g.rtt[i]
	gr.Connections++
	gr.RTTMaxMicros = max(gr.RTTMaxMicros, r.RTTMicros)
	if r.RTTMicros > 0 {
		s.sum += r.RTTMicros
		s.n++
	}
}

// add adds r's summed fields to the group's. Counters are not negative:
// a sum past 2^63-1 stays there rather than wrapping.
func (g *Grouper) add(total, r *conn.Row) {
	for _, f := range g.sums {
		dst, src := unsafe.Add(unsafe.Pointer(total), f.off), unsafe.Add(unsafe.Pointer(r), f.off)
		if f.float {
			*(*float64)(dst) += *(*float64)(src)
			continue
		}
		d, v := (*int64)(dst), *(*int64)(src)
		if *d > math.MaxInt64-v {
			*d = math.MaxInt64
		} else {
			*d += v
		}
	}
}

// Each hands the tick's groups to fn in order: rate_in + rate_out
// descending, then the keys in the order given. fn must not keep g. The
// first error from fn stops it and is returned.
func (g *Grouper) Each(fn func(gr *conn.GroupRow) error) error {
	for i := range g.groups {
		gr, s := &g.groups[i], g.rtt[i]
		gr.RTTMeanMicros = 0
		if s.n > 0 {
			gr.RTTMeanMicros = (s.sum + s.n/2) / s.n
		}
		g.order = append(g.order, i)
	}
	slices.SortFunc(g.order, g.compare)
	for _, i := range g.order {
		if err := fn(&g.groups[i]); err != nil {
			return err
		}
	}
	return nil
}

func (g *Grouper) compare(i, j int) int {
	x, y := &g.groups[i].Row, &g.groups[j].Row
	if c := cmp.Compare(y.RateIn+y.RateOut, x.RateIn+x.RateOut); c != 0 {
		return c
	}
	for _, k := range g.keys {
		if c := k.cmp(unsafe.Add(unsafe.Pointer(x), k.off), unsafe.Add(unsafe.Pointer(y), k.off)); c != 0 {
			return c
		}
	}
	return 0
}
