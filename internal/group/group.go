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
	"strings"
	"time"
	"unsafe"

	"github.com/tcptop/tcptop/internal/conn"
)

// Grouper sums the rows of one tick at a time. It is not safe for
// concurrent use.
type Grouper struct {
	keys []field
	sums []field

	index  map[string]int // encoded key → groups[i]
	groups []conn.GroupRow
	rtt    []rttSum // per group
	order  []int    // groups in output order
	key    []byte   // scratch
}

// field is a field of the row: where it is and what it holds.
type field struct {
	off  uintptr
	kind kind
}

type kind uint8

const (
	kString kind = iota
	kInt
	kInt64
	kFloat
	kBool
	kAddr
	kTime
)

var kinds = map[reflect.Type]kind{
	reflect.TypeFor[string]():     kString,
	reflect.TypeFor[int]():        kInt,
	reflect.TypeFor[int64]():      kInt64,
	reflect.TypeFor[float64]():    kFloat,
	reflect.TypeFor[bool]():       kBool,
	reflect.TypeFor[netip.Addr](): kAddr,
	reflect.TypeFor[time.Time]():  kTime,
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
		g.keys = append(g.keys, field{f.Offset, kinds[f.Type]})
	}
	for _, n := range conn.GroupSums {
		f, _ := conn.FieldByName(n)
		g.sums = append(g.sums, field{f.Offset, kinds[f.Type]})
	}
	return g, nil
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
	g.key = g.encode(g.key[:0], r)
	i, ok := g.index[string(g.key)]
	if !ok {
		i = len(g.groups)
		g.index[string(g.key)] = i
		g.groups = append(g.groups, conn.GroupRow{Row: *r})
		g.rtt = append(g.rtt, rttSum{})
		g.own(&g.groups[i].Row)
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

// own copies the strings of a new group's key, which may live in a buffer
// the next row reuses (community_id).
func (g *Grouper) own(r *conn.Row) {
	for _, k := range g.keys {
		if k.kind == kString {
			p := (*string)(unsafe.Add(unsafe.Pointer(r), k.off))
			*p = strings.Clone(*p)
		}
	}
}

// add adds r's summed fields to the group's.
func (g *Grouper) add(sum, r *conn.Row) {
	for _, f := range g.sums {
		dst, src := unsafe.Add(unsafe.Pointer(sum), f.off), unsafe.Add(unsafe.Pointer(r), f.off)
		switch f.kind {
		case kInt64:
			d, v := (*int64)(dst), *(*int64)(src)
			if *d > math.MaxInt64-v { // counters are not negative: saturate rather than wrap
				*d = math.MaxInt64
			} else {
				*d += v
			}
		case kFloat:
			*(*float64)(dst) += *(*float64)(src)
		}
	}
}

// encode appends the key of r: its key fields, each in a form that two
// rows share only if their values are equal.
func (g *Grouper) encode(b []byte, r *conn.Row) []byte {
	for _, k := range g.keys {
		p := unsafe.Add(unsafe.Pointer(r), k.off)
		switch k.kind {
		case kString:
			s := *(*string)(p)
			b = binary.AppendUvarint(b, uint64(len(s)))
			b = append(b, s...)
		case kInt:
			b = binary.LittleEndian.AppendUint64(b, uint64(*(*int)(p)))
		case kInt64:
			b = binary.LittleEndian.AppendUint64(b, uint64(*(*int64)(p)))
		case kFloat:
			b = binary.LittleEndian.AppendUint64(b, math.Float64bits(*(*float64)(p)))
		case kBool:
			b = append(b, *(*byte)(p))
		case kAddr:
			a := *(*netip.Addr)(p)
			b = append(b, byte(a.BitLen()))
			b = append(b, a.AsSlice()...)
		case kTime:
			b = binary.LittleEndian.AppendUint64(b, uint64((*(*time.Time)(p)).UnixNano()))
		}
	}
	return b
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
		if c := compareField(k, unsafe.Add(unsafe.Pointer(x), k.off), unsafe.Add(unsafe.Pointer(y), k.off)); c != 0 {
			return c
		}
	}
	return 0
}

// compareField orders values of one field: numbers and addresses
// numerically (netip.Addr.Compare: IPv4 before IPv6), text bytewise,
// false before true, times in time order.
func compareField(k field, x, y unsafe.Pointer) int {
	switch k.kind {
	case kString:
		return strings.Compare(*(*string)(x), *(*string)(y))
	case kInt:
		return cmp.Compare(*(*int)(x), *(*int)(y))
	case kInt64:
		return cmp.Compare(*(*int64)(x), *(*int64)(y))
	case kFloat:
		return cmp.Compare(*(*float64)(x), *(*float64)(y))
	case kBool:
		return cmp.Compare(*(*byte)(x), *(*byte)(y))
	case kAddr:
		return (*(*netip.Addr)(x)).Compare(*(*netip.Addr)(y))
	case kTime:
		return (*(*time.Time)(x)).Compare(*(*time.Time)(y))
	}
	return 0
}
