package source

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/btf"
	"golang.org/x/sys/unix"

	"github.com/tcptop/tcptop/internal/conn"
)

// Packets the kernel dropped (bpf/drops.h): the kernel counts them per
// socket cookie, or per tuple where the packet had no full socket, and
// reason; each tick the source reads the counts, joins the tuples to TCP
// connections and UDP flows, and hands each flow's lifetime drops and the
// tick's most frequent reason over with its observation.

// KindDrops is the drop hook, as Config.Refuse names it.
const KindDrops = "tp_btf/kfree_skb"

// dropsLoss is what tcptop loses without the drop hook.
const dropsLoss = "drops and drops_delta stay 0 and drop_reason \"\""

// noReasonsLoss is what the drop hook loses before Linux 5.17.
const noReasonsLoss = "drop_reason stays \"\": kfree_skb has no reason before Linux 5.17"

// idleDropTicks is how many ticks a kernel count must stay unchanged
// before it is deleted (a later drop starts it again from 0).
const idleDropTicks = 60

// dropState is what the source keeps of drops between ticks: only flows
// that had some.
type dropState struct {
	attached bool
	reasons  bool              // the kernel gives reasons (5.17+)
	names    map[uint32]string // enum skb_drop_reason without its prefix, from the kernel's BTF
	counts   map[tcptopDropKey]dropEntry
	tcp      map[uint64]*flowDrops // by cookie
	udp      map[udpDropKey]*flowDrops
	tuples   map[tcpTupleKey]uint64 // TCP tuples joined to their connection's cookie
	fresh    map[uint64]bool        // cookies with drops this tick that no read reported yet
	tick     []dropDelta            // this tick's new drops, before they are attributed
	full     bool                   // the kernel's count map was found full (said once)

	// A socket read without the sender's address asked for (recv, read)
	// has one flow with no peer, while its drops name their sender: such
	// drops go to that flow (peerless, redirect, pending below).
	peerless map[udpPortKey]peerlessFlow  // the flows with no peer the last UDP read reported
	redirect map[udpDropKey]udpDropKey    // a sender's drops that go to its socket's flow with no peer
	pending  map[udpDropKey][]reasonCount // drops redirected after this tick's read: counted in the next
	// unattributed counts drops that no flow tcptop tracks could take (a
	// port scan refused, forwarded packets, a closed connection's late
	// packets, a flow the table had no room for).
	unattributed uint64
}

// udpPortKey is a UDP socket as its drops find it: its namespace and port.
type udpPortKey struct {
	netns uint32
	port  uint16
}

// peerlessFlow is a flow with no peer, and the tick it was last reported.
type peerlessFlow struct {
	key  udpDropKey
	seen uint32
}

// dropEntry is a kernel count as last read.
type dropEntry struct {
	n       uint64
	changed uint32 // the tick it last grew
}

// dropDelta is what one kernel count grew by in this tick.
type dropDelta struct {
	key tcptopDropKey
	n   uint64
}

// flowDrops is one flow's drops: over its life, and by reason in the
// tick they were last counted in.
type flowDrops struct {
	total   uint64
	tick    uint32 // the tick of reasons
	seen    uint32 // the tick whose read last reported the flow (UDP)
	reasons []reasonCount
}

type reasonCount struct {
	reason uint32
	n      uint64
}

// udpDropKey finds a UDP flow's drops: the flow's local port, not its
// address, as a socket bound to any address has the flow 0.0.0.0:port
// while its packets name the address they came to.
type udpDropKey struct {
	netns  uint32
	port   uint16
	remote netip.AddrPort
}

// tcpTupleKey finds a TCP connection by its addresses.
type tcpTupleKey struct {
	netns         uint32
	local, remote netip.AddrPort
}

func (d *dropState) init() {
	d.counts = map[tcptopDropKey]dropEntry{}
	d.tcp = map[uint64]*flowDrops{}
	d.udp = map[udpDropKey]*flowDrops{}
	d.tuples = map[tcpTupleKey]uint64{}
	d.fresh = map[uint64]bool{}
	d.peerless = map[udpPortKey]peerlessFlow{}
	d.redirect = map[udpDropKey]udpDropKey{}
	d.pending = map[udpDropKey][]reasonCount{}
}

