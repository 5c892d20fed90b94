package agg

import (
	"cmp"
	"slices"

	"github.com/tcptop/tcptop/internal/conn"
)

// keyOrder keeps every flow in key order (proto, local, remote, pid,
// cookie, netns) from tick to tick, so that Each of every row sorts only
// the active flows and walks the rest in order. It is maintained lazily:
// a new flow, or one whose key changed, is added to pending; a freed flow,
// or the old place of a re-keyed one, stays in order as a stale ref (its
// gen no longer matches the flow's). Each merges pending in and drops the
// stale refs in the pass that writes the rows, so the upkeep is part of a
// walk it makes anyway. When nobody asks for every row (--changed),
// pending would only grow: past a bound the order is dropped, and rebuilt
// by one full sort if every row is wanted again.
type keyOrder struct {
	order   []ref
	pending []ref
	spare   []ref // the next order, reused
	tracked bool  // order and pending hold every live flow
	// fresh: order is every live flow, as the last walk of every row left
	// it; jumps: how many of its neighbours are not neighbours in the
	// slab (relocateIfScattered).
	fresh bool
	jumps int
	// relocateFloor is relocateFloor when the aggregator was made;
	// relocations counts them (for the tests).
	relocateFloor, relocations int
}

// ref names a flow in the order: valid while the flow's gen is gen.
type ref struct {
	idx, gen uint32
}

func (k *keyOrder) add(idx, gen uint32) {
	k.fresh = false
	if k.tracked {
		k.pending = append(k.pending, ref{idx, gen})
	}
}

// pendingFloor is how many pending flows the order may gather, at the
// least, before bound drops it (a variable for the tests).
var pendingFloor = 4096

// bound drops the order once keeping it up costs more than rebuilding it.
func (k *keyOrder) bound(flows int) {
	if k.tracked && len(k.pending) > max(pendingFloor, flows/2) {
		k.tracked, k.fresh = false, false
		k.order, k.pending, k.spare = nil, nil, nil
	}
}

// compareKeys orders flows by key; it is total on live flows, since the
// key includes their identity (cookie for TCP, netns and 4-tuple for UDP).
func compareKeys(x, y *flowState) int {
	if c := cmp.Compare(x.proto, y.proto); c != 0 { // tcp < udp, as their names
		return c
	}
	if c := compareEndpoints(&x.local, &y.local); c != 0 {
		return c
	}
	if c := compareEndpoints(&x.remote, &y.remote); c != 0 {
		return c
	}
	if c := cmp.Compare(x.pid, y.pid); c != 0 {
		return c
	}
	// Two TCP connections can share a 4-tuple and pid (one in TIME_WAIT):
	// the cookie decides; two UDP flows, in two network namespaces: the
	// namespace does.
	return cmp.Compare(x.id, y.id)
}

// Each hands the tick's rows, in order, to fn, filling one conn.Row that
// it reuses: fn must not keep r, but may keep a copy of *r, whose strings
// are its own. With changedOnly, a row is due when the flow is new
// (opened, or first seen), closed, or any of bytes_in, bytes_out,
// packets_in, packets_out, retrans, rtt_us, state, pid or comm differs
// from the previous tick; an expired UDP flow gets a last row if
// its counters moved. Otherwise every flow gets a row, except an expired
// one with nothing new. The first error from fn stops the rows and is
// returned; the aggregator stays consistent. Each may be called more than
// once per tick.
func (a *Aggregator) Each(changedOnly bool, fn func(r *conn.Row) error) error {
	if !a.sorted {
		slices.SortFunc(a.active, a.compareActive)
		a.sorted = true
	}
	e := emitter{a: a, fn: fn}
	for _, act := range a.active {
		e.emit(act.idx)
	}
	if changedOnly {
		a.eachChanged(&e)
	} else {
		a.eachIdle(&e)
	}
	return e.err
}

// compareActive is the order of the active flows: rate descending, then key.
func (a *Aggregator) compareActive(x, y active) int {
	if c := cmp.Compare(y.rate, x.rate); c != 0 {
		return c
	}
	return compareKeys(a.flows.at(x.idx), a.flows.at(y.idx))
}

// emitter fills rows and passes them on until fn fails.
type emitter struct {
	a   *Aggregator
	fn  func(*conn.Row) error
	err error
}

func (e *emitter) emit(idx uint32) {
	if e.err == nil {
		e.a.fill(&e.a.row, idx)
		e.err = e.fn(&e.a.row)
	}
}

// eachChanged writes the changed flows that are not active, in key order.
func (a *Aggregator) eachChanged(e *emitter) {
	quiet := a.keys.spare[:0]
	if n := a.touched.len(); cap(quiet) < n && n > pendingFloor {
		quiet = make([]ref, 0, n) // the first tick's every flow: at once, not by doubling
	}
	for i := range uint32(a.touched.len()) {
		if t := a.touched.at(i); t.is(tChanged) && !a.isActive(t) {
			quiet = append(quiet, ref{idx: t.idx})
		}
	}
	slices.SortFunc(quiet, a.compareRefs)
	for _, r := range quiet {
		e.emit(r.idx)
	}
	a.keys.spare = quiet[:0]
}

