// Package conn holds the types shared by every stage of tcptop's pipeline:
// the identity of a flow, what the source observed about it in one tick, and
// the output row that the filter sees and the emitters write. It depends on
// the standard library only.
package conn

import (
	"net/netip"
	"time"
)

// Proto is the transport protocol of a flow.
type Proto uint8

// Transport protocols tcptop tracks.
const (
	TCP Proto = iota + 1
	UDP
)

// String returns the schema spelling: "tcp" or "udp".
func (p Proto) String() string {
	switch p {
	case TCP:
		return "tcp"
	case UDP:
		return "udp"
	}
	return "unknown"
}

// FlowID identifies a flow across ticks. A TCP connection is identified by
// the kernel's socket cookie, which is never reused while the host is up,
// so a port reused by a new connection is a new flow. A UDP flow has no
// socket of its own (one unconnected socket serves many peers), so it is
// identified by its network namespace and 4-tuple: two containers using
// the same addresses are two flows. FlowID is comparable and used as a map
// key.
type FlowID struct {
	Proto  Proto
	Cookie uint64         // TCP only
	NetNS  uint32         // UDP only: network namespace inode number
	Local  netip.AddrPort // UDP only
	Remote netip.AddrPort // UDP only
}

// Observation is what the source learned about one flow at one read of the
// kernel. Counters are lifetime totals as far as the kernel knows them; the
// aggregator turns a sequence of observations into rows with deltas.
//
// The source reports a flow when something about it may have changed (its
// application sent or received, its state changed, the kernel's counters
// moved, or tcptop first saw it); a flow that is not reported in a snapshot
// is unchanged, never closed: a close is always an explicit Closed
// observation, and a UDP flow the source forgot is an explicit Expired one.
// A flow may be reported with nothing changed.
type Observation struct {
	ID     FlowID
	Proto  Proto
	Local  netip.AddrPort // addresses are unmapped: ::ffff:a.b.c.d is a.b.c.d
	Remote netip.AddrPort
	NetNS  uint32 // network namespace inode number; 0 if unknown
	PID    uint32 // 0 when no process has touched the socket yet
	Comm   string
	State  string // kernel TCP state name; "" for UDP

	// BytesIn and BytesOut are application bytes (what recv returned and
	// send accepted). TCP: over the connection's whole life, also for one
	// that predates tcptop (the kernel's tcp_sock counters give what moved
	// before tcptop started). UDP: since tcptop started.
	BytesIn, BytesOut uint64
	// PacketsIn and PacketsOut: TCP segments (the kernel's segs_in and
	// segs_out, 32-bit counters that wrap: the consumer unwraps them across
	// observations), UDP datagrams since tcptop started.
	PacketsIn, PacketsOut uint64
	RTTMicros             uint64
	Retrans               uint64 // TCP total_retrans, a 32-bit counter like the packets

	// Base holds the counters as they were when tcptop began watching the
	// flow: zero for a flow tcptop saw open, the lifetime totals at that
	// moment for one that predates it. Deltas of a flow's first row are
	// measured from Base, so only what moved since tcptop started counts.
	BaseBytesIn, BaseBytesOut     uint64
	BasePacketsIn, BasePacketsOut uint64

	// Who owns the flow, taken with PID, and when it began.
	CgroupID  uint64    // cgroup v2 id of the owner; 0 if unknown
	UID       uint32    // user id of the owner
	Direction Direction // TCP: who opened it; UDP: who sent the first datagram tcptop saw
	Start     time.Time // when it opened, or when tcptop first saw it
	End       time.Time // TCP, on the closed observation: when the kernel released the socket

	// TCP only: how it is sending, read with the counters, as tcp_info
	// has it; and why it failed, if it did.
	Diag  TCPDiag
	Error string // "refused", "timeout", "unreachable", "reset", another errno's name, or ""

	// Drops: packets of the flow the kernel freed as dropped since tcptop
	// saw it, and the reason most of those of this read had ("" without
	// drops in it, or before Linux 5.17).
	Drops      uint64
	DropReason string

	// Xlat is the flow's tuple on the other side of a conntrack NAT, as
	// the entry of its network namespace had it when tcptop first saw the
	// flow: each end that was translated, the zero AddrPort for one that
	// was not (and both without NAT or without conntrack).
	XlatLocal, XlatRemote netip.AddrPort

	Partial   bool // existed before tcptop started: tcptop did not see it open
	Untracked bool // the kernel table was full: counters are re-read from the kernel's socket at each read, not counted per call
	Closed    bool // the connection closed; this is its final observation
	Expired   bool // UDP: idle past the timeout, forgotten by the source; this is its final observation
}

