package agg

import "github.com/tcptop/tcptop/internal/conn"

// Tick folds in one snapshot of the source, for the tests: the
// observations of the flows that may have changed, read at snap.Time. It
// is Begin, Observe for each observation, then End, as tcptop does while
// the source reads (internal/run), with room made for the observations at
// once.
func (a *Aggregator) Tick(snap conn.Snapshot) {
	a.Begin()
	a.reserve(len(snap.Obs))
	for i := range snap.Obs {
		a.Observe(&snap.Obs[i])
	}
	a.End(snap.Time)
}

// reserve makes room for n observations at once, rather than by doubling:
// a snapshot of every flow (the first, or a sweep) would otherwise leave
// about twice its size in garbage, which is what sets the peak of the
// heap. endTick lets the room go once snapshots are small again.
func (a *Aggregator) reserve(n int) {
	if n <= cap(a.active) {
		return
	}
	a.active = make([]active, 0, n)
	if a.Len() == 0 {
		a.tcp.resize(n, &a.flows) // the first snapshot: size the index once
	}
	a.keys.reserve(n)
}

// reserve makes room for n more pending flows, and for an order that
// holds them, at once.
func (k *keyOrder) reserve(n int) {
	if k.tracked && cap(k.pending)-len(k.pending) < n {
		k.pending = append(make([]ref, 0, len(k.pending)+n), k.pending...)
	}
	if want := len(k.order) + len(k.pending) + n; k.tracked && cap(k.spare) < want {
		k.spare = make([]ref, 0, want)
	}
}
