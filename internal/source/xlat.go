package source

import (
	"errors"
	"net/netip"
	"path/filepath"

	"github.com/ti-mo/conntrack"
	"golang.org/x/sys/unix"

	"github.com/tcptop/tcptop/internal/conn"
)

// Translated tuples (xlat_*): when tcptop first sees a flow, it asks
// conntrack of the flow's network namespace for the flow's entry
// (ctnetlink's IPCTNL_MSG_CT_GET, one request for the one tuple, through
// github.com/ti-mo/conntrack) and keeps the ends that NAT rewrote. The
// kernel finds an entry by either of its tuples, so the flow's own
// (local -> remote) finds it whichever end opened it. Each flow is asked
// about once, a missing entry kept as none, so a tick without new flows
// asks nothing (docs/design.md, 2026-12-08).

// KindConntrack is the conntrack lookup, as Config.Refuse names it: not
// a program but the netlink family, which a kernel without the
// nf_conntrack_netlink module loaded does not have.
const KindConntrack = "ctnetlink"

// xlatLoss is what tcptop loses without ctnetlink.
const xlatLoss = "xlat_remote_addr, xlat_remote_port, xlat_local_addr and xlat_local_port stay empty"

// xlatRequest names the request in a refusal.
const xlatRequest = "IPCTNL_MSG_CT_GET"

// xlatState is the conntrack side: a netlink socket per network
// namespace (a socket asks the namespace it was made in), and what each
// flow's lookup found.
type xlatState struct {
	attached bool
	self     uint32                     // tcptop's own namespace
	conns    map[uint32]*conntrack.Conn // by namespace inode; nil: none can be made there
	// Each flow looked up, until it ends: the few translated ones with
	// their tuple, the others (most of 50,000 connections) only by
	// cookie, 8 bytes each, or by key for UDP.
	flows   map[conn.FlowID]xlatTuple
	plain   map[uint64]struct{}
	plainU  map[conn.FlowID]struct{}
	lookups uint64 // requests made (benchmarks)
	// counted is, per namespace, whether its conntrack table was empty
	// when last counted (ctnetlink's stats), and in which tick: where it
	// is, no flow there has an entry, so none is asked about or kept.
	// Where nothing uses conntrack (no NAT, no stateful rules: most
	// hosts, and every loopback-only namespace), a tick's new flows then
	// cost one request, not one each (10,000 connections' first tick:
	// 473 ms with a request per flow, 139 ms without lookups; design.md).
	counted map[uint32]tableCount
	// The last namespace asked about: most flows of a tick are in one.
	lastNS uint32
	last   tableCount
}

// tableCount is a namespace's conntrack table as counted in a tick.
type tableCount struct {
	tick  uint32
	quiet bool // empty, or no conntrack socket can be made there
}

// xlatTuple is a flow's ends on the other side of the NAT; the zero
// AddrPort for an end that was not translated.
type xlatTuple struct{ local, remote netip.AddrPort }

// openXlat makes a conntrack socket in tcptop's namespace and asks it
// for an entry that does not exist: ENOENT says ctnetlink answers. Then
// one in every other namespace, while tcptop may still enter them.
func (s *Source) openXlat() {
	p := Part{Name: "translated addresses", Loss: xlatLoss}
	x := &s.xlat
	x.conns, x.flows = map[uint32]*conntrack.Conn{}, map[conn.FlowID]xlatTuple{}
	x.plain, x.plainU = map[uint64]struct{}{}, map[conn.FlowID]struct{}{}
	ino, err := nsInode(filepath.Join(s.cfg.ProcRoot, "self/ns/net"))
	if err == nil {
		err = s.forced(KindConntrack)
	}
	var c *conntrack.Conn
	if err == nil {
		c, err = dialConntrack()
	}
	if err != nil {
		p.Refused = []string{describeRefusal(xlatRequest, KindConntrack, err)}
		s.part(p)
		return
	}
	x.self, x.conns[uint32(ino)] = uint32(ino), c
	x.attached = true
	_ = inOtherNamespaces(s.cfg.ProcRoot, func(path string) {
		if ino, err := nsInode(path); err == nil {
			x.conns[uint32(ino)], _ = dialConntrack()
		}
	})
	p.Using = "ctnetlink " + xlatRequest + " per new flow"
	s.part(p)
}

