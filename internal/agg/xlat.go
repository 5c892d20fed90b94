package agg

import (
	"net/netip"

	"github.com/tcptop/tcptop/internal/conn"
)

// flowXlat is a flow's tuple on the other side of a conntrack NAT
// (xlat_*). Few flows are translated, so it lives in a map, like
// flowDrops, holding only flows with fXlat set.
type flowXlat struct {
	local, remote netip.AddrPort
}

// applyXlat keeps the translated tuple an observation carries. The
// source looks it up once per flow and hands it with every observation
// of the flow; one without it changes nothing (a flow keeps what it had).
func (a *Aggregator) applyXlat(st *flowState, o *conn.Observation) {
	if !o.XlatLocal.IsValid() && !o.XlatRemote.IsValid() {
		return
	}
	if a.xlat == nil {
		a.xlat = make(map[dropKey]flowXlat)
	}
	a.xlat[dropKeyOf(st)] = flowXlat{local: o.XlatLocal, remote: o.XlatRemote}
	st.flags |= fXlat
}

// fillXlat writes a flow's translated tuple into its row.
func (a *Aggregator) fillXlat(r *conn.Row, st *flowState) {
	if st.flags&fXlat == 0 {
		return
	}
	x := a.xlat[dropKeyOf(st)]
	if x.remote.IsValid() {
		r.XlatRemoteAddr, r.XlatRemotePort = x.remote.Addr(), int(x.remote.Port())
	}
	if x.local.IsValid() {
		r.XlatLocalAddr, r.XlatLocalPort = x.local.Addr(), int(x.local.Port())
	}
}

// forgetXlat forgets a freed flow's translated tuple.
func (a *Aggregator) forgetXlat(st *flowState) {
	if st.flags&fXlat != 0 {
		delete(a.xlat, dropKeyOf(st))
	}
}
