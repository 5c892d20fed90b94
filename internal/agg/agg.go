// Package agg turns the source's observations, which carry lifetime
// counters, into output rows: per-tick deltas and rates, sticky process
// attribution, the open/close lifecycle and a deterministic order. It is
// pure logic: time comes from the snapshots, so every behaviour can be
// tested with fixed times.
//
// A tick is Begin, one Observe per observation as the source reads them,
// End with the time of the read, then one or more Each calls that stream
// the tick's rows, in order, to a callback (internal/run does this):
//
//	a.Begin()
//	t, err := src.Read(a.Observe)
//	a.End(t)
//	err = a.Each(changedOnly, func(r *conn.Row) error { ... })
//
// A tick does work in proportion to its observations, never to the
// number of flows known: the source reports only flows that may have
// changed, and a flow it does not report is unchanged. Each with
// changedOnly (tcptop --changed) visits only the tick's changed rows, so it
// costs as little; Each of every row visits every flow (it has to write
// them all) in an order kept incrementally (order.go).
//
// The order is total: rate_in+rate_out descending, then proto, local
// address and port, remote address and port (numerically, IPv4 before
// IPv6), pid, socket cookie and network namespace. Flows with a zero rate
// (most of them, on a busy host) are kept in that key order from tick to
// tick and only the flows that moved bytes are sorted.
package agg

import (
	"net/netip"
	"time"

	"github.com/tcptop/tcptop/internal/conn"
)

// Config sets up an Aggregator.
type Config struct {
	// Start is when tcptop started: the first tick's rates are measured
	// from it.
	Start time.Time
	// Warn is told, once, when a counter went backwards: the source has a
	// bug, and the counter keeps its previous value (delta 0) instead of
	// being reset. Nil ignores it.
	Warn func(format string, args ...any)
	// Cgroup names a cgroup v2 id: its path relative to the root of the
	// hierarchy and the id of the container it belongs to ("" if none),
	// or ok false if it cannot (yet). It is asked at the end of the tick
	// that first saw the id, and at the next ticks while it says no, up
	// to three times in all; rows show "" meanwhile. Nil names nothing.
	Cgroup func(id uint64) (path, container string, ok bool)
	// CommunityID: rows carry community_id. Its digest is kept per flow
	// (computed when the flow's addresses are known or change); without
	// it community_id is "".
	CommunityID bool
	// RemoteName names a flow's remote address as its network namespace
	// resolved it at time at ("" if it did not): remote_name. It is asked
	// once per flow, at the end of the tick that first saw it, after the
	// source took in the DNS answers received before that tick's read.
	// Nil names nothing.
	RemoteName func(netns uint32, addr netip.Addr, at time.Time) string
}

// Aggregator remembers each flow between ticks. It is not safe for
// concurrent use: the tick loop owns it.
type Aggregator struct {
	cfg      Config
	tick     int64
	now      time.Time // the snapshot's time: every row's timestamp
	nowMicro int64     // now in Unix microseconds
	last     time.Time // the previous snapshot's time, or Start
	secs     float64   // seconds between them; rates are 0 unless positive
	warned   bool

	flows  slab
	tcp    cookieIndex       // cookie → flow
	udp    map[udpKey]uint32 // netns and 4-tuple → flow
	names  names             // comm, state, cc and error strings, interned
	owners owners            // who flows belong to, interned
	// cgroupNames name the cgroups of owners (owner.cg), cgroups finds a
	// cgroup id's entry, and unnamed are the entries Config.Cgroup is to
	// be asked about at the end of the tick.
	cgroupNames []cgroupName
	cgroups     map[uint64]uint32
	unnamed     []uint32
	newFlows    []uint32   // flows created this tick, for Config.RemoteName
	closed      tombstones // TCP cookies closed lately

	touched touchList             // flows observed this tick, in observation order
	extra   map[uint64]flowExtra  // by TCP cookie: the flows with fExtra
	drops   map[dropKey]flowDrops // the flows with fDrops
	xlat    map[dropKey]flowXlat  // the flows with fXlat
	ends    map[uint32]int64      // closed flows' ends (Unix microseconds), when the kernel said: few, so not in touch
	removed []uint32              // flows closed or expired this tick, freed at the next
	active  []active              // flows with a non-zero rate, sorted by Each
	sorted  bool                  // active is sorted
	keys    keyOrder
	row     conn.Row // filled for each row Each hands out
	texts   cidTexts // the flows' Community ID texts
}

