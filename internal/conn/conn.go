// Package conn holds the types shared by every stage of tcptop's pipeline:
// the identity of a flow, what the source observed about it in one tick, and
// the output row that the filter sees and the emitters write. It depends on
// the standard library only.
package conn

import "net/netip"

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
// identified by its 4-tuple. FlowID is comparable and used as a map key.
type FlowID struct {
	Proto  Proto
	Cookie uint64         // TCP only
	Local  netip.AddrPort // UDP only
	Remote netip.AddrPort // UDP only
}

// Observation is what the source knows about one flow at one tick:
// cumulative counters since tcptop began watching it, plus the latest
// state. The aggregator turns a sequence of observations into rows.
type Observation struct {
	ID     FlowID
	Proto  Proto
	Local  netip.AddrPort // addresses are unmapped: ::ffff:a.b.c.d is a.b.c.d
	Remote netip.AddrPort
	PID    uint32 // 0 when no process has touched the socket yet
	Comm   string
	State  string // kernel TCP state name; "" for UDP

	BytesIn, BytesOut     uint64
	PacketsIn, PacketsOut uint64
	RTTMicros             uint64
	Retrans               uint64

	Partial bool // existed before tcptop started: counters cover only the time since
	Closed  bool // the connection closed; this is its final observation
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
