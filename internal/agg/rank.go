package agg

import (
	"cmp"
	"container/heap"
	"fmt"
	"net/netip"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/tcptop/tcptop/internal/conn"
)

// Order sorts rows by fields of the schema (tcptop --sort). The zero
// Order keeps rows as they come, which from Each is the aggregator's own
// order.
type Order struct {
	spec string
	keys []sortKey
}

// sortKey is one field of an Order: cmp compares two rows by it,
// ascending; desc turns that around.
type sortKey struct {
	desc bool
	cmp  func(x, y *conn.Row) int
}

// ParseOrder reads "FIELD[,FIELD...]": rows sort by the first field, ties
// by the next, and so on; a field sorts descending (largest first, as top
// does), or ascending with a leading '-'. Every field of the schema
// sorts: numbers as numbers, strings as strings, addresses as addresses
// (IPv4 before IPv6), booleans false first, times as times. An unknown
// name is an error that lists the names. An empty spec is the zero Order.
func ParseOrder(spec string) (Order, error) {
	o := Order{spec: spec}
	if spec == "" {
		return Order{}, nil
	}
	for name := range strings.SplitSeq(spec, ",") {
		name = strings.TrimSpace(name)
		asc := strings.HasPrefix(name, "-")
		name = strings.TrimPrefix(name, "-")
		i := slices.IndexFunc(conn.Fields, func(f conn.Field) bool { return f.Name == name })
		if i < 0 {
			return Order{}, fmt.Errorf("unknown field %q (want one of %s)", name, strings.Join(conn.FieldNames(), ", "))
		}
		o.keys = append(o.keys, sortKey{desc: !asc, cmp: compareField(conn.Fields[i])})
	}
	return o, nil
}

// compareField compares two rows by f, ascending.
func compareField(f conn.Field) func(x, y *conn.Row) int {
	switch f.Type {
	case reflect.TypeFor[string]():
		return by(conn.Getter[string](f), strings.Compare)
	case reflect.TypeFor[int]():
		return by(conn.Getter[int](f), cmp.Compare[int])
	case reflect.TypeFor[int64]():
		return by(conn.Getter[int64](f), cmp.Compare[int64])
	case reflect.TypeFor[float64]():
		return by(conn.Getter[float64](f), cmp.Compare[float64])
	case reflect.TypeFor[bool]():
		return by(conn.Getter[bool](f), func(a, b bool) int {
			return cmp.Compare(boolInt(a), boolInt(b))
		})
	case reflect.TypeFor[netip.Addr]():
		return by(conn.Getter[netip.Addr](f), netip.Addr.Compare)
	case reflect.TypeFor[time.Time]():
		return by(conn.Getter[time.Time](f), time.Time.Compare)
	}
	panic(fmt.Sprintf("agg: field %s has no order (%v)", f.Name, f.Type))
}

func by[T any](get func(*conn.Row) T, compare func(a, b T) int) func(x, y *conn.Row) int {
	return func(x, y *conn.Row) int { return compare(get(x), get(y)) }
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// IsZero reports whether o keeps rows as they come.
func (o Order) IsZero() bool { return len(o.keys) == 0 }

// String is the --sort text o was parsed from.
func (o Order) String() string { return o.spec }

// Compare orders x and y: negative if x comes first, 0 if o cannot tell
// them apart.
func (o Order) Compare(x, y *conn.Row) int {
	for _, k := range o.keys {
		c := k.cmp(x, y)
		if k.desc {
			c = -c
		}
		if c != 0 {
			return c
		}
	}
	return 0
}

// Ranker collects the rows of a tick and hands them out in an Order,
// keeping only the first Top of them when Top is positive. It copies each
// row it keeps (a conn.Row, 272 bytes): every row of the tick
// without a top, at most Top with one, held in a heap whose root is the
// worst row kept. Rows that the Order cannot tell apart keep the order
// they came in, so the aggregator's order breaks the ties.
type Ranker struct {
	order Order
	top   int
	rows  []rankedRow
	seq   int
}

type rankedRow struct {
	row conn.Row
	seq int
}

// NewRanker returns a Ranker that sorts by order and keeps the first top
// rows (0: all).
func NewRanker(order Order, top int) *Ranker {
	return &Ranker{order: order, top: top}
}

func (k *Ranker) compare(x, y *rankedRow) int {
	if c := k.order.Compare(&x.row, &y.row); c != 0 {
		return c
	}
	return cmp.Compare(x.seq, y.seq)
}

// Add offers one row; r is copied if kept.
func (k *Ranker) Add(r *conn.Row) {
	k.seq++
	switch {
	case k.top <= 0 || len(k.rows) < k.top:
		k.rows = append(k.rows, rankedRow{row: *r, seq: k.seq})
		if k.top > 0 {
			heap.Fix(worstFirst{k}, len(k.rows)-1)
		}
	case k.order.Compare(r, &k.rows[0].row) < 0:
		// Better than the worst kept (a tie goes to the one that came
		// first, which is kept).
		k.rows[0] = rankedRow{row: *r, seq: k.seq}
		heap.Fix(worstFirst{k}, 0)
	}
}

// Each hands the rows kept to fn, best first, and forgets them; the first
// error from fn stops the rows and is returned.
func (k *Ranker) Each(fn func(r *conn.Row) error) error {
	slices.SortFunc(k.rows, func(x, y rankedRow) int { return k.compare(&x, &y) })
	var err error
	for i := range k.rows {
		if err = fn(&k.rows[i].row); err != nil {
			break
		}
	}
	clear(k.rows) // let go of the strings the rows point to
	k.rows, k.seq = k.rows[:0], 0
	return err
}

// worstFirst is the heap of kept rows with the worst at the root; only
// heap.Fix is used, so Push and Pop are never called.
type worstFirst struct{ k *Ranker }

func (h worstFirst) Len() int           { return len(h.k.rows) }
func (h worstFirst) Less(i, j int) bool { return h.k.compare(&h.k.rows[i], &h.k.rows[j]) > 0 }
func (h worstFirst) Swap(i, j int)      { h.k.rows[i], h.k.rows[j] = h.k.rows[j], h.k.rows[i] }
func (h worstFirst) Push(any)           { panic("unused") }
func (h worstFirst) Pop() any           { panic("unused") }
