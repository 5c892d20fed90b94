package metrics

import (
	"net/netip"
	"time"

	"github.com/tcptop/tcptop/internal/conn"
)

// flowID names a TCP connection among those that opened in the last few
// ticks.
type flowID struct {
	netns          int64
	local, remote  netip.Addr
	lport, rport   int
	startUnixNanos int64
}

// openings tells the first row of each TCP connection tcptop saw open.
// The row does not say it is a flow's first, but its start does, nearly:
// a connection that opened after the read two ticks back cannot have had
// a row before the previous tick (a connection that opened while a read
// was in progress may miss that read and show in the next tick, so one
// tick back would lose it). The connections counted in the last three
// ticks are remembered so that none counts twice; that is all this
// keeps, so its memory follows the rate of new connections, not their
// number.
type openings struct {
	after   time.Time              // start must be after this: the read two ticks back
	prev    time.Time              // the previous tick's read
	counted [3]map[flowID]struct{} // this tick's and the two before
}

func newOpenings() *openings {
	o := &openings{}
	for i := range o.counted {
		o.counted[i] = map[flowID]struct{}{}
	}
	return o
}

// first reports whether r is the first row of a TCP connection tcptop
// saw open, and remembers it.
func (o *openings) first(r *conn.Row) bool {
	if r.Proto != "tcp" || r.Partial || !r.Start.After(o.after) {
		return false
	}
	id := flowID{netns: r.NetNS, local: r.LocalAddr, remote: r.RemoteAddr, lport: r.LocalPort, rport: r.RemotePort,
		startUnixNanos: r.Start.UnixNano()}
	for _, m := range o.counted {
		if _, ok := m[id]; ok {
			return false
		}
	}
	o.counted[0][id] = struct{}{}
	return true
}

// endTick moves the window on after the tick read at read.
func (o *openings) endTick(read time.Time) {
	o.after, o.prev = o.prev, read
	oldest := o.counted[2]
	clear(oldest)
	o.counted[2], o.counted[1], o.counted[0] = o.counted[1], o.counted[0], oldest
}
