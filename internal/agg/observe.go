package agg

import (
	"github.com/tcptop/tcptop/internal/conn"
)

// touch is a flow observed this tick: its counters as of the previous
// tick, which its deltas are taken against, and what its row needs.
// retrans and lost keep only their low 32 bits: neither moves by 2^32 in
// a tick (TCP's are 32-bit kernel counters, unwrapped), so the
// difference of the low bits is the delta, and a touch is 64 bytes, not
// 72 (100,000 of them in each of the first ticks).
type touch struct {
	prev     [4]uint64
	prevDiag diagPrev
	prevRetr uint32 // low bits
	idx      uint32
	flags    uint8 // tFirst, tRekey, ...: one byte, so that a touch is 64 bytes, not 72 (the kinds' previous counters are in flowExtra for the same reason)
}

// Touch flags.
const (
	tFirst    uint8 = 1 << iota // the flow's first row
	tRekey                      // its pid or addresses changed: a new place in the key order
	tChanged                    // gets a row with changedOnly
	tRowless                    // gets no row at all: expired with nothing new to say
	tRemoving                   // closed or expired: forgotten after this tick
	tNoKinds                    // its retransmits were not counted by kind at the previous tick
)

func (t *touch) is(f uint8) bool { return t.flags&f != 0 }

// set sets flag f if on; it never clears it.
func (t *touch) set(f uint8, on bool) {
	if on {
		t.flags |= f
	}
}

// active is a flow with a non-zero rate: the head of the order.
type active struct {
	rate float64 // rate_in + rate_out
	idx  uint32
}

// observe folds one observation into its flow's state.
func (a *Aggregator) observe(o *conn.Observation) {
	idx, known := a.lookup(o)
	if !known {
		if o.Proto == conn.TCP && a.closed.has(o.ID.Cookie) {
			return // a connection already reported closed: stale news
		}
		idx = a.create(o)
	}
	st := a.flows.at(idx)
	fresh, seen, slot := known && st.seen != uint32(a.tick), st.seen, st.slot
	t := a.touch(idx, st, !known)
	if !known {
		// Where tcptop saw it open, its first row's limit is measured
		// from then (its chrono times were 0).
		t.prevDiag.jiffies = o.Diag.OpenJiffies
	}
	rekey, changed := a.apply(st, o, !known)
	t.set(tRekey, rekey && !t.is(tFirst))
	t.set(tChanged, changed)
	if fresh && !rekey && !changed && !o.Closed && !o.Expired && a.still(st, t) {
		// Nothing to take a delta of: the flow reads as one not observed
		// (the table read of an all-rows tick observes every flow, and the
		// touches of the idle ones were 7 MB of the heap at 100,000 flows).
		a.touched.pop()
		st.seen, st.slot = seen, slot
		return
	}
	switch {
	case o.Closed:
		st.flags |= fClosed
		if !o.End.IsZero() {
			a.setEnd(idx, o.End.UnixMicro())
		}
		a.remove(idx, st, t)
		if o.Proto == conn.TCP {
			a.closed.add(o.ID.Cookie)
		}
	case o.Expired:
		st.flags |= fExpired
		a.remove(idx, st, t)
	}
}

func (a *Aggregator) lookup(o *conn.Observation) (uint32, bool) {
	if o.Proto == conn.TCP {
		return a.tcp.get(o.ID.Cookie, &a.flows)
	}
	idx, ok := a.udp[udpKeyOf(&o.ID)]
	return idx, ok
}

func udpKeyOf(id *conn.FlowID) udpKey {
	return udpKey{netns: id.NetNS, local: endpointOf(id.Local), remote: endpointOf(id.Remote)}
}

