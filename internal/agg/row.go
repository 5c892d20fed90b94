package agg

import (
	"time"

	"github.com/tcptop/tcptop/internal/conn"
)

// fill writes flow idx's row for this tick into r. A flow not observed
// this tick did not change: its deltas and rates are 0.
func (a *Aggregator) fill(r *conn.Row, idx uint32) {
	st := a.flows.at(idx)
	var t *touch
	if st.seen == uint32(a.tick) {
		t = a.touched.at(st.slot)
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
		Comm:       a.names.get(a.owners.get(st.owner).comm),
		State:      a.names.get(st.state),

		BytesIn:    int64(st.cur[cBytesIn]),
		BytesOut:   int64(st.cur[cBytesOut]),
		PacketsIn:  int64(st.cur[cPacketsIn]),
		PacketsOut: int64(st.cur[cPacketsOut]),

		RTTMicros: int64(st.rtt),
		Retrans:   int64(st.retrans),
		Partial:   st.flags&fPartial != 0,
		Closed:    st.flags&fClosed != 0,

		ConnectMicros: -1,
		SynRetrans:    -1,
	}
	if st.proto == conn.TCP {
		a.fillDiag(r, st, t)
	}
	a.fillOwner(r, idx, st, t)
	a.fillDrops(r, st, t)
	a.fillXlat(r, st)
	if t != nil {
		r.BytesInDelta = int64(st.cur[cBytesIn] - t.prev[cBytesIn])
		r.BytesOutDelta = int64(st.cur[cBytesOut] - t.prev[cBytesOut])
		r.PacketsInDelta = int64(st.cur[cPacketsIn] - t.prev[cPacketsIn])
		r.PacketsOutDelta = int64(st.cur[cPacketsOut] - t.prev[cPacketsOut])
		r.RateIn, r.RateOut = a.rates(st, t)
	}
}

// fillDiag writes a TCP flow's diagnostics; the per-tick values (retrans
// and lost gained) only when it was observed this tick.
func (a *Aggregator) fillDiag(r *conn.Row, st *flowState, t *touch) {
	d := &st.diag
	r.Cwnd, r.Ssthresh = int64(d.cwnd), int64(d.ssthresh)
	r.MinRTTMicros, r.RTTVarMicros = int64(d.minRTT), int64(d.rttvar)
	r.DeliveryRate, r.PacingRate = int64(d.deliveryRate), int64(min(d.pacingRate, 1<<63-1))
	r.NotsentBytes, r.UnackedBytes = int64(d.notsent), int64(d.unacked)
	r.SndWnd, r.RcvWnd = int64(d.sndWnd), int64(d.rcvWnd)
	r.CC, r.Error = a.names.get(d.cc), a.names.get(d.err)
	e := a.extraOf(st)
	r.ConnectMicros, r.SynRetrans = int64(e.connect)-1, int64(e.syns)-1
	r.RstIn, r.RstOut = int64(e.rstIn), int64(e.rstOut)
	if t == nil {
		r.Limit = limit(d, nil, false) // not read this tick: sent nothing; what is queued waits still
		return
	}
	r.RetransDelta = int64(uint32(st.retrans) - t.prevRetr)
	if st.flags&fKinds != 0 && !t.is(tNoKinds) {
		// retrans is the kinds' sum (source.retransByKind): tlp is the rest.
		rto, fast := e.rto-e.prevRTO, e.fast-e.prevFast
		r.RetransRTO, r.RetransFast = int64(rto), int64(fast)
		r.RetransTLP = int64(uint32(st.retrans) - t.prevRetr - rto - fast)
	}
	r.Lost = int64(uint32(d.lost) - t.prevDiag.lost)
	r.Limit = limit(d, &t.prevDiag, st.cur[cBytesOut] != t.prev[cBytesOut])
}

// fillOwner writes who the flow belongs to, where, and since when.
func (a *Aggregator) fillOwner(r *conn.Row, idx uint32, st *flowState, t *touch) {
	w := a.owners.get(st.owner)
	r.NetNS, r.CgroupID = int64(w.netns), int64(w.cgroup)
	cg := &a.cgroupNames[w.cg]
	r.Cgroup, r.ContainerID = cg.path, cg.container
	r.UID = -1
	if st.pid != 0 {
		r.UID = int64(w.uid)
	}
	r.Direction = dirNames[st.dir]
	r.ServicePort = st.dir.ServicePort(r.LocalPort, r.RemotePort)
	if st.flags&fCID != 0 {
		r.CommunityID = a.communityID(idx, st)
	}
	if st.rname != 0 {
		r.RemoteName = a.names.get(st.rname - 1)
	}
	r.Start = time.UnixMicro(st.start).UTC()
	end := a.nowMicro
	if st.flags&fClosed != 0 {
		if e := a.ends[idx]; e != 0 {
			end = e // closed: its life, not up to this read
		}
	}
	r.DurationMillis = max(0, (end-st.start)/1000)
	r.IdleMillis = max(0, (a.nowMicro-max(st.moved, st.start))/1000)
}

// dirNames are the conn.Direction names, without a call per row.
var dirNames = [...]string{conn.DirUnknown: conn.DirUnknown.String(), conn.DirOut: conn.DirOut.String(), conn.DirIn: conn.DirIn.String()}