// dropArgs is how many arguments the kernel's kfree_skb tracepoint
// passes (btf_trace_kfree_skb's parameters after the context): 2 before
// 5.17, 3 with the reason, 4 with rx_sk (6.12+).
func dropArgs(kernel *btf.Spec) int {
	var td *btf.Typedef
	if kernel.TypeByName("btf_trace_kfree_skb", &td) != nil {
		return 0
	}
	ptr, ok := btf.UnderlyingType(td.Type).(*btf.Pointer)
	if !ok {
		return 0
	}
	fp, ok := btf.UnderlyingType(ptr.Target).(*btf.FuncProto)
	if !ok {
		return 0
	}
	return len(fp.Params) - 1
}

// notDrops are the reasons the drop programs leave out (bpf/drops.h):
// a packet consumed, and a destroyed socket's queues purged.
var notDrops = map[string]string{"SKB_CONSUMED": tcptopVarReasonConsumed, "QUEUE_PURGE": tcptopVarReasonPurge}

// reasonNames reads enum skb_drop_reason from the kernel's BTF: each
// value's name without SKB_DROP_REASON_, and the values of the reasons
// the programs leave out, by their variables (~0 where the kernel has
// none).
func reasonNames(kernel *btf.Spec) (names map[uint32]string, left map[string]uint32) {
	names, left = map[uint32]string{}, map[string]uint32{}
	for _, v := range notDrops {
		left[v] = ^uint32(0)
	}
	var e *btf.Enum
	if kernel.TypeByName("skb_drop_reason", &e) != nil {
		return names, left
	}
	for _, v := range e.Values {
		name := strings.TrimPrefix(v.Name, "SKB_DROP_REASON_")
		names[uint32(v.Value)] = name
		if variable, ok := notDrops[name]; ok {
			left[variable] = uint32(v.Value)
		}
	}
	return names, left
}

// configureDrops sets what the drop programs need to know before load.
func (s *Source) configureDrops(spec *ebpf.CollectionSpec, kernel *btf.Spec) error {
	names, left := reasonNames(kernel)
	s.drops.names = names
	for variable, value := range left {
		if err := spec.Variables[variable].Set(value); err != nil {
			return fmt.Errorf("configure eBPF object: %w", err)
		}
	}
	return nil
}

// attachDrops loads and attaches the drop program the kernel's
// tracepoint takes: with the reason (5.17+) or without.
func (s *Source) attachDrops(spec *ebpf.CollectionSpec, kernel *btf.Spec) {
	p := Part{Name: "drops", Loss: dropsLoss}
	h := hook{prog: tcptopProgTcptopDrop, target: "kfree_skb", tracepoint: true}
	args := dropArgs(kernel)
	if args == 2 {
		h.prog = tcptopProgTcptopDropNoreason
	}
	err := s.forced(KindDrops)
	if err == nil && args < 2 {
		err = errors.New("no kfree_skb tracepoint in the kernel's BTF")
	}
	var coll *ebpf.Collection
	if err == nil {
		coll, err = s.loadSeparately(spec, h.prog)
	}
	if err == nil {
		err = s.attach(coll.Programs[h.prog], h)
	}
	switch {
	case err != nil:
		p.Refused = []string{s.refusal(KindDrops, h.prog, err)}
	case args == 2:
		p.Using, p.Fallback, p.Minor, p.Loss = h.String()+" (without reasons)", true, true, noReasonsLoss
		s.drops.attached = true
	default:
		p.Using = h.String()
		s.drops.attached, s.drops.reasons = true, true
	}
	s.part(p)
}

// reasonName is a reason as the kernel names it, "" for none (0: the
// kernel gave none, before 5.17), its number where the kernel's enum has
// no name for it (a subsystem's reason).
func (d *dropState) reasonName(r uint32) string {
	if r == 0 {
		return ""
	}
	if n, ok := d.names[r]; ok {
		return n
	}
	return strconv.FormatUint(uint64(r), 10)
}