// create starts a flow. Its counters start at the observation's base, so
// that its first row's deltas count only what moved since tcptop began
// watching it.
func (a *Aggregator) create(o *conn.Observation) uint32 {
	idx := a.flows.alloc()
	st := a.flows.at(idx)
	st.proto = o.Proto
	st.id = o.ID.Cookie
	if o.Proto != conn.TCP {
		st.id = uint64(o.ID.NetNS)
	}
	st.local, st.remote = endpointOf(o.Local), endpointOf(o.Remote)
	a.setCommunityID(st)
	st.cur = [4]uint64{o.BaseBytesIn, o.BaseBytesOut, o.BasePacketsIn, o.BasePacketsOut}
	if o.Partial {
		// Like the base counters: only what moves from now on counts in
		// the first row.
		st.retrans, st.diag.lost = o.Retrans, uint64(o.Diag.Lost)
		a.setExtra(st, flowExtra{rto: o.Diag.RetransRTO, fast: o.Diag.RetransFast})
	}
	st.owner = a.ownerOf(o)
	st.state = a.names.intern(o.State)
	st.pid = o.PID
	st.dir = o.Direction
	if !o.Start.IsZero() {
		st.start = o.Start.UnixMicro()
	}
	if o.Proto == conn.TCP {
		a.tcp.put(o.ID.Cookie, idx, &a.flows)
	} else {
		a.udp[udpKeyOf(&o.ID)] = idx
	}
	a.keys.add(idx, st.gen)
	if a.cfg.RemoteName != nil {
		a.newFlows = append(a.newFlows, idx)
	}
	return idx
}

// setEnd records when the kernel released a closed flow.
func (a *Aggregator) setEnd(idx uint32, end int64) {
	if a.ends == nil {
		a.ends = make(map[uint32]int64)
	}
	a.ends[idx] = end
}

// touch returns the flow's entry for this tick, making it (with the
// counters as they were) on the flow's first observation in the tick: a
// repeated observation replaces the earlier one rather than adding to it.
func (a *Aggregator) touch(idx uint32, st *flowState, first bool) *touch {
	if !first && st.seen == uint32(a.tick) {
		return a.touched.at(st.slot)
	}
	slot, t := a.touched.add(touch{idx: idx, prev: st.cur, prevRetr: uint32(st.retrans),
		prevDiag: diagPrev{lost: uint32(st.diag.lost), chrono: st.diag.chrono, jiffies: st.diag.jiffies}})
	a.markKinds(st)
	a.markDrops(st)
	t.set(tFirst, first)
	t.set(tNoKinds, !first && st.flags&fKinds == 0)
	st.seen, st.slot = uint32(a.tick), slot
	return t
}

// still reports whether the flow, just observed with touch t, reads as
// it would without it: its row and what settle does with it the same.
// Its counters, retrans and lost did not move; no limit is due (nothing
// sent, nothing queued: limit is "" with or without the previous read's
// times); and its start is known.
func (a *Aggregator) still(st *flowState, t *touch) bool {
	return st.cur == t.prev && uint32(st.retrans) == t.prevRetr && uint32(st.diag.lost) == t.prevDiag.lost &&
		(st.proto != conn.TCP || st.diag.unacked == 0 && st.diag.notsent == 0) && st.start != 0
}

// apply copies an observation into the flow's state and reports whether
// its key (pid or addresses) changed, and whether anything shown other
// than the counters did (rtt, retrans, state, pid, comm).
// A new flow's counters start at its base; a 32-bit counter may be any
// distance ahead of its base (a connection older than tcptop may have
// wrapped its counters many times), but it moves less than 2^31 between
// two observations.
func (a *Aggregator) apply(st *flowState, o *conn.Observation, created bool) (rekey, changed bool) {
	wide := o.Proto != conn.TCP // UDP counts in 64 bits; TCP's packets are the kernel's 32-bit segs
	a.count(st, cBytesIn, o.BytesIn, true, created)
	a.count(st, cBytesOut, o.BytesOut, true, created)
	a.count(st, cPacketsIn, o.PacketsIn, wide, created)
	a.count(st, cPacketsOut, o.PacketsOut, wide, created)
	if r, ok := unwrap(st.retrans, o.Retrans, wide); !ok {
		a.warn(st, "retrans", st.retrans, o.Retrans)
	} else if r != st.retrans {
		st.retrans, changed = r, true
	}
	if rtt := uint32(min(o.RTTMicros, 1<<32-1)); rtt != st.rtt {
		st.rtt, changed = rtt, true
	}
	if o.State != a.names.get(st.state) {
		st.state, changed = a.names.intern(o.State), true
	}
	if o.Partial {
		st.flags |= fPartial // counters stay incomplete forever
	}
	// Kernel state changes run in softirq context and carry no pid; they
	// must not erase a process already attributed. Its cgroup and uid
	// are taken with the pid.
	if o.PID != 0 && (o.PID != st.pid || !a.sameOwner(st, o)) {
		rekey = o.PID != st.pid
		st.pid, st.owner, changed = o.PID, a.ownerOf(o), true
	}
	if o.Direction != conn.DirUnknown {
		st.dir = o.Direction
	}
	if st.start == 0 && !o.Start.IsZero() {
		st.start = o.Start.UnixMicro()
	}
	if l, r := endpointOf(o.Local), endpointOf(o.Remote); l != st.local || r != st.remote {
		st.local, st.remote, rekey = l, r, true
		a.setCommunityID(st)
	}
	if a.applyDiag(st, o, created) {
		changed = true
	}
	if a.applyDrops(st, o) {
		changed = true
	}
	a.applyXlat(st, o)
	return rekey, changed
}

