package conn

import "net/netip"

// Listener is one listening TCP socket as sock_diag (the netlink
// interface behind ss -ltn) reported it at one read: where it listens,
// who holds it, and its queues. The source fills it; the aggregator turns
// it into a row with state "LISTEN" and the delta of its drops.
type Listener struct {
	Cookie uint64         // the kernel's socket cookie: a listener's identity across reads
	NetNS  uint32         // network namespace inode number
	Local  netip.AddrPort // unmapped, as Observation's
	Inode  uint32         // the socket's inode, to find its owner in /proc
	UID    uint32         // the socket's owner uid (sock_i_uid), as ss -e shows it

	PID  uint32 // a process holding the socket; 0 if none was found
	Comm string

	// AcceptQueue is sk_ack_backlog, connections ready for accept();
	// AcceptQueueMax is sk_max_ack_backlog, the backlog listen() asked for
	// capped by net.core.somaxconn. The kernel refuses more once
	// AcceptQueue > AcceptQueueMax (sk_acceptq_is_full).
	AcceptQueue, AcceptQueueMax uint32
	// Drops is the listener's sk_drops, which tcp_listendrop() increments
	// with TcpExtListenDrops (a 32-bit counter that wraps).
	Drops uint32
	// SynQueue counts the request sockets (SYN_RECV) waiting for the
	// handshake's last ACK on this listener's address and port.
	SynQueue uint32
}