// readDrops reads the kernel's counts and attributes what each grew by
// since the previous tick to its flow. It runs before the reads of the
// flows, whose observations then carry the drops.
func (s *Source) readDrops() error {
	d := &s.drops
	if !d.attached {
		return nil
	}
	d.tick = d.tick[:0]
	var stale []tcptopDropKey
	var k tcptopDropKey
	var n uint64
	it := s.objs.DropCounts.Iterate()
	for it.Next(&k, &n) {
		e := d.counts[k]
		switch {
		case n > e.n:
			d.tick = append(d.tick, dropDelta{key: k, n: n - e.n})
			d.counts[k] = dropEntry{n: n, changed: s.tick}
		case s.tick-e.changed > idleDropTicks:
			stale = append(stale, k)
		}
	}
	if err := it.Err(); err != nil {
		return fmt.Errorf("read drops: %w", err)
	}
	// A drop that found the count map full (drops_lost, counted by the
	// hook) is missing from its flow's drops: said once, not every tick.
	var lost uint64
	if !d.full && s.objs.DropsLost.Get(&lost) == nil && lost > 0 {
		d.full = true
		s.cfg.Warn("drops: the kernel's count of dropped packets is full (%d counts, one per flow and reason); drops of further flows are not counted until idle ones are forgotten (after 60 ticks without drops)",
			s.objs.DropCounts.MaxEntries())
	}
	for _, k := range stale {
		// A drop between the read above and this delete is lost: only
		// where a count idle for a minute grows in that instant.
		if err := s.objs.DropCounts.Delete(k); err == nil || errors.Is(err, ebpf.ErrKeyNotExist) {
			delete(d.counts, k)
		}
	}
	return s.attributeDrops()
}

// attributeDrops gives this tick's new drops to their flows.
func (s *Source) attributeDrops() error {
	d := &s.drops
	// Drops redirected after the last read to a flow with no peer: its
	// observation had gone out, so they count in this tick.
	for key, reasons := range d.pending {
		for _, r := range reasons {
			s.addDrops(d.udpFlow(key), r.reason, r.n)
		}
		delete(d.pending, key)
	}
	var unjoined []int
	for i := range d.tick {
		k := &d.tick[i].key
		switch {
		case k.Cookie != 0:
			s.addDrops(d.flowOf(k.Cookie), k.Reason, d.tick[i].n)
			d.fresh[k.Cookie] = true
		case k.Proto == unix.IPPROTO_UDP:
			local, remote := endpoints(&k.Tuple)
			key := udpDropKey{netns: k.Netns, port: local.Port(), remote: remote}
			if to, ok := d.redirect[key]; ok {
				key = to
			}
			s.addDrops(d.udpFlow(key), k.Reason, d.tick[i].n)
		default:
			unjoined = append(unjoined, i)
		}
	}
	if len(unjoined) == 0 {
		return nil
	}
	err := s.joinTuples(unjoined)
	for _, i := range unjoined {
		k := &d.tick[i].key
		cookie, ok := d.tuples[tupleOf(k)]
		if !ok {
			d.unattributed += d.tick[i].n // not a connection tcptop tracks (forwarded, refused, untracked)
			continue
		}
		s.addDrops(d.flowOf(cookie), k.Reason, d.tick[i].n)
		d.fresh[cookie] = true
	}
	return err
}

func tupleOf(k *tcptopDropKey) tcpTupleKey {
	local, remote := endpoints(&k.Tuple)
	return tcpTupleKey{netns: k.Netns, local: local, remote: remote}
}

// joinTuples finds the connections of the TCP tuples not joined yet, in
// the kernel's table: one pass over it, in a tick with drops of a
// connection whose packets had no socket (dropped before the socket
// lookup) that no earlier tick joined.
func (s *Source) joinTuples(unjoined []int) error {
	d := &s.drops
	want := map[tcpTupleKey]bool{}
	for _, i := range unjoined {
		if t := tupleOf(&d.tick[i].key); d.tuples[t] == 0 {
			want[t] = true
		}
	}
	if len(want) == 0 {
		return nil
	}
	return s.batchTable(func(r *tcptopConnRecord) bool {
		local, remote := endpoints(&r.Conn.Tuple)
		if t := (tcpTupleKey{netns: r.Conn.Netns, local: local, remote: remote}); want[t] {
			d.tuples[t] = r.Cookie
		}
		return false
	})
}

// udpFlow is the drops of the UDP flow key, made on first use.
func (d *dropState) udpFlow(key udpDropKey) *flowDrops {
	f := d.udp[key]
	if f == nil {
		f = &flowDrops{}
		d.udp[key] = f
	}
	return f
}

// thisTick sums a flow's drops counted in tick.
func (f *flowDrops) thisTick(tick uint32) uint64 {
	var n uint64
	if f.tick == tick {
		for _, r := range f.reasons {
			n += r.n
		}
	}
	return n
}

func (d *dropState) flowOf(cookie uint64) *flowDrops {
	f := d.tcp[cookie]
	if f == nil {
		f = &flowDrops{}
		d.tcp[cookie] = f
	}
	return f
}

