/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Types shared between the BPF programs and Go. bpf2go generates the Go
 * declarations from these (-type), so they are never copied by hand.
 * Addresses are 16 bytes: an IPv4 address uses the first 4.
 */
#ifndef TCPTOP_H
#define TCPTOP_H

#define TCPTOP_COMM_LEN 16

/* A flow's endpoints. Ports in host byte order. For UDP this is the key. */
struct flow_tuple {
	__u8 saddr[16];
	__u8 daddr[16];
	__u16 sport;
	__u16 dport;
	__u16 family; /* AF_INET or AF_INET6 */
	__u16 _pad;
};

enum conn_flags {
	/* The program saw the connection open (SYN_SENT or SYN_RECV), so its
	 * byte counters are complete. Without it the connection predates
	 * tcptop and is reported as partial. */
	CONN_OPEN_SEEN = 1,
	/* Closed, but the ring buffer was full: the entry stays in the map
	 * with its final counters and userspace deletes it. */
	CONN_CLOSED = 2,
};

/* Per TCP connection counters, keyed by socket cookie. */
struct tcp_conn {
	struct flow_tuple tuple;
	__u64 bytes_in;  /* sum of recvmsg return values */
	__u64 bytes_out; /* sum of sendmsg return values */
	__u32 segs_in;   /* tcp_sock copies: the kernel's own counters */
	__u32 segs_out;
	__u32 srtt_us;
	__u32 total_retrans;
	__u32 pid;
	__u8 state;
	__u8 flags;
	__u16 _pad;
	char comm[TCPTOP_COMM_LEN];
};

/* Lifecycle event on the ring buffer: a TCP connection closed. */
struct conn_event {
	__u64 cookie;
	struct tcp_conn conn;
};

/* Per UDP flow (socket 4-tuple, with the peer of each datagram for
 * unconnected sockets). */
struct udp_flow {
	__u64 bytes_in;
	__u64 bytes_out;
	__u64 pkts_in;
	__u64 pkts_out;
	__u64 last_ns; /* bpf_ktime_get_ns of the last datagram */
	__u32 pid;
	__u32 _pad;
	char comm[TCPTOP_COMM_LEN];
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

#endif
