package agg

import "github.com/tcptop/tcptop/internal/conn"

// flowExtra is what only some TCP connections have: a handshake tcptop saw
// end (connect_us, syn_retrans), retransmits counted by kind, and resets.
// Every connection older than tcptop has none of the first two, which at
// 50,000 held connections is every one, and a connection has a reset at
// most at its end; kept in flowState they cost 24 bytes a flow and 8 a
// touch (2.4 + 0.8 MB at 100,000 sockets, docs/performance.md 2026-12-07
// "what issue 19's fields cost"). So it lives in a map by socket
// cookie (which the key-order relocation does not move, unlike a flow's
// index), holding only flows with a value other than 0; a flow without an
// entry (fExtra clear) reads as all 0.
type flowExtra struct {
	rto, fast         uint32 // retransmit kinds' counters (tlp is the rest of retrans), low bits
	prevRTO, prevFast uint32 // rto and fast at the tick's first touch of the flow
	connect, syns     uint32 // connect_us + 1 and syn_retrans + 1; 0: not known
	rstIn, rstOut     uint32 // resets received and sent
}

// extraOf returns the flow's extra state: all 0 where it has none.
func (a *Aggregator) extraOf(st *flowState) flowExtra {
	if st.flags&fExtra == 0 {
		return flowExtra{}
	}
	return a.extra[st.id]
}

// setExtra stores the flow's extra state, dropping its entry when all of
// it is 0.
func (a *Aggregator) setExtra(st *flowState, e flowExtra) {
	switch {
	case e != flowExtra{} && st.proto == conn.TCP:
		if a.extra == nil {
			a.extra = make(map[uint64]flowExtra)
		}
		a.extra[st.id] = e
		st.flags |= fExtra
	case st.flags&fExtra != 0:
		delete(a.extra, st.id)
		st.flags &^= fExtra
	}
}

// markKinds keeps the kinds' counters as the tick's first touch found
// them, which the row's retrans_rto and retrans_fast are differences of.
func (a *Aggregator) markKinds(st *flowState) {
	if st.flags&fExtra == 0 {
		return // all 0, and so were they
	}
	e := a.extra[st.id]
	if e.prevRTO != e.rto || e.prevFast != e.fast {
		e.prevRTO, e.prevFast = e.rto, e.fast
		a.extra[st.id] = e
	}
}

// dropExtra forgets a freed flow's extra state.
func (a *Aggregator) dropExtra(st *flowState) {
	if st.flags&fExtra != 0 {
		delete(a.extra, st.id)
	}
}