// addDrops adds n drops of reason to a flow, in this tick.
func (s *Source) addDrops(f *flowDrops, reason uint32, n uint64) {
	if f.tick != s.tick {
		f.tick, f.reasons = s.tick, f.reasons[:0]
	}
	f.total += n
	for i := range f.reasons {
		if f.reasons[i].reason == reason {
			f.reasons[i].n += n
			return
		}
	}
	f.reasons = append(f.reasons, reasonCount{reason, n})
}

// fill writes a flow's drops into its observation: its lifetime count,
// and the reason most of this tick's drops had ("" without drops in the
// tick; of equal counts the lowest reason).
func (d *dropState) fill(o *conn.Observation, f *flowDrops, tick uint32) {
	if f == nil {
		return
	}
	o.Drops = f.total
	if f.tick != tick {
		return
	}
	var best reasonCount
	for _, r := range f.reasons {
		if r.n > best.n || r.n == best.n && r.reason < best.reason {
			best = r
		}
	}
	o.DropReason = d.reasonName(best.reason)
}

// tcpDrops fills a TCP observation's drops, and forgets the drops of a
// closed connection.
func (s *Source) tcpDrops(o *conn.Observation) {
	d := &s.drops
	f := d.tcp[o.ID.Cookie]
	if f == nil {
		return
	}
	d.fill(o, f, s.tick)
	delete(d.fresh, o.ID.Cookie)
	if o.Closed {
		delete(d.tcp, o.ID.Cookie)
		for t, c := range d.tuples {
			if c == o.ID.Cookie {
				delete(d.tuples, t)
			}
		}
	}
}

// udpDrops fills a UDP observation's drops, and forgets those of an
// expired flow.
func (s *Source) udpDrops(o *conn.Observation) {
	d := &s.drops
	key := udpDropKey{netns: o.NetNS, port: o.Local.Port(), remote: o.Remote}
	if o.Remote.Port() == 0 && !o.Expired {
		d.peerless[udpPortKey{o.NetNS, key.port}] = peerlessFlow{key: key, seen: s.tick}
	} else if len(d.redirect) > 0 {
		delete(d.redirect, key) // the sender has a flow of its own now
	}
	f := d.udp[key]
	if f == nil {
		return
	}
	d.fill(o, f, s.tick)
	f.seen = s.tick
	if o.Expired {
		delete(d.udp, key)
	}
}

// forgetUDPDrops forgets, after the UDP read, the drops of UDP flows the
// read did not report: flows tcptop does not know (a socket that never
// received, or one the table had no room for), whose drops are not
// counted.
func (s *Source) forgetUDPDrops() {
	d := &s.drops
	for port, p := range d.peerless {
		if p.seen != s.tick {
			delete(d.peerless, port)
		}
	}
	for from, to := range d.redirect {
		if d.peerless[udpPortKey{to.netns, to.port}].key != to {
			delete(d.redirect, from)
		}
	}
	for key, f := range d.udp {
		if f.seen == s.tick {
			continue
		}
		// Drops of a sender with no flow: a socket that reads without
		// asking who sent (recv, read) has one flow with no peer, which
		// takes them, from the next tick on, and its sender's later drops
		// directly. Else no flow takes them.
		if n := f.thisTick(s.tick); n > 0 {
			if p, ok := d.peerless[udpPortKey{key.netns, key.port}]; ok && p.key != key {
				d.redirect[key] = p.key
				d.pending[p.key] = append(d.pending[p.key], f.reasons...)
			} else {
				d.unattributed += n
			}
		}
		delete(d.udp, key)
	}
}

// reportDropped reports the connections with drops in this tick that no
// read reported: their packets were dropped, nothing else moved.
func (s *Source) reportDropped() error {
	var errs []error
	var r tcptopConnRecord
	for cookie := range s.drops.fresh {
		delete(s.drops.fresh, cookie)
		if err := s.objs.TcpConns.Lookup(cookie, &r.Conn); err != nil {
			if !errors.Is(err, ebpf.ErrKeyNotExist) {
				errs = append(errs, fmt.Errorf("read a connection with drops: %w", err))
				continue
			}
			// Not in the table: closed already (a packet dropped after
			// its close record), or one the table had no room for.
			if f := s.drops.tcp[cookie]; f != nil {
				s.drops.unattributed += f.thisTick(s.tick)
			}
			delete(s.drops.tcp, cookie)
			continue
		}
		r.Cookie = cookie
		s.addRecord(&r)
	}
	return errors.Join(errs...)
}
