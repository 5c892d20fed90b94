package agg

import (
	"cmp"
	"net/netip"
	"slices"
	"time"

	"github.com/tcptop/tcptop/internal/conn"
)

// Listeners turns each read of the listening sockets (--listeners) into
// rows with state "LISTEN": its queues as read, and listen_drops carried
// past the kernel's 32-bit wrap with its delta since the previous read.
// A listener that a read no longer finds gets a last row, closed. Like
// the Aggregator, it takes the read's time from its caller.
type Listeners struct {
	known map[listenerKey]*listenerState
	reads int64 // reads so far; the first finds the listeners older than tcptop
	now   time.Time
	tick  int64
	order []*listenerState // this tick's rows, in output order
}

// listenerKey identifies a listener: cookies are unique on the host, the
// namespace keeps two hosts' (a test's fake reads) apart.
type listenerKey struct {
	netns  uint32
	cookie uint64
}

type listenerState struct {
	l         conn.Listener
	drops     uint64 // unwrapped
	prevDrops uint64 // at the previous read
	start     time.Time
	partial   bool  // seen by the first read: older than tcptop
	seen      int64 // the read that last found it
	changed   bool  // new, or something a row shows moved
	gone      bool  // this read did not find it: its closed row
}

// NewListeners returns an empty aggregator of listeners.
func NewListeners() *Listeners {
	return &Listeners{known: map[listenerKey]*listenerState{}}
}

// Begin starts a read of the listeners.
func (a *Listeners) Begin() {
	for k, st := range a.known {
		if st.gone {
			delete(a.known, k)
		}
	}
	a.reads++
}

// Observe folds one listener of the read in. The source reuses l.
func (a *Listeners) Observe(l *conn.Listener) {
	k := listenerKey{l.NetNS, l.Cookie}
	st := a.known[k]
	if st == nil {
		// One older than tcptop (the first read) starts from its drops
		// so far, which are not this tick's; a later one began with none.
		st = &listenerState{drops: uint64(l.Drops), partial: a.reads == 1, changed: true}
		if st.partial {
			st.prevDrops = st.drops
		}
		a.known[k] = st
	} else {
		old := st.l
		st.prevDrops = st.drops
		st.drops += uint64(l.Drops - uint32(st.drops)) // the difference of the low 32 bits: past a wrap too
		st.changed = old.AcceptQueue != l.AcceptQueue || old.SynQueue != l.SynQueue ||
			old.PID != l.PID || old.Comm != l.Comm || st.drops != st.prevDrops
	}
	st.l, st.seen = *l, a.reads
}

// End closes the read, made at readTime, for tick.
func (a *Listeners) End(readTime time.Time, tick int64) {
	a.now, a.tick = readTime.Round(0), tick
	a.order = a.order[:0]
	for _, st := range a.known {
		if st.seen != a.reads {
			st.gone, st.changed, st.prevDrops = true, true, st.drops
		}
		if st.start.IsZero() {
			st.start = a.now // when tcptop first saw it
		}
		a.order = append(a.order, st)
	}
	slices.SortFunc(a.order, func(x, y *listenerState) int {
		return cmp.Or(cmp.Compare(x.l.NetNS, y.l.NetNS), x.l.Local.Compare(y.l.Local), cmp.Compare(x.l.Cookie, y.l.Cookie))
	})
}

// Each calls fn with the row of every listener (with changedOnly, of
// those new, gone, or whose queues, drops or owner moved), in the order
// of namespace, address and port. r is reused.
func (a *Listeners) Each(changedOnly bool, fn func(r *conn.Row) error) error {
	var r conn.Row
	for _, st := range a.order {
		if changedOnly && !st.changed {
			continue
		}
		a.fill(&r, st)
		if err := fn(&r); err != nil {
			return err
		}
	}
	return nil
}

func (a *Listeners) fill(r *conn.Row, st *listenerState) {
	l := &st.l
	addr := l.Local.Addr()
	family, unspec := "ipv6", netip.IPv6Unspecified()
	if addr.Is4() {
		family, unspec = "ipv4", netip.IPv4Unspecified()
	}
	*r = conn.Row{
		Timestamp: a.now, Tick: a.tick, Proto: conn.TCP.String(), Family: family,
		LocalAddr: addr, LocalPort: int(l.Local.Port()), RemoteAddr: unspec,
		PID: int(l.PID), Comm: l.Comm, State: conn.StateListen, UID: -1,
		ConnectMicros: -1, SynRetrans: -1, // a listener has no handshake: not applicable, as for UDP
		Partial: st.partial, Closed: st.gone,
		NetNS: int64(l.NetNS), Start: st.start.UTC(), DurationMillis: max(0, a.now.Sub(st.start).Milliseconds()),
		AcceptQueue: int64(l.AcceptQueue), AcceptQueueMax: int64(l.AcceptQueueMax),
		ListenDrops: int64(st.drops), ListenDropsDelta: int64(st.drops - st.prevDrops), SynQueue: int64(l.SynQueue),
	}
	if l.PID != 0 {
		r.UID = int64(l.UID)
	}
}
