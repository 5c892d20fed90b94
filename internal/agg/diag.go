package agg

import (
	"github.com/tcptop/tcptop/internal/conn"
)

// diagState is a TCP flow's diagnostics as last read (gauges, copied),
// with the counters that the tick's values are differences of.
type diagState struct {
	cwnd, ssthresh, minRTT, rttvar   uint32
	notsent, unacked, sndWnd, rcvWnd uint32
	cc, err                          uint32 // indexes in names
	deliveryRate, pacingRate         uint64
	lost                             uint64 // unwrapped
	chrono                           [3]uint32
	jiffies                          uint32 // when chrono was read; 0 before the first read
}

// diagPrev is what a flow's diagnostics were at the previous tick.
type diagPrev struct {
	lost    uint32 // low bits
	chrono  [3]uint32
	jiffies uint32
}

// applyDiag copies an observation's diagnostics into the flow's state and
// reports whether anything a row shows as an event changed (a reset, an
// error); gauges such as cwnd move with the counters.
func (a *Aggregator) applyDiag(st *flowState, o *conn.Observation, created bool) (changed bool) {
	if o.Proto != conn.TCP {
		return false
	}
	d, od := &st.diag, &o.Diag
	d.cwnd, d.ssthresh, d.minRTT, d.rttvar = od.Cwnd, od.Ssthresh, od.MinRTTMicros, od.RTTVarMicros
	d.notsent, d.unacked, d.sndWnd, d.rcvWnd = od.NotsentBytes, od.UnackedBytes, od.SndWnd, od.RcvWnd
	d.deliveryRate, d.pacingRate = od.DeliveryRate, od.PacingRate
	if created {
		d.lost = uint64(od.Lost)
	} else if v, ok := unwrap(d.lost, uint64(od.Lost), false); ok {
		d.lost = v
	}
	if od.Kinds {
		st.flags |= fKinds
	} else {
		st.flags &^= fKinds
	}
	if o.Error != a.names.get(d.err) {
		d.err, changed = a.names.intern(o.Error), true
	}
	if od.CC != a.names.get(d.cc) {
		d.cc = a.names.intern(od.CC)
	}
	d.chrono, d.jiffies = od.Chrono, od.ChronoJiffies
	e := a.extraOf(st)
	was := e
	e.rto, e.fast = od.RetransRTO, od.RetransFast
	e.rstIn, e.rstOut = od.RstIn, od.RstOut
	// Known once the handshake ends, and then fixed: a row to show.
	e.connect, e.syns = plusOne(od.ConnectMicros, od.ConnectKnown), plusOne(uint32(od.SynRetrans), od.SynsKnown)
	if e.connect != was.connect || e.syns != was.syns || e.rstIn != was.rstIn || e.rstOut != was.rstOut {
		changed = true
	}
	if e != was {
		a.setExtra(st, e)
	}
	return changed
}

// plusOne stores a value that may not be known in a uint32 whose 0 means
// not known (the largest value, 2^32-1 microseconds, reads one less).
func plusOne(v uint32, known bool) uint32 {
	if !known {
		return 0
	}
	return max(v, v+1)
}

// Limits: what held a TCP sender back during a tick (docs/fields.md,
// limit).
const (
	limitNone   = ""
	limitCwnd   = "cwnd"
	limitRwnd   = "rwnd"
	limitSndbuf = "sndbuf"
	limitApp    = "app"
)

// limit says what held the sender back between the previous read of the
// flow's diagnostics (p) and this one. The kernel splits the time it has
// data to send into busy (sending as fast as the congestion window
// allows), limited by the receiver's window and limited by the send buffer
// (the chrono times of tcp_info that ss -ti prints, here their
// differences); the rest of the interval it had nothing to send (the
// application). The largest share names the limit. A flow that sent
// nothing and has nothing queued has none, and so has one whose
// diagnostics were never read.
//
// A connection's first read is measured from its open where tcptop saw
// that (p holds the open's jiffies and no time counted). Where there is
// no interval to measure (p is nil: not read this tick; p's jiffies are
// 0: the first read of a connection older than tcptop; or the same as
// this read's: not read again since, as on the batch fallback), the
// kernel's lifetime busy and limited times alone compete, as ss -ti
// shows their shares: the idle time before tcptop is unknown.
func limit(d *diagState, p *diagPrev, sent bool) string {
	if !sent && d.unacked == 0 && d.notsent == 0 || d.jiffies == 0 {
		return limitNone
	}
	if p == nil || p.jiffies == 0 || p.jiffies == d.jiffies {
		p = &diagPrev{jiffies: d.jiffies - d.chrono[0] - d.chrono[1] - d.chrono[2]} // no idle time
	}
	span := d.jiffies - p.jiffies
	busy, rwnd, sndbuf := d.chrono[0]-p.chrono[0], d.chrono[1]-p.chrono[1], d.chrono[2]-p.chrono[2]
	var app uint32
	if held := busy + rwnd + sndbuf; span > held {
		app = span - held
	}
	best, name := busy, limitCwnd
	for _, c := range []struct {
		v    uint32
		name string
	}{{rwnd, limitRwnd}, {sndbuf, limitSndbuf}, {app, limitApp}} {
		if c.v > best {
			best, name = c.v, c.name
		}
	}
	if best == 0 {
		return limitApp // queued for less than a jiffy, held back by nothing measurable
	}
	return name
}