func (a *Aggregator) isActive(t *touch) bool {
	in, out := a.rates(a.flows.at(t.idx), t)
	return in+out > 0 && !t.is(tRowless)
}

func (a *Aggregator) compareRefs(x, y ref) int {
	return compareKeys(a.flows.at(x.idx), a.flows.at(y.idx))
}

// eachIdle writes every flow that is not active, in key order, merging
// the pending flows into the order and dropping stale refs on the way.
func (a *Aggregator) eachIdle(e *emitter) {
	k := &a.keys
	if !k.tracked {
		a.rebuildOrder()
	}
	pending := k.pending
	slices.SortFunc(pending, a.compareRefs)
	next := k.spare[:0]
	if n := len(k.order) + len(pending); cap(next) < n {
		// At once, not by doubling: the first walk merges every flow
		// (100,000 at bench-scale), and the copies of each doubling were
		// garbage in the ticks that set the peak.
		next = make([]ref, 0, n)
	}
	old := k.order
	jumps := 0
	for {
		// A stale ref (a freed flow, or the old place of a re-keyed one,
		// whose new place is in pending) is dropped before it is compared:
		// its flow's key is not the one it was placed by.
		for len(old) > 0 && a.flows.at(old[0].idx).gen != old[0].gen {
			old = old[1:]
		}
		for len(pending) > 0 && a.flows.at(pending[0].idx).gen != pending[0].gen {
			pending = pending[1:]
		}
		var r ref
		switch {
		case len(old) == 0 && len(pending) == 0:
			k.spare, k.order = k.order[:0], next
			k.pending = k.pending[:0]
			k.fresh, k.jumps = true, jumps
			return
		case len(pending) == 0 || len(old) > 0 && a.compareRefs(old[0], pending[0]) <= 0:
			r, old = old[0], old[1:]
		default:
			r, pending = pending[0], pending[1:]
		}
		st := a.flows.at(r.idx)
		var t *touch
		if st.seen == uint32(a.tick) {
			t = a.touched.at(st.slot)
		}
		if t == nil || !t.is(tRemoving) {
			if n := len(next); n > 0 && next[n-1].idx+1 != r.idx {
				jumps++
			}
			next = append(next, r)
		}
		if t == nil || !t.is(tRowless) && !a.isActive(t) {
			e.emit(r.idx)
		}
	}
}

// rebuildOrder sorts every flow known, and this tick's removed ones, which
// still get their last row.
func (a *Aggregator) rebuildOrder() {
	k := &a.keys
	all := make([]ref, 0, a.Len()+len(a.removed))
	add := func(idx uint32) { all = append(all, ref{idx, a.flows.at(idx).gen}) }
	a.eachTCP(add)
	a.eachUDP(add)
	for _, idx := range a.removed {
		add(idx)
	}
	k.order, k.pending, k.tracked = nil, all, true
}

// relocateFloor is the fewest flows worth relocating (fewer stay in the
// caches wherever they are), a variable for the tests.
var relocateFloor = 4096

// relocateIfScattered moves the flows in the slab into key order once
// the walk of every row found more than one in eight of them away from
// its neighbour in the order. That walk then reads the slab front to
// back instead of at random: at 100,000 flows (24 MB of states, more than
// the caches hold) it is about 0.2 µs per row less. Flows come in the
// order the kernel lists them, not in key order, and new ones go where
// there is room, so without this the walk is random for good. Moving
// them costs about a walk; it is done again only when churn has scattered
// them again. Called between ticks, when no flow is touched or removed.
func (a *Aggregator) relocateIfScattered() {
	k := &a.keys
	if !k.fresh || len(k.order) < k.relocateFloor || k.jumps <= len(k.order)/8 ||
		len(k.pending) > 0 || len(k.order) != a.Len() {
		return
	}
	k.fresh = false
	n := a.flows.n
	const unplaced = ^uint32(0)
	dest := make([]uint32, n) // a flow's index now → its index in key order
	for i := range dest {
		dest[i] = unplaced
	}
	for p, r := range k.order {
		if a.flows.at(r.idx).gen != r.gen || dest[r.idx] != unplaced {
			return // not the live flows after all: leave them be
		}
		dest[r.idx] = uint32(p)
	}
	free := uint32(len(k.order)) // the free states go after the live ones
	for i := range dest {
		if dest[i] == unplaced {
			dest[i] = free
			free++
		}
	}
	a.tcp.renumber(dest)
	for key, idx := range a.udp {
		a.udp[key] = dest[idx]
	}
	// Permute in place, cycle by cycle: a second slab would double the
	// memory the flows take.
	for i := range n {
		for dest[i] != i {
			j := dest[i]
			x, y := a.flows.at(i), a.flows.at(j)
			*x, *y = *y, *x
			dest[i], dest[j] = dest[j], dest[i]
		}
	}
	for p := range k.order {
		k.order[p].idx = uint32(p)
	}
	a.texts.reset() // the texts are by index: written again at the next rows
	for i := range n {
		a.flows.at(i).flags &^= fCIDText
	}
	k.jumps = 0
	k.relocations++
	a.flows.freed = a.flows.freed[:0]
	for i := n; i > uint32(len(k.order)); i-- { // the lowest index is reused first
		a.flows.freed = append(a.flows.freed, i-1)
	}
}
