/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Types shared between the BPF programs and Go. bpf2go generates the Go
 * declarations from these (-type), so they are never copied by hand.
 * Addresses are 16 bytes: an IPv4 address uses the first 4.
 */
#ifndef TCPTOP_H
#define TCPTOP_H

#define TCPTOP_COMM_LEN 16

/* The kernel's TCP states (include/net/tcp_states.h), which tcp_conn's
 * state holds as the kernel has them; Go names them by these values. */
enum tcp_state {
	TCP_ESTABLISHED = 1,
	TCP_SYN_SENT,
	TCP_SYN_RECV,
	TCP_FIN_WAIT1,
	TCP_FIN_WAIT2,
	TCP_TIME_WAIT,
	TCP_CLOSE,
	TCP_CLOSE_WAIT,
	TCP_LAST_ACK,
	TCP_LISTEN,
	TCP_CLOSING,
	TCP_NEW_SYN_RECV,
};

/* A flow's endpoints. Ports in host byte order. */
struct flow_tuple {
	__u8 saddr[16];
	__u8 daddr[16];
	__u16 sport;
	__u16 dport;
	__u16 family; /* AF_INET or AF_INET6 */
	__u16 _pad;
};

enum conn_flags {
	/* tcptop saw the connection open (SYN_SENT or SYN_RECV), so it did
	 * not predate tcptop. */
	CONN_OPEN_SEEN = 1,
	/* The socket was released (tcp_destroy_sock): this is the final
	 * record. In the table only when the ring buffer was full. */
	CONN_CLOSED = 2,
	/* No table entry backs this record (the table was full): everything
	 * in it was read from the kernel's socket just now. */
	CONN_UNTRACKED = 4,
	/* In a record of the hot list: the connection was idle (its hot_tick
	 * says since when), to be taken off the list. */
	CONN_COOL = 8,
	/* In a record of the hot list: the socket is gone (its close went
	 * through the ring buffer); only the cookie is set. */
	CONN_GONE = 16,
	/* syn_retrans is set: the handshake tcptop saw open ended (the
	 * connection became ESTABLISHED, or a connect() failed). */
	CONN_SYNS = 32,
	/* connect_us is set (see note_handshake in lifecycle.h). */
	CONN_CONNECT_TIMED = 64,
};

/* Per TCP connection state, keyed by socket cookie. The byte counters
 * are lifetime totals: what tcptop counted per call, plus, for a
 * connection that predates tcptop, what the kernel's own counters said
 * had moved before (base_*). */
struct tcp_conn {
	struct flow_tuple tuple;
	__u64 sk;        /* the socket's address: read only after checking its cookie */
	__u64 bytes_in;  /* base_in + the sum of recvmsg return values */
	__u64 bytes_out; /* base_out + the sum of sendmsg return values */
	__u64 base_in;   /* lifetime bytes when tcptop began watching (0 if it saw the open) */
	__u64 base_out;
	__u32 base_segs_in;
	__u32 base_segs_out;
	__u32 segs_in; /* the kernel's own counters as of the last refresh (32-bit, they wrap) */
	__u32 segs_out;
	__u32 srtt_us;
	__u32 total_retrans;
	__u32 pid;
	__u32 netns;    /* network namespace inode number */
	__u32 hot_tick; /* the tick in which the connection last joined the hot list */
	__u32 ino;      /* socket inode, for finding the owner in /proc */
	__u32 sweep_tick; /* the tick whose sweep last reported it */
	__u8 state;
	__u8 flags;
	__u8 direction; /* DIR_OUT: connect(); DIR_IN: accepted; 0: not seen */
	__u8 syn_retrans; /* SYNs (out) or SYN-ACKs (in) sent again, capped at 255 (CONN_SYNS) */
	char comm[TCPTOP_COMM_LEN];
	/* Who owns it, taken with pid. */
	__u64 cgroup_id; /* cgroup v2 id */
	__u32 uid;
	__s32 err; /* the socket error it failed with (sk_err: ECONNREFUSED, ...), 0 if none */
	__u64 start_ns;  /* bpf_ktime_get_ns when it opened, or when tcptop first saw it */
	/* Diagnostics, re-read with the counters (as tcp_info has them). */
	__u32 cwnd;      /* snd_cwnd, segments */
	__u32 ssthresh;  /* snd_ssthresh, segments (0x7fffffff: not set) */
	__u32 min_rtt_us;
	__u32 rttvar_us;
	__u32 notsent_bytes; /* write_seq - snd_nxt */
	__u32 unacked_bytes; /* snd_nxt - snd_una */
	__u32 snd_wnd;
	__u32 rcv_wnd;
	__u32 lost;      /* segments lost over the connection's life (32-bit) */
	__u32 rst_in;    /* resets received */
	__u32 rst_out;   /* resets sent */
	__u32 chrono_jiffies; /* jiffies when the chrono times below were read */
	__u32 chrono[3]; /* busy, rwnd-limited, sndbuf-limited time, jiffies (32-bit, as the kernel's) */
	__u32 open_jiffies; /* jiffies when tcptop saw it open (0: it did not; a 0 read is stored as 1) */
	__u64 delivery_rate; /* bytes/s */
	__u64 pacing_rate;   /* bytes/s, ~0 for none */
	__u64 end_ns;        /* bpf_ktime_get_ns when the socket was released (the closed record) */
	char cc[TCPTOP_COMM_LEN]; /* congestion control */
	__u32 owner_tick; /* the tick in which the owner's name was last compared */
	__u32 connect_us; /* SYN to ESTABLISHED, microseconds (CONN_CONNECT_TIMED) */
	__u64 syn_ns;     /* bpf_ktime_get_ns when connect() entered SYN_SENT, 0 if not seen */
	/* Retransmits by kind (retrans.h). retrans_seen is the kernel's
	 * total_retrans as of the last time its growth was given a kind;
	 * retrans_base is what it was when tcptop began watching (0 where
	 * tcptop saw the open), so base + the kinds is total_retrans as of
	 * that time, and the kinds' deltas sum to its delta exactly. */
	__u32 retrans_base;
	__u32 retrans_seen;
	__u32 retrans_kinds[3]; /* segments: enum retrans_kind */
	__u32 dying_tick; /* the tick a read first found its socket CLOSE and orphaned (close_missed) */
};