// dialConntrack opens a ctnetlink socket in the current namespace and
// checks that it answers.
func dialConntrack() (*conntrack.Conn, error) {
	c, err := conntrack.Dial(nil)
	if err != nil {
		return nil, err
	}
	// 0.0.0.0:0 -> 0.0.0.0:0 is no flow's tuple.
	zero := netip.IPv4Unspecified()
	_, err = c.Get(conntrack.Flow{TupleOrig: conntrack.Tuple{
		IP:    conntrack.IPTuple{SourceAddress: zero, DestinationAddress: zero},
		Proto: conntrack.ProtoTuple{Protocol: unix.IPPROTO_TCP}}})
	if err != nil && !errors.Is(err, unix.ENOENT) {
		c.Close()
		return nil, err
	}
	return c, nil
}

// closeXlat closes the conntrack sockets.
func (s *Source) closeXlat() {
	for _, c := range s.xlat.conns {
		if c != nil {
			c.Close()
		}
	}
	s.xlat = xlatState{}
}

// Translates reports whether flows are looked up in conntrack: the tick
// loop then keeps CAP_NET_ADMIN, which each ctnetlink request needs.
func (s *Source) Translates() bool { return s.xlat.attached }

// StopTranslating gives the lookups up (the process cannot keep
// CAP_NET_ADMIN): the fields stay empty.
func (s *Source) StopTranslating() { s.closeXlat() }

// xlatOf gives an observation its flow's translated tuple: looked up at
// the flow's first observation, kept until its last.
func (s *Source) xlatOf(o *conn.Observation) {
	x := &s.xlat
	if !x.attached {
		return
	}
	t, ok := x.flows[o.ID]
	if !ok && s.quiet(o.NetNS) {
		// Nothing to look up there, nor to remember: at 50,000
		// connections the cookies alone would be megabytes.
		if o.Closed || o.Expired {
			delete(x.plain, o.ID.Cookie)
			delete(x.plainU, o.ID)
		}
		return
	}
	if !ok && !x.looked(o.ID) {
		t, ok = s.lookupXlat(o)
		switch {
		case !ok: // asked again at the next observation
		case t != xlatTuple{}:
			x.flows[o.ID] = t
		case o.ID.Proto == conn.TCP:
			x.plain[o.ID.Cookie] = struct{}{}
		default:
			x.plainU[o.ID] = struct{}{}
		}
	}
	o.XlatLocal, o.XlatRemote = t.local, t.remote
	if o.Closed || o.Expired {
		delete(x.flows, o.ID)
		delete(x.plain, o.ID.Cookie)
		delete(x.plainU, o.ID)
	}
}

// looked reports whether flow id was looked up and found untranslated.
func (x *xlatState) looked(id conn.FlowID) bool {
	if id.Proto == conn.TCP {
		_, ok := x.plain[id.Cookie]
		return ok
	}
	_, ok := x.plainU[id]
	return ok
}

// lookupXlat asks conntrack of the flow's namespace for its entry. keep
// is false for a connection still in SYN_SENT without an entry: the
// socket changes state before its SYN makes the entry, so it is asked
// again at its next observation.
func (s *Source) lookupXlat(o *conn.Observation) (t xlatTuple, keep bool) {
	l, r := o.Local, o.Remote
	if o.NetNS == 0 || l.Port() == 0 || r.Port() == 0 || l.Addr().IsUnspecified() || r.Addr().IsUnspecified() {
		return t, true
	}
	c := s.conntrackIn(o.NetNS) // made by quiet, which the caller asked first
	proto := uint8(unix.IPPROTO_TCP)
	if o.Proto == conn.UDP {
		proto = unix.IPPROTO_UDP
	}
	s.xlat.lookups++
	f, err := c.Get(conntrack.Flow{TupleOrig: conntrack.Tuple{
		IP:    conntrack.IPTuple{SourceAddress: l.Addr(), DestinationAddress: r.Addr()},
		Proto: conntrack.ProtoTuple{Protocol: proto, SourcePort: l.Port(), DestinationPort: r.Port()}}})
	switch {
	case errors.Is(err, unix.ENOENT):
		return t, o.State != "SYN_SENT"
	case err != nil:
		s.warnOnce(&xlatError{err})
		return t, true
	}
	return translated(l, r, f), true
}

