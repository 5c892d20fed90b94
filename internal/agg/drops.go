package agg

import "github.com/tcptop/tcptop/internal/conn"

// flowDrops is a flow's dropped packets (drops, drops_delta,
// drop_reason). Few flows have any, so it lives in a map, like
// flowExtra, holding only flows with fDrops set.
type flowDrops struct {
	total, prev uint64 // lifetime; and as the tick's first touch found it
	reason      uint32 // the latest observation's reason: its index in names + 1; 0 none
}

// dropKey finds a flow's drops: a TCP flow by its cookie, a UDP one by
// its namespace and addresses (its key).
type dropKey struct {
	id            uint64
	local, remote endpoint
	proto         conn.Proto
}

func dropKeyOf(st *flowState) dropKey {
	if st.proto == conn.TCP {
		return dropKey{id: st.id, proto: st.proto}
	}
	return dropKey{id: st.id, local: st.local, remote: st.remote, proto: st.proto}
}

// applyDrops copies an observation's drops into the flow's state and
// reports whether they grew (a row to show).
func (a *Aggregator) applyDrops(st *flowState, o *conn.Observation) bool {
	if o.Drops == 0 && st.flags&fDrops == 0 {
		return false
	}
	if a.drops == nil {
		a.drops = make(map[dropKey]flowDrops)
	}
	k := dropKeyOf(st)
	d := a.drops[k]
	grew := o.Drops > d.total
	d.total = max(d.total, o.Drops)
	d.reason = 0
	if o.DropReason != "" {
		d.reason = a.names.intern(o.DropReason) + 1
	}
	a.drops[k] = d
	st.flags |= fDrops
	return grew
}

// markDrops keeps the drops as the tick's first touch found them, which
// the row's drops_delta is the difference of.
func (a *Aggregator) markDrops(st *flowState) {
	if st.flags&fDrops == 0 {
		return
	}
	k := dropKeyOf(st)
	if d := a.drops[k]; d.prev != d.total {
		d.prev = d.total
		a.drops[k] = d
	}
}

// fillDrops writes a flow's drops into its row; the tick's only when it
// was observed this tick.
func (a *Aggregator) fillDrops(r *conn.Row, st *flowState, t *touch) {
	if st.flags&fDrops == 0 {
		return
	}
	d := a.drops[dropKeyOf(st)]
	r.Drops = int64(d.total)
	if t == nil || d.total == d.prev {
		return
	}
	r.DropsDelta = int64(d.total - d.prev)
	if d.reason != 0 {
		r.DropReason = a.names.get(d.reason - 1)
	}
}

// forgetDrops forgets a freed flow's drops.
func (a *Aggregator) forgetDrops(st *flowState) {
	if st.flags&fDrops != 0 {
		delete(a.drops, dropKeyOf(st))
	}
}
