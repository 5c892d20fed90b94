// Package agg turns the source's per-tick observations, which carry
// cumulative counters, into output rows: per-tick deltas and rates, sticky
// process attribution, the close lifecycle, UDP idle expiry and a
// deterministic order. It is pure logic: the caller passes the clock in, so
// every behaviour can be tested with fixed times.
package agg

import (
	"cmp"
	"net/netip"
	"slices"
	"time"

	"github.com/tcptop/tcptop/internal/conn"
)

// timestampLayout is RFC 3339 with a fixed six-digit fraction; on a UTC
// time the zone prints as "Z".
const timestampLayout = "2006-01-02T15:04:05.000000Z07:00"

// maxFree bounds the pool of recycled flow states, so that a burst of
// short-lived connections does not pin their memory for the process's life.
const maxFree = 4096

// Aggregator remembers each flow between ticks. It is not safe for
// concurrent use: the tick loop owns it.
type Aggregator struct {
	udpTimeout time.Duration
	last       time.Time // time of the previous tick, or start
	tick       int64

	flows map[conn.FlowID]*flowState
	// present counts flows in the map that this tick has observed. When it
	// equals len(flows) nothing went missing and the sweep is skipped, which
	// is the steady state: closes arrive as observations.
	present int

	// Scratch reused across ticks so that a steady tick allocates only
	// the rows it returns.
	emit    []entry      // flows that get a row this tick
	gone    []*flowState // flows forgotten this tick; recycled once rows are built
	free    []*flowState
	expired []conn.FlowID // handed to the caller, so a fresh slice each tick
}

// entry is a flow in this tick's output. The rate total is kept inline so
// that most comparisons while sorting do not have to chase the pointer.
type entry struct {
	rate float64 // rate_in + rate_out
	st   *flowState
}

// counters are the cumulative counters that deltas are taken of.
type counters struct {
	bytesIn, bytesOut, packetsIn, packetsOut uint64
}

// flowState is everything needed to build a flow's row, so rows can be
// sorted by reference and built once, in order, straight into the output.
type flowState struct {
	id                  conn.FlowID
	proto               conn.Proto
	family              string
	local, remote       netip.AddrPort
	localStr, remoteStr string // cached: Addr.String allocates
	pid                 uint32
	comm, state         string
	cur, prev           counters // prev is as of the previous tick; zero for a new flow
	rtt, retrans        uint64
	partial, closed     bool

	seen            int64     // last tick that observed the flow
	lastChange      time.Time // UDP idle clock: last tick whose counters moved
	rateIn, rateOut float64   // this tick's
	seq             int       // position in emit: the last tie-break
}

// New returns an Aggregator whose first tick's rates are measured from
// start. A UDP flow whose counters stay still for udpTimeout is expired;
// udpTimeout <= 0 means never.
func New(start time.Time, udpTimeout time.Duration) *Aggregator {
	return &Aggregator{
		udpTimeout: udpTimeout,
		last:       start,
		flows:      make(map[conn.FlowID]*flowState),
	}
}

// Tick consumes every observation the source made at time now (cumulative
// counters) and returns the rows to emit for this tick plus the IDs of UDP
// flows that expired (idle too long) so the caller can tell the source to
// forget them. Rows are sorted by rate_in+rate_out descending, then proto,
// local and remote address and port (numeric order, IPv4 before IPv6) and
// pid. The returned slices belong to the caller.
func (a *Aggregator) Tick(now time.Time, obs []conn.Observation) (rows []conn.Row, expired []conn.FlowID) {
	a.tick++
	a.present = 0
	for i := range obs {
		a.observe(&obs[i], now)
	}
	if a.present < len(a.flows) {
		a.sweep()
	}
	a.setRates(now.Sub(a.last))
	a.last = now // even if time went backwards: the next interval starts here
	slices.SortFunc(a.emit, compareFlows)
	rows = a.rows(now.UTC().Format(timestampLayout))
	a.recycle()
	expired, a.expired = a.expired, nil
	return rows, expired
}

// observe folds one observation into its flow's state and decides whether
// the flow gets a row, is kept, or is forgotten.
func (a *Aggregator) observe(o *conn.Observation, now time.Time) {
	st, known := a.flows[o.ID]
	if !known {
		st = a.alloc()
		st.lastChange = now // a new flow's idle clock starts when first seen
	} else if st.seen != a.tick {
		a.present++
	}
	first := st.seen != a.tick // false if the source repeated the flow this tick
	st.apply(o, a.tick, now)
	if o.Expired {
		// The source forgot an idle UDP flow: so does the aggregator.
		a.forget(st, known)
		return
	}
	if !o.Closed && st.idle(now, a.udpTimeout) {
		a.expired = append(a.expired, o.ID)
		a.forget(st, known)
		return
	}
	if first {
		a.add(st)
	}
	switch {
	case o.Closed:
		// A closed flow is reported once; the same ID later is a new flow.
		st.closed = true
		a.forget(st, known)
	case !known:
		a.flows[o.ID] = st
		a.present++
	}
}

