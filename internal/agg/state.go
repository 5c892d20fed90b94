package agg

import (
	"bytes"
	"cmp"
	"net/netip"

	"github.com/tcptop/tcptop/internal/conn"
)

// flowState is what the aggregator keeps per flow between ticks: 224
// bytes (80 of them TCP diagnostics). It holds no pointer, so that the
// slab's chunks are not scanned by the garbage collector: strings and
// owners are interned to indexes, and the Community ID's text is in
// cidTexts (hashed from the addresses at the flow's first row).
type flowState struct {
	id      uint64    // TCP: socket cookie; UDP: network namespace inode
	cur     [4]uint64 // bytes in, bytes out, packets in, packets out: lifetime, unwrapped
	retrans uint64    // unwrapped
	local   endpoint
	remote  endpoint
	pid     uint32
	owner   uint32 // index in owners: comm, netns, uid, cgroup
	rname   uint32 // remote_name: 0 none, else its index in names + 1
	state   uint32 // index in names
	rtt     uint32 // microseconds
	gen     uint32 // changes when the flow's place in the key order does (keyOrder)
	seen    uint32 // low bits of the last tick that observed the flow
	slot    uint32 // its entry in touched, in that tick
	proto   conn.Proto
	flags   uint16
	dir     conn.Direction
	start   int64     // Unix microseconds: when it opened, or was first seen; 0 until known
	moved   int64     // Unix microseconds: the read that last saw its bytes grow; 0: not since start
	diag    diagState // TCP only
}

const (
	fPartial uint16 = 1 << iota
	fClosed
	fExpired
	fCID     // rows carry community_id and the flow has one
	fCIDText // its text is in cidTexts, at the flow's index
	fKinds   // its retransmits are counted by kind (flowExtra.rto, .fast)
	fExtra   // it has an entry in Aggregator.extra
	fDrops   // it has an entry in Aggregator.drops
	fXlat    // it has an entry in Aggregator.xlat
)

// Counter names, indexes into flowState.cur.
const (
	cBytesIn = iota
	cBytesOut
	cPacketsIn
	cPacketsOut
)

var counterNames = [...]string{"bytes_in", "bytes_out", "packets_in", "packets_out"}

// endpoint is an address and port in 20 bytes instead of netip.AddrPort's
// 32. Zones are not kept (the kernel's tuples have none).
type endpoint struct {
	addr [16]byte // IPv4 in the first four bytes
	port uint16
	fam  uint8 // 0 unset, 4 or 6
}

func endpointOf(ap netip.AddrPort) endpoint {
	e := endpoint{port: ap.Port()}
	switch a := ap.Addr(); {
	case a.Is4():
		e.fam = 4
		b := a.As4()
		copy(e.addr[:], b[:])
	case a.Is6():
		e.fam = 6
		e.addr = a.As16()
	}
	return e
}

func (e *endpoint) ip() netip.Addr {
	switch e.fam {
	case 4:
		return netip.AddrFrom4([4]byte(e.addr[:4]))
	case 6:
		return netip.AddrFrom16(e.addr)
	}
	return netip.Addr{}
}

func (e *endpoint) addrPort() netip.AddrPort { return netip.AddrPortFrom(e.ip(), e.port) }

// compareEndpoints orders as netip.AddrPort.Compare: unset, then IPv4,
// then IPv6, each numerically, then the port.
func compareEndpoints(x, y *endpoint) int {
	if c := cmp.Compare(x.fam, y.fam); c != 0 {
		return c
	}
	if c := bytes.Compare(x.addr[:], y.addr[:]); c != 0 {
		return c
	}
	return cmp.Compare(x.port, y.port)
}

// family is "ipv4" or "ipv6", from the remote address unless it is unset
// or unspecified, as conn.Observation.Family.
func (st *flowState) family() string {
	e := &st.remote
	if e.fam == 0 || e.addr == [16]byte{} {
		e = &st.local
	}
	if e.fam == 4 {
		return "ipv4"
	}
	return "ipv6"
}

// udpKey identifies a UDP flow: network namespace and 4-tuple.
type udpKey struct {
	netns         uint32
	local, remote endpoint
}

// slab allocates flow states in chunks, so that 100,000 flows are a
// hundred allocations, and recycles freed ones. A flow is named by its
// index, which stays valid until the flow is freed.
type slab struct {
	chunks [][]flowState
	n      uint32   // states handed out from the chunks so far
	freed  []uint32 // freed indexes, reused first
}

const chunkBits = 10 // 1,024 states, 224 KiB per chunk

func (s *slab) at(idx uint32) *flowState {
	return &s.chunks[idx>>chunkBits][idx&(1<<chunkBits-1)]
}

// alloc returns a cleared state; its gen differs from any it had before.
func (s *slab) alloc() uint32 {
	if n := len(s.freed); n > 0 {
		idx := s.freed[n-1]
		s.freed = s.freed[:n-1]
		return idx
	}
	if int(s.n>>chunkBits) == len(s.chunks) {
		s.chunks = append(s.chunks, make([]flowState, 1<<chunkBits))
	}
	s.n++
	return s.n - 1
}

func (s *slab) free(idx uint32) {
	st := s.at(idx)
	*st = flowState{gen: st.gen + 1}
	s.freed = append(s.freed, idx)
}

// interned keeps values under small indexes, so a flow holds a uint32
// instead of a value that may point into the heap: strings (names) and
// owners.
type interned[T comparable] struct {
	list  []T
	index map[T]uint32
}

func (n *interned[T]) intern(v T) uint32 {
	if i, ok := n.index[v]; ok {
		return i
	}
	if n.index == nil {
		n.index = make(map[T]uint32)
	}
	i := uint32(len(n.list))
	n.list = append(n.list, v)
	n.index[v] = i
	return i
}

func (n *interned[T]) get(i uint32) T { return n.list[i] }

// names interns the comm, state, cc and error strings.
type names = interned[string]

// tombstones remembers the TCP cookies closed in this tick and the one
// before, so that a late observation of a connection already reported
// closed cannot bring it back: a socket cookie is never reused.
type tombstones struct {
	now, prev map[uint64]struct{}
}

func (t *tombstones) add(cookie uint64) {
	if t.now == nil {
		t.now = make(map[uint64]struct{})
	}
	t.now[cookie] = struct{}{}
}

func (t *tombstones) has(cookie uint64) bool {
	_, a := t.now[cookie]
	_, b := t.prev[cookie]
	return a || b
}

func (t *tombstones) rotate() {
	t.now, t.prev = t.prev, t.now
	clear(t.now)
}