/* Why a segment was retransmitted: indexes of tcp_conn.retrans_kinds. */
enum retrans_kind {
	RETRANS_RTO = 0,  /* after a retransmission timeout (CA_Loss), SYN and SYN-ACK included */
	RETRANS_FAST = 1, /* loss recovery on ACKs (CA_Recovery: fast retransmit, RACK) */
	RETRANS_TLP = 2,  /* a tail loss probe that resent the last segment */
};

/* A count of dropped packets (bpf/drops.h): of one connection by its
 * socket's cookie, or, where the packet had no full socket, of the flow
 * its headers name, for userspace to join. tuple.saddr is the local end
 * (the packet's destination for a packet without a socket). */
struct drop_key {
	__u64 cookie; /* 0: attributed by tuple */
	struct flow_tuple tuple; /* by tuple only */
	__u32 netns;  /* by tuple only: the socket's or the device's namespace */
	__u32 reason; /* enum skb_drop_reason (0 where the kernel gives none) */
	__u8 proto;   /* IPPROTO_TCP or IPPROTO_UDP */
	__u8 _pad[3];
};

enum conn_direction {
	DIR_OUT = 1,
	DIR_IN = 2,
};

/* What the iterators and the ring buffer hand to userspace. */
struct conn_record {
	__u64 cookie;
	struct tcp_conn conn;
};

/* A socket to re-read at the next tick: it sent, received or changed
 * state, or it still has data in flight. Keyed by cookie. */
struct hot_sock {
	__u64 sk;
	__u32 walked; /* the tick whose walk (tcptop_walk_hot) read it last */
	__u32 _pad;
};

/* What the owner iterator is asked about a socket in `wanted`. */
enum owner_want {
	WANT_OWNER = 1,     /* it has none: the first process found holding it */
	WANT_NEW_OWNER = 2, /* its owner exited: the first other process holding it */
};

/* A listening port, noted by the sweep. */
struct listener {
	__u32 netns;
	__u16 port;
	__u16 _pad;
};

/* UDP flows are keyed by network namespace and 4-tuple (with the peer of
 * each datagram for unconnected sockets). */
struct udp_key {
	struct flow_tuple tuple;
	__u32 netns;
};

struct udp_flow {
	__u64 bytes_in;
	__u64 bytes_out;
	__u64 pkts_in;
	__u64 pkts_out;
	__u64 last_ns;  /* bpf_ktime_get_ns of the last datagram */
	__u64 start_ns; /* and of the first */
	__u64 cgroup_id; /* the owner's, taken with pid */
	__u32 pid;
	__u32 uid;
	char comm[TCPTOP_COMM_LEN];
	__u8 direction; /* DIR_OUT: the first datagram tcptop saw was sent, DIR_IN: received */
	__u8 _pad[3];
	__u32 owner_tick; /* the tick in which the owner's name was last compared */
};

/* Peer address of the datagram a thread is sending or receiving, left by a
 * cgroup sock_addr hook for the sock_*_length tracepoint that follows. */
struct udp_peer {
	__u64 cookie;
	__u8 addr[16];
	__u16 port;
	__u16 family;
	__u32 _pad;
};

/* Largest DNS message (or TCP segment payload from port 53) copied to
 * userspace: a power of two, so the verifier can bound the copy with a
 * mask. EDNS answers are at most 1232 bytes by the flag day's default;
 * a longer one is cut, and userspace keeps the answers before the cut. */
#define TCPTOP_DNS_MAX 2048

/* A DNS answer as a socket of netns received it: the UDP payload, or the
 * TCP payload (length-prefixed messages) of one segment from port 53. */
struct dns_record {
	__u32 netns; /* inode number of the receiving socket's namespace */
	__u16 len;   /* bytes of data that follow */
	__u8 proto;  /* IPPROTO_UDP or IPPROTO_TCP */
	__u8 _pad;
	__u8 data[TCPTOP_DNS_MAX];
};

#endif