// apply copies an observation into the state. Deltas are taken against
// the counters of the previous tick, so a repeated observation within one
// tick replaces the earlier one rather than being counted twice.
func (st *flowState) apply(o *conn.Observation, tick int64, now time.Time) {
	if st.seen != tick {
		st.prev, st.seen = st.cur, tick
	}
	if st.localStr == "" || o.Local.Addr() != st.local.Addr() {
		st.localStr = o.Local.Addr().String()
	}
	if st.remoteStr == "" || o.Remote.Addr() != st.remote.Addr() {
		st.remoteStr = o.Remote.Addr().String()
	}
	st.id, st.proto, st.family = o.ID, o.Proto, o.Family()
	st.local, st.remote = o.Local, o.Remote
	// Kernel state changes run in softirq context and carry no pid; they
	// must not erase a process already attributed.
	if o.PID != 0 || st.pid == 0 {
		st.pid, st.comm = o.PID, o.Comm
	}
	st.state = o.State
	st.cur = counters{o.BytesIn, o.BytesOut, o.PacketsIn, o.PacketsOut}
	if st.cur != st.prev {
		st.lastChange = now
	}
	st.rtt, st.retrans = o.RTTMicros, o.Retrans
	st.partial = st.partial || o.Partial // counters stay incomplete forever
}

// idle reports whether a UDP flow has been still for timeout or longer.
func (st *flowState) idle(now time.Time, timeout time.Duration) bool {
	return st.proto == conn.UDP && timeout > 0 && now.Sub(st.lastChange) >= timeout
}

// sweep gives the flows the source did not report this tick (nothing
// about them changed) their unchanged row. A flow is never taken for
// closed for being missing: a close is always reported.
func (a *Aggregator) sweep() {
	for _, st := range a.flows {
		if st.seen == a.tick {
			continue
		}
		st.prev, st.seen = st.cur, a.tick
		a.add(st)
	}
}

// add gives a flow a row this tick.
func (a *Aggregator) add(st *flowState) {
	st.seq = len(a.emit)
	a.emit = append(a.emit, entry{st: st})
}

// forget drops a flow from the map; its state is recycled after this
// tick's rows are built, since it may still be about to produce one.
func (a *Aggregator) forget(st *flowState, known bool) {
	if known {
		delete(a.flows, st.id)
		a.present--
	}
	a.gone = append(a.gone, st)
}

func (a *Aggregator) alloc() *flowState {
	if n := len(a.free); n > 0 {
		st := a.free[n-1]
		a.free = a.free[:n-1]
		return st
	}
	return new(flowState)
}

func (a *Aggregator) recycle() {
	for _, st := range a.gone {
		if len(a.free) < maxFree {
			*st = flowState{}
			a.free = append(a.free, st)
		}
	}
	clear(a.gone) // let unpooled states be collected
	a.gone = a.gone[:0]
	clear(a.emit)
	a.emit = a.emit[:0]
}

// setRates computes bytes per second over the interval since the previous
// tick. With no positive interval there is no meaningful rate, so it is 0.
func (a *Aggregator) setRates(elapsed time.Duration) {
	secs := elapsed.Seconds()
	for i := range a.emit {
		st := a.emit[i].st
		st.rateIn, st.rateOut = 0, 0
		if elapsed > 0 {
			st.rateIn = float64(delta(st.cur.bytesIn, st.prev.bytesIn)) / secs
			st.rateOut = float64(delta(st.cur.bytesOut, st.prev.bytesOut)) / secs
		}
		a.emit[i].rate = st.rateIn + st.rateOut
	}
}

// delta is what a cumulative counter gained since prev. A counter that went
// down means the source restarted counting, so all it now holds is new.
func delta(cur, prev uint64) int64 {
	if cur < prev {
		return int64(cur)
	}
	return int64(cur - prev)
}

// compareFlows is a total order, so the output does not depend on the order
// of observations or of map iteration.
func compareFlows(ex, ey entry) int {
	if c := cmp.Compare(ey.rate, ex.rate); c != 0 {
		return c
	}
	x, y := ex.st, ey.st
	if c := cmp.Compare(x.proto, y.proto); c != 0 { // tcp < udp, as their names
		return c
	}
	if c := x.local.Compare(y.local); c != 0 {
		return c
	}
	if c := x.remote.Compare(y.remote); c != 0 {
		return c
	}
	if c := cmp.Compare(x.pid, y.pid); c != 0 {
		return c
	}
	// Two TCP connections can share a 4-tuple and pid (one in TIME_WAIT).
	if c := cmp.Compare(x.id.Cookie, y.id.Cookie); c != 0 {
		return c
	}
	return cmp.Compare(x.seq, y.seq)
}

// rows builds the output in one allocation, in the sorted order of emit.
func (a *Aggregator) rows(ts string) []conn.Row {
	rows := make([]conn.Row, len(a.emit))
	for i, e := range a.emit {
		e.st.fill(&rows[i], ts, a.tick)
	}
	return rows
}

func (st *flowState) fill(r *conn.Row, ts string, tick int64) {
	*r = conn.Row{
		Timestamp:  ts,
		Tick:       tick,
		Proto:      st.proto.String(),
		Family:     st.family,
		LocalAddr:  st.localStr,
		LocalPort:  int(st.local.Port()),
		RemoteAddr: st.remoteStr,
		RemotePort: int(st.remote.Port()),
		PID:        int(st.pid),
		Comm:       st.comm,
		State:      st.state,

		BytesIn:    int64(st.cur.bytesIn),
		BytesOut:   int64(st.cur.bytesOut),
		PacketsIn:  int64(st.cur.packetsIn),
		PacketsOut: int64(st.cur.packetsOut),

		BytesInDelta:    delta(st.cur.bytesIn, st.prev.bytesIn),
		BytesOutDelta:   delta(st.cur.bytesOut, st.prev.bytesOut),
		PacketsInDelta:  delta(st.cur.packetsIn, st.prev.packetsIn),
		PacketsOutDelta: delta(st.cur.packetsOut, st.prev.packetsOut),

		RateIn:  st.rateIn,
		RateOut: st.rateOut,

		RTTMicros: int64(st.rtt),
		Retrans:   int64(st.retrans),
		Partial:   st.partial,
		Closed:    st.closed,
	}
}