// New returns an empty Aggregator.
func New(cfg Config) *Aggregator {
	return &Aggregator{
		cfg:     cfg,
		last:    cfg.Start,
		udp:     make(map[udpKey]uint32),
		cgroups: map[uint64]uint32{0: 0},
		// entry 0: the unknown cgroup
		cgroupNames: []cgroupName{{}},
		keys:        keyOrder{tracked: true, relocateFloor: relocateFloor},
	}
}

// Len is the number of flows the aggregator knows.
func (a *Aggregator) Len() int { return a.tcp.n + len(a.udp) }

// Lens is the number of TCP and of UDP flows the aggregator knows.
func (a *Aggregator) Lens() (tcp, udp int) { return a.tcp.n, len(a.udp) }

// Begin starts a tick whose observations are handed over one by one, as
// the source reads them, so that a tick that observes every flow (the
// first) never holds them all at once.
func (a *Aggregator) Begin() {
	a.endTick()
	a.tick++
}

// Observe folds one observation into its flow's state. A flow observed
// more than once in a tick takes the last observation.
func (a *Aggregator) Observe(o *conn.Observation) { a.observe(o) }

// End closes the tick: the observations were read at readTime, which the
// rates are measured from.
func (a *Aggregator) End(readTime time.Time) {
	a.now = readTime.Round(0) // no monotonic reading in rows
	a.nowMicro = a.now.UnixMicro()
	a.secs = readTime.Sub(a.last).Seconds()
	a.last = readTime // even if time went backwards: the next interval starts here
	for i := range uint32(a.touched.len()) {
		a.settle(a.touched.at(i))
	}
	a.nameCgroups()
	a.nameRemotes()
	a.keys.bound(a.Len())
}

func (a *Aggregator) endTick() {
	for _, idx := range a.removed {
		a.dropExtra(a.flows.at(idx))
		a.forgetDrops(a.flows.at(idx))
		a.forgetXlat(a.flows.at(idx))
		a.flows.free(idx)
	}
	a.removed = a.removed[:0]
	a.relocateIfScattered()
	if cap(a.active) > 4096 && a.touched.len() < cap(a.active)/8 {
		// A snapshot of every flow is over: do not keep its room.
		a.active = nil
	}
	a.touched.reset()
	clear(a.ends)
	a.active = a.active[:0]
	a.sorted = false
	a.closed.rotate()
	if len(a.names.list) > maxNames || len(a.owners.list) > maxNames || len(a.cgroups) > maxNames {
		a.compactNames()
	}
}

// maxNames bounds the interned strings, owners and cgroups: process names
// and cgroups come and go, and a long run must not keep every one it ever
// saw.
const maxNames = 1 << 16

func (a *Aggregator) eachTCP(fn func(uint32)) {
	a.tcp.each(fn)
}

func (a *Aggregator) eachUDP(fn func(uint32)) {
	for _, idx := range a.udp {
		fn(idx)
	}
}

// warn reports a counter that went backwards, the first time only.
func (a *Aggregator) warn(st *flowState, name string, prev, got uint64) {
	if a.warned || a.cfg.Warn == nil {
		a.warned = true
		return
	}
	a.warned = true
	a.cfg.Warn("counter %s of %s %s → %s went backwards from %d to %d: kept %d (a bug in the source; reported once)",
		name, st.proto, st.local.addrPort(), st.remote.addrPort(), prev, got, prev)
}