// count sets counter i from a lifetime value the source read.
func (a *Aggregator) count(st *flowState, i int, got uint64, wide, created bool) {
	if created && !wide {
		st.cur[i] += uint64(uint32(got) - uint32(st.cur[i]))
		return
	}
	if v, ok := unwrap(st.cur[i], got, wide); ok {
		st.cur[i] = v
	} else {
		a.warn(st, counterNames[i], st.cur[i], got)
	}
}

// unwrap returns the new value of a counter that was prev and now reads
// got. A 64-bit counter (wide) only grows; a 32-bit kernel counter wraps,
// so it moved by the 32-bit difference, added to the unwrapped prev. A
// 64-bit counter that shrank, or a 32-bit one that moved back (a
// difference of 2^31 or more), is a bug: ok is false and the counter must
// keep prev.
func unwrap(prev, got uint64, wide bool) (v uint64, ok bool) {
	if wide {
		return got, got >= prev
	}
	d := uint32(got) - uint32(prev)
	if d >= 1<<31 {
		return prev, false
	}
	return prev + uint64(d), true
}

// remove forgets a closed or expired flow. Its state stays until the next
// tick, for its last row.
func (a *Aggregator) remove(idx uint32, st *flowState, t *touch) {
	t.flags |= tRemoving
	if st.proto == conn.TCP {
		a.tcp.del(st.id, &a.flows)
	} else {
		delete(a.udp, udpKey{netns: uint32(st.id), local: st.local, remote: st.remote})
	}
	a.removed = append(a.removed, idx)
}

// settle finishes a flow observed this tick: whether it is active (moved
// bytes), whether it changed, and its place in the key order if its key
// changed.
func (a *Aggregator) settle(t *touch) {
	st := a.flows.at(t.idx)
	moved := st.cur != t.prev
	if st.cur[cBytesIn] != t.prev[cBytesIn] || st.cur[cBytesOut] != t.prev[cBytesOut] {
		st.moved = a.nowMicro
	}
	t.set(tChanged, moved || t.is(tFirst) || st.flags&fClosed != 0)
	if st.flags&(fExpired|fClosed) == fExpired && !moved {
		// An expired flow says goodbye only if it has news.
		t.flags = t.flags&^tChanged | tRowless
	}
	if in, out := a.rates(st, t); in+out > 0 && !t.is(tRowless) {
		a.active = append(a.active, active{rate: in + out, idx: t.idx})
	}
	if st.start == 0 {
		st.start = a.nowMicro // the source did not say: first seen now
	}
	if t.is(tRekey) {
		st.gen++ // its old place in the key order is stale
		a.keys.add(t.idx, st.gen)
	}
}

// rates are the bytes per second of a flow observed this tick, measured
// between the times the snapshots were read; 0 unless time moved forward.
func (a *Aggregator) rates(st *flowState, t *touch) (in, out float64) {
	if a.secs <= 0 {
		return 0, 0
	}
	return float64(st.cur[cBytesIn]-t.prev[cBytesIn]) / a.secs, float64(st.cur[cBytesOut]-t.prev[cBytesOut]) / a.secs
}
