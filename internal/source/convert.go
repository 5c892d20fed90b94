package source

import (
	"net/netip"
	"time"

	"golang.org/x/sys/unix"
)

// tcpStateNames are the kernel's TCP state names (include/net/tcp_states.h),
// spelled as ss and /proc/net/tcp users know them, by enum tcp_state of
// bpf/tcptop.h (-type tcp_state).
var tcpStateNames = [...]string{
	tcptopTcpStateTCP_ESTABLISHED: "ESTABLISHED", tcptopTcpStateTCP_SYN_SENT: "SYN_SENT",
	tcptopTcpStateTCP_SYN_RECV: "SYN_RECV", tcptopTcpStateTCP_FIN_WAIT1: "FIN_WAIT1",
	tcptopTcpStateTCP_FIN_WAIT2: "FIN_WAIT2", tcptopTcpStateTCP_TIME_WAIT: "TIME_WAIT",
	tcptopTcpStateTCP_CLOSE: "CLOSE", tcptopTcpStateTCP_CLOSE_WAIT: "CLOSE_WAIT",
	tcptopTcpStateTCP_LAST_ACK: "LAST_ACK", tcptopTcpStateTCP_LISTEN: "LISTEN",
	tcptopTcpStateTCP_CLOSING: "CLOSING", tcptopTcpStateTCP_NEW_SYN_RECV: "NEW_SYN_RECV",
}

func tcpStateName(s uint8) string {
	if int(s) < len(tcpStateNames) && tcpStateNames[s] != "" {
		return tcpStateNames[s]
	}
	return "UNKNOWN"
}

// endpoints converts a kernel tuple to addresses as users expect them:
// IPv4-mapped IPv6 addresses become IPv4, and the unspecified address of a
// dual-stack socket talking to an IPv4 peer becomes 0.0.0.0.
func endpoints(t *tcptopFlowTuple) (local, remote netip.AddrPort) {
	var l, r netip.Addr
	if t.Family == unix.AF_INET {
		l = netip.AddrFrom4([4]byte(t.Saddr[:4]))
		r = netip.AddrFrom4([4]byte(t.Daddr[:4]))
	} else {
		l = netip.AddrFrom16(t.Saddr).Unmap()
		r = netip.AddrFrom16(t.Daddr).Unmap()
	}
	l, r = sameFamily(l, r), sameFamily(r, l)
	return netip.AddrPortFrom(l, t.Sport), netip.AddrPortFrom(r, t.Dport)
}

// sameFamily turns an unspecified IPv6 address into 0.0.0.0 when the other
// end is IPv4, so both ends of a flow have one family.
func sameFamily(a, other netip.Addr) netip.Addr {
	if a.Is6() && a.IsUnspecified() && other.Is4() {
		return netip.IPv4Unspecified()
	}
	return a
}

// comm is a process name as struct tcp_conn holds it (TCPTOP_COMM_LEN
// bytes): its length comes from the generated type, not typed again.
type comm = [len(tcptopTcpConn{}.Comm)]int8

// commCache interns process names: the same few names recur every tick,
// and interning saves one allocation per row.
type commCache map[comm]string

func (c commCache) name(raw comm) string {
	if s, ok := c[raw]; ok {
		return s
	}
	n := 0
	for n < len(raw) && raw[n] != 0 {
		n++
	}
	b := make([]byte, n)
	for i := range n {
		b[i] = byte(raw[i])
	}
	s := string(b) // raw: the writers escape it (internal/escape)
	if len(c) < 4096 {
		c[raw] = s
	}
	return s
}

// Flags of struct tcp_conn: enum conn_flags of bpf/tcptop.h, as bpf2go
// generated it (-type conn_flags), in the width of the field.
const (
	connOpenSeen  = uint8(tcptopConnFlagsCONN_OPEN_SEEN)
	connClosed    = uint8(tcptopConnFlagsCONN_CLOSED)
	connUntracked = uint8(tcptopConnFlagsCONN_UNTRACKED)
	connCool      = uint8(tcptopConnFlagsCONN_COOL)
	connGone      = uint8(tcptopConnFlagsCONN_GONE)
	connSyns      = uint8(tcptopConnFlagsCONN_SYNS)
	connTimed     = uint8(tcptopConnFlagsCONN_CONNECT_TIMED)
)

// Directions of struct tcp_conn and struct udp_flow: enum conn_direction
// (-type conn_direction).
const (
	dirOut = uint8(tcptopConnDirectionDIR_OUT)
	dirIn  = uint8(tcptopConnDirectionDIR_IN)
)

// clock turns the kernel's CLOCK_MONOTONIC (bpf_ktime_get_ns) into wall
// time.
type clock struct{ boot time.Time }

func newClock() clock {
	return clock{boot: time.Now().Add(-time.Duration(monotonicNow()))}
}

func (c clock) wall(ns uint64) time.Time {
	if ns == 0 {
		return time.Time{}
	}
	return c.boot.Add(time.Duration(ns)).UTC()
}
