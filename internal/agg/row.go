package agg

import (
	"github.com/tcptop/tcptop/internal/conn"
)

// fill writes flow idx's row for this tick into r. A flow not observed
// this tick did not change: its deltas and rates are 0.
func (a *Aggregator) fill(r *conn.Row, idx uint32) {
	st := a.flows.at(idx)
	var t *touch
	if st.seen == uint32(a.tick) {
		t = &a.touched[st.slot]
	}
	*r = conn.Row{
		Timestamp:  a.now,
		Tick:       a.tick,
		Proto:      st.proto.String(),
		Family:     st.family(),
		LocalAddr:  st.local.ip(),
		LocalPort:  int(st.local.port),
		RemoteAddr: st.remote.ip(),
		RemotePort: int(st.remote.port),
		PID:        int(st.pid),
		Comm:       a.names.get(st.comm),
		State:      a.names.get(st.state),

		BytesIn:    int64(st.cur[cBytesIn]),
		BytesOut:   int64(st.cur[cBytesOut]),
		PacketsIn:  int64(st.cur[cPacketsIn]),
		PacketsOut: int64(st.cur[cPacketsOut]),

		RTTMicros: int64(st.rtt),
		Retrans:   int64(st.retrans),
		Partial:   st.flags&fPartial != 0,
		Closed:    st.flags&fClosed != 0,
	}
	if t != nil {
		r.BytesInDelta = int64(st.cur[cBytesIn] - t.prev[cBytesIn])
		r.BytesOutDelta = int64(st.cur[cBytesOut] - t.prev[cBytesOut])
		r.PacketsInDelta = int64(st.cur[cPacketsIn] - t.prev[cPacketsIn])
		r.PacketsOutDelta = int64(st.cur[cPacketsOut] - t.prev[cPacketsOut])
		r.RateIn, r.RateOut = a.rates(st, t)
	}
}