// translated reads what NAT did to the flow (local -> remote) from its
// entry. Where the flow is the entry's original direction (this end
// sent the first packet through conntrack): the reply's source is where
// the remote really is, its destination where the local end appears.
// Where it is the reply direction (NAT rewrote what reached this end):
// the original's destination is what the peer dialled, its source the
// peer before NAT. An end equal to the flow's own was not translated.
func translated(l, r netip.AddrPort, f conntrack.Flow) xlatTuple {
	orig, reply := tupleEnds(f.TupleOrig), tupleEnds(f.TupleReply)
	var t xlatTuple
	switch {
	case orig[0] == l && orig[1] == r:
		t = xlatTuple{local: reply[1], remote: reply[0]}
	case reply[0] == l && reply[1] == r:
		t = xlatTuple{local: orig[1], remote: orig[0]}
	default:
		return t
	}
	if t.local == l {
		t.local = netip.AddrPort{}
	}
	if t.remote == r {
		t.remote = netip.AddrPort{}
	}
	return t
}

// tupleEnds is a conntrack tuple's source and destination, unmapped.
func tupleEnds(t conntrack.Tuple) [2]netip.AddrPort {
	return [2]netip.AddrPort{
		netip.AddrPortFrom(t.IP.SourceAddress.Unmap(), t.Proto.SourcePort),
		netip.AddrPortFrom(t.IP.DestinationAddress.Unmap(), t.Proto.DestinationPort),
	}
}

// conntrackIn is the conntrack socket of namespace ino, made at its
// first flow: from inside it, found by its inode among the processes'
// and /run/netns's, which takes the CAP_SYS_ADMIN tcptop gives up once
// its probes are attached (then a namespace made after that has none).
func (s *Source) conntrackIn(ino uint32) *conntrack.Conn {
	if c, ok := s.xlat.conns[ino]; ok {
		return c
	}
	s.xlat.conns[ino] = nil
	path := namespacePath(s.cfg.ProcRoot, ino)
	if path == "" {
		return nil
	}
	_ = inNamespaces([]string{path}, filepath.Join(s.cfg.ProcRoot, "thread-self/ns/net"), func(string) {
		s.xlat.conns[ino], _ = dialConntrack()
	})
	return s.xlat.conns[ino]
}

// namespacePath finds a path to the network namespace whose inode is
// ino, "" if none.
func namespacePath(procRoot string, ino uint32) string {
	procs, _ := filepath.Glob(filepath.Join(procRoot, "[0-9]*/ns/net"))
	named, _ := filepath.Glob("/run/netns/*")
	for _, p := range append(named, procs...) {
		if n, err := nsInode(p); err == nil && uint32(n) == ino {
			return p
		}
	}
	return ""
}

// xlatError is a failed conntrack lookup (other than no entry), said
// once.
type xlatError struct{ err error }

func (e *xlatError) Error() string { return "conntrack lookup: " + e.err.Error() }
func (e *xlatError) Unwrap() error { return e.err }

// quiet reports whether namespace ino has nothing to translate in this
// tick: no conntrack socket can be made there, or its table is empty
// (counted once a tick; a failed count says not empty, and the flows are
// then asked about one by one).
func (s *Source) quiet(ino uint32) bool {
	x := &s.xlat
	if ino == x.lastNS && x.last.tick == s.tick {
		return x.last.quiet
	}
	tc, ok := x.counted[ino]
	if !ok || tc.tick != s.tick {
		tc = tableCount{tick: s.tick, quiet: true}
		if c := s.conntrackIn(ino); c != nil {
			x.lookups++
			st, err := c.StatsGlobal()
			tc.quiet = err == nil && st.Entries == 0
		}
		if x.counted == nil {
			x.counted = map[uint32]tableCount{}
		}
		x.counted[ino] = tc
	}
	x.lastNS, x.last = ino, tc
	return tc.quiet
}