// Direction says which end opened a TCP connection.
type Direction uint8

// Directions. DirUnknown: tcptop did not see the connection open and could
// not tell otherwise.
const (
	DirUnknown Direction = iota
	DirOut               // this host connected
	DirIn                // this host accepted
)

// String returns the schema spelling: "out", "in" or "".
func (d Direction) String() string {
	switch d {
	case DirOut:
		return "out"
	case DirIn:
		return "in"
	}
	return ""
}

// ServicePort returns the port of the service end of a flow whose local
// and remote ports are given: the remote one where this host opened it,
// the local one where the peer did, 0 where d is unknown (a guess such
// as "the lower port" would put a client's ephemeral port in a label now
// and then, and make the label unbounded).
func (d Direction) ServicePort(local, remote int) int {
	switch d {
	case DirOut:
		return remote
	case DirIn:
		return local
	}
	return 0
}

// TCPDiag is what the kernel's tcp_sock says about a connection's
// sending at one read (the fields ss -ti prints). Chrono are the kernel's
// cumulative busy, receive-window-limited and send-buffer-limited times,
// in jiffies, 32-bit, as of ChronoJiffies: their differences between two
// reads say what held the sender back in between. OpenJiffies is when
// the connection opened, where tcptop saw it open (0 otherwise): its
// chrono times were 0 then.
type TCPDiag struct {
	Cwnd, Ssthresh             uint32 // segments; Ssthresh 0 while not set
	MinRTTMicros, RTTVarMicros uint32
	DeliveryRate, PacingRate   uint64 // bytes per second; PacingRate 0 when not paced
	NotsentBytes, UnackedBytes uint32
	SndWnd, RcvWnd             uint32 // bytes
	Lost                       uint32 // segments lost over its life (32-bit)
	RstIn, RstOut              uint32 // resets received and sent
	// Retransmitted segments by kind since tcptop began watching (32-bit),
	// when Kinds: after a timeout, by fast recovery, by a tail loss probe.
	RetransRTO, RetransFast, RetransTLP uint32
	Kinds                               bool
	CC                                  string // congestion control
	Chrono                              [3]uint32
	ChronoJiffies                       uint32
	OpenJiffies                         uint32
	// The handshake, where tcptop saw the connection open: how long it
	// took (SYN sent, or SYN-ACK sent, to ESTABLISHED) and how many SYNs
	// or SYN-ACKs were sent again, each valid where its Known is set (not:
	// older than tcptop, still opening, or, for the time, a failed
	// connect). The zero value knows neither.
	ConnectMicros           uint32
	SynRetrans              uint8
	ConnectKnown, SynsKnown bool
}

// Snapshot is one read of the kernel: the flows that may have changed since
// the previous read, and when their counters were read (rates are measured
// between these times, not between the ends of ticks). For tests only:
// tcptop itself hands the observations over one by one as the source
// reads them, never holding a read whole.
type Snapshot struct {
	Time time.Time
	Obs  []Observation
}

// Family returns "ipv4" or "ipv6" from the (unmapped) remote address,
// falling back to the local one when the remote is unset.
func (o *Observation) Family() string {
	a := o.Remote.Addr()
	if !a.IsValid() || a.IsUnspecified() {
		a = o.Local.Addr()
	}
	if a.Is4() {
		return "ipv4"
	}
	return "ipv6"
}
