// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * tcptop's kernel side: per-connection counters aggregated in BPF maps that
 * userspace reads once per tick, and a ring buffer that carries only
 * lifecycle events (a TCP connection closed, with its final counters).
 *
 * Hooks (see docs/design.md for the reasons and the kernel matrix).
 * Send/receive accounting has three interchangeable paths; userspace loads
 * one, the first the running kernel offers:
 *   tp_btf/sock_send_length, tp_btf/sock_recv_length (6.4+): fire in the
 *     sending/receiving task after every sendmsg/recvmsg on any socket with
 *     its return value, so bytes are exact and the pid is the caller's.
 *   fexit/inet_sendmsg, inet6_sendmsg, inet_recvmsg, inet6_recvmsg (5.5+
 *     with BTF): the functions sock_sendmsg/sock_recvmsg call right before
 *     those tracepoints, with the same arguments and return value; plus
 *     inet_sendpage where it exists (before 6.5 sendfile bypasses sendmsg).
 *   kprobe+kretprobe on the same functions, for kernels that lack or
 *     forbid fentry/fexit.
 * The rest is common to all paths:
 *   tp_btf/inet_sock_set_state (4.16+): TCP open, state changes and close.
 *   cgroup/sendmsg4|6, cgroup/recvmsg4|6 (5.2+): the peer address of each
 *     datagram on an unconnected UDP socket, which the tracepoints above do
 *     not carry; stashed per thread for the tracepoint that follows.
 */
#include <stdbool.h>
#include <linux/bpf.h>
#include "core.h"
/* core.h provides struct pt_regs with the kernel's register names. */
#define __VMLINUX_H__
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>

#include "tcptop.h"

#define IPPROTO_TCP 6
#define IPPROTO_UDP 17
#define AF_INET 2
#define AF_INET6 10
#define SOCK_STREAM 1
#define SOCK_DGRAM 2
#define MSG_PEEK 2

enum {
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
};

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* Failure counters, read by userspace and reported on stderr. */
__u64 tcp_table_full = 0;
__u64 udp_table_full = 0;
__u64 events_lost = 0;

/* Set by userspace before loading. True when tracing programs may call
 * bpf_get_socket_cookie (5.12+); otherwise the cookie is read from the
 * socket, where the sock_create/sockops programs below make sure the
 * kernel has generated one. The verifier drops the branch not taken, so
 * programs that may not call the helper never do. */
const volatile bool cookie_helper = true;

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, __u64); /* socket cookie */
	__type(value, struct tcp_conn);
} tcp_conns SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 32768);
	__type(key, struct flow_tuple);
	__type(value, struct udp_flow);
} udp_flows SEC(".maps");

/* LRU: an entry left behind by a send that never reached the tracepoint
 * must not fill the map. Keyed by thread id. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 8192);
	__type(key, __u32);
	__type(value, struct udp_peer);
} udp_peers SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} events SEC(".maps");


/* Keeps struct conn_event in the object's BTF so bpf2go emits its Go type
 * (ring buffers carry no value type). */
const struct conn_event *unused_conn_event __attribute__((unused));

/* sock_proto returns IPPROTO_TCP or IPPROTO_UDP for an IPv4/IPv6 TCP or
 * UDP socket, 0 for anything else (unix, raw, ping, MPTCP, UDP-Lite). */
static __always_inline int sock_proto(const struct sock *sk)
{
	__u16 family = BPF_CORE_READ(sk, __sk_common.skc_family);
	if (family != AF_INET && family != AF_INET6)
		return 0;
	__u16 type = BPF_CORE_READ(sk, sk_type);
	__u16 proto = BPF_CORE_READ(sk, sk_protocol);
	if (type == SOCK_STREAM && proto == IPPROTO_TCP)
		return IPPROTO_TCP;
	if (type == SOCK_DGRAM && proto == IPPROTO_UDP)
		return IPPROTO_UDP;
	return 0;
}

static __always_inline __u64 sock_cookie(const struct sock *sk)
{
	if (cookie_helper)
		return bpf_get_socket_cookie((void *)sk);
	return BPF_CORE_READ(sk, __sk_common.skc_cookie.counter);
}

static __always_inline void read_tuple(const struct sock *sk, struct flow_tuple *t)
{
	t->family = BPF_CORE_READ(sk, __sk_common.skc_family);
	t->sport = BPF_CORE_READ(sk, __sk_common.skc_num);
	t->dport = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
	if (t->family == AF_INET) {
		__be32 s = BPF_CORE_READ(sk, __sk_common.skc_rcv_saddr);
		__be32 d = BPF_CORE_READ(sk, __sk_common.skc_daddr);
		__builtin_memcpy(t->saddr, &s, 4);
		__builtin_memcpy(t->daddr, &d, 4);
	} else {
		BPF_CORE_READ_INTO(&t->saddr, sk, __sk_common.skc_v6_rcv_saddr);
		BPF_CORE_READ_INTO(&t->daddr, sk, __sk_common.skc_v6_daddr);
	}
}

/* set_owner records the current task. Call it only from hooks that run in
 * the owning process's context (send, receive, connect): state changes and
 * receive processing in softirq run on behalf of whatever task was
 * interrupted, and must never overwrite the owner. */
static __always_inline void set_owner(__u32 *pid, char *comm)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	if (tgid == 0)
		return;
	*pid = tgid;
	bpf_get_current_comm(comm, TCPTOP_COMM_LEN);
}

/* snapshot copies the kernel's own counters of the connection. */
static __always_inline void snapshot(const struct sock *sk, struct tcp_conn *c, int state)
{
	const struct tcp_sock *tp = (const struct tcp_sock *)sk;
	c->segs_in = BPF_CORE_READ(tp, segs_in);
	c->segs_out = BPF_CORE_READ(tp, segs_out);
	c->srtt_us = BPF_CORE_READ(tp, srtt_us) >> 3;
	c->total_retrans = BPF_CORE_READ(tp, total_retrans);
	c->state = state;
	/* connect() enters SYN_SENT before it picks the local port. */
	if (c->tuple.sport == 0 || c->tuple.dport == 0)
		read_tuple(sk, &c->tuple);
}

static __always_inline struct tcp_conn *tcp_conn_get(const struct sock *sk, __u64 cookie, __u8 flags)
{
	struct tcp_conn *c = bpf_map_lookup_elem(&tcp_conns, &cookie);
	if (c)
		return c;
	struct tcp_conn fresh = {};
	read_tuple(sk, &fresh.tuple);
	fresh.flags = flags;
	long err = bpf_map_update_elem(&tcp_conns, &cookie, &fresh, BPF_NOEXIST);
	if (err && err != -17 /* EEXIST: another CPU won the race */) {
		__sync_fetch_and_add(&tcp_table_full, 1);
		return 0;
	}
	return bpf_map_lookup_elem(&tcp_conns, &cookie);
}

static __always_inline void tcp_account(const struct sock *sk, int ret, int flags, bool out)
{
	if (ret <= 0 || (!out && (flags & MSG_PEEK)))
		return;
	__u64 cookie = sock_cookie(sk);
	if (!cookie)
		return; /* predates tcptop, in a namespace sock_diag did not reach */
	struct tcp_conn *c = tcp_conn_get(sk, cookie, 0);
	if (!c)
		return;
	if (out)
		__sync_fetch_and_add(&c->bytes_out, ret);
	else
		__sync_fetch_and_add(&c->bytes_in, ret);
	set_owner(&c->pid, c->comm);
	snapshot(sk, c, BPF_CORE_READ(sk, __sk_common.skc_state));
}

/* udp_account adds one datagram to its flow. The peer is the address the
 * cgroup hook stashed for this thread and socket; a connected socket sent
 * or received without an address uses the socket's own peer. */
static __always_inline void udp_account(const struct sock *sk, int ret, int flags, bool out)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct udp_peer peer = {};
	bool have_peer = false;
	struct udp_peer *stashed = bpf_map_lookup_elem(&udp_peers, &tid);
	if (stashed) {
		peer = *stashed;
		have_peer = true;
		bpf_map_delete_elem(&udp_peers, &tid);
	}
	if (ret < 0 || (!out && (flags & MSG_PEEK)))
		return;

	struct flow_tuple key = {};
	read_tuple(sk, &key);
	if (have_peer && peer.cookie == sock_cookie(sk)) {
		key.dport = peer.port;
		if (key.family == AF_INET6 && peer.family == AF_INET) {
			/* v4 peer of a dual-stack socket: store as ::ffff:a.b.c.d */
			__builtin_memset(key.daddr, 0, 10);
			key.daddr[10] = 0xff;
			key.daddr[11] = 0xff;
			__builtin_memcpy(&key.daddr[12], peer.addr, 4);
		} else {
			__builtin_memcpy(key.daddr, peer.addr, 16);
		}
	}

	struct udp_flow *f = bpf_map_lookup_elem(&udp_flows, &key);
	if (!f) {
		struct udp_flow fresh = {};
		long err = bpf_map_update_elem(&udp_flows, &key, &fresh, BPF_NOEXIST);
		if (err && err != -17) {
			__sync_fetch_and_add(&udp_table_full, 1);
			return;
		}
		f = bpf_map_lookup_elem(&udp_flows, &key);
		if (!f)
			return;
	}
	if (out) {
		__sync_fetch_and_add(&f->bytes_out, ret);
		__sync_fetch_and_add(&f->pkts_out, 1);
	} else {
		__sync_fetch_and_add(&f->bytes_in, ret);
		__sync_fetch_and_add(&f->pkts_in, 1);
	}
	f->last_ns = bpf_ktime_get_ns();
	set_owner(&f->pid, f->comm);
}

static __always_inline void account(const struct sock *sk, int ret, int flags, bool out)
{
	switch (sock_proto(sk)) {
	case IPPROTO_TCP:
		tcp_account(sk, ret, flags, out);
		break;
	case IPPROTO_UDP:
		udp_account(sk, ret, flags, out);
		break;
	}
}

SEC("tp_btf/sock_send_length")
int BPF_PROG(tcptop_send, struct sock *sk, int ret, int flags)
{
	account(sk, ret, flags, true);
	return 0;
}

SEC("tp_btf/sock_recv_length")
int BPF_PROG(tcptop_recv, struct sock *sk, int ret, int flags)
{
	account(sk, ret, flags, false);
	return 0;
}

/* tcp_closed hands the final counters to userspace on the ring buffer and
 * forgets the connection. If the ring buffer is full the connection stays
 * in the map marked closed, so its counters are still reported. */
static __always_inline void tcp_closed(const struct sock *sk, __u64 cookie)
{
	struct tcp_conn *c = bpf_map_lookup_elem(&tcp_conns, &cookie);
	struct conn_event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		__sync_fetch_and_add(&events_lost, 1);
		c = tcp_conn_get(sk, cookie, 0);
		if (c) {
			snapshot(sk, c, TCP_CLOSE);
			c->flags |= CONN_CLOSED;
		}
		return;
	}
	e->cookie = cookie;
	if (c) {
		e->conn = *c;
	} else {
		/* Opened before tcptop started and never sent or received since. */
		__builtin_memset(&e->conn, 0, sizeof(e->conn));
		read_tuple(sk, &e->conn.tuple);
	}
	snapshot(sk, &e->conn, TCP_CLOSE);
	bpf_map_delete_elem(&tcp_conns, &cookie);
	bpf_ringbuf_submit(e, 0);
}

SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(tcptop_state, struct sock *sk, int oldstate, int newstate)
{
	/* Listening sockets are not connections. A child socket is cloned
	 * from its listener, so it enters SYN_RECV "from" LISTEN. */
	if (newstate == TCP_LISTEN || (oldstate == TCP_LISTEN && newstate != TCP_SYN_RECV) ||
	    (oldstate == TCP_CLOSE && newstate == TCP_CLOSE))
		return 0;
	if (sock_proto(sk) != IPPROTO_TCP)
		return 0;
	__u64 cookie = sock_cookie(sk);
	if (!cookie)
		return 0; /* an accepted child before sockops named it, see above */
	if (newstate == TCP_CLOSE) {
		tcp_closed(sk, cookie);
		return 0;
	}
	__u8 flags = (newstate == TCP_SYN_SENT || newstate == TCP_SYN_RECV ||
		      (newstate == TCP_ESTABLISHED && oldstate == TCP_SYN_RECV)) ? CONN_OPEN_SEEN : 0;
	struct tcp_conn *c = tcp_conn_get(sk, cookie, flags);
	if (!c)
		return 0;
	/* connect() enters SYN_SENT in the calling task; every other
	 * transition may run in softirq on behalf of another task. */
	if (newstate == TCP_SYN_SENT)
		set_owner(&c->pid, c->comm);
	snapshot(sk, c, newstate);
	return 0;
}

static __always_inline void stash_peer(struct bpf_sock_addr *ctx, bool v6)
{
	if (ctx->protocol != IPPROTO_UDP)
		return;
	struct udp_peer p = {};
	p.cookie = bpf_get_socket_cookie(ctx);
	p.port = bpf_ntohs((__u16)ctx->user_port);
	if (v6) {
		p.family = AF_INET6;
		__u32 a0 = ctx->user_ip6[0], a1 = ctx->user_ip6[1];
		__u32 a2 = ctx->user_ip6[2], a3 = ctx->user_ip6[3];
		__builtin_memcpy(&p.addr[0], &a0, 4);
		__builtin_memcpy(&p.addr[4], &a1, 4);
		__builtin_memcpy(&p.addr[8], &a2, 4);
		__builtin_memcpy(&p.addr[12], &a3, 4);
	} else {
		p.family = AF_INET;
		__u32 a = ctx->user_ip4;
		__builtin_memcpy(p.addr, &a, 4);
	}
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	bpf_map_update_elem(&udp_peers, &tid, &p, BPF_ANY);
}

/* The sock_addr hooks only observe: they always allow the call (return 1)
 * and never rewrite the address. */
SEC("cgroup/sendmsg4")
int tcptop_sendmsg4(struct bpf_sock_addr *ctx)
{
	stash_peer(ctx, false);
	return 1;
}

SEC("cgroup/sendmsg6")
int tcptop_sendmsg6(struct bpf_sock_addr *ctx)
{
	stash_peer(ctx, true);
	return 1;
}

SEC("cgroup/recvmsg4")
int tcptop_recvmsg4(struct bpf_sock_addr *ctx)
{
	stash_peer(ctx, false);
	return 1;
}

SEC("cgroup/recvmsg6")
int tcptop_recvmsg6(struct bpf_sock_addr *ctx)
{
	stash_peer(ctx, true);
	return 1;
}

/* ---- fexit path: the functions behind the tracepoints ---- */

SEC("fexit/inet_sendmsg")
int BPF_PROG(tcptop_fx_send4, struct socket *sock, void *msg, __u64 size, int ret)
{
	account(sock->sk, ret, 0, true);
	return 0;
}

SEC("fexit/inet6_sendmsg")
int BPF_PROG(tcptop_fx_send6, struct socket *sock, void *msg, __u64 size, int ret)
{
	account(sock->sk, ret, 0, true);
	return 0;
}

SEC("fexit/inet_recvmsg")
int BPF_PROG(tcptop_fx_recv4, struct socket *sock, void *msg, __u64 size, int flags, int ret)
{
	account(sock->sk, ret, flags, false);
	return 0;
}

SEC("fexit/inet6_recvmsg")
int BPF_PROG(tcptop_fx_recv6, struct socket *sock, void *msg, __u64 size, int flags, int ret)
{
	account(sock->sk, ret, flags, false);
	return 0;
}

/* Before 6.5, sendfile and splice reach TCP through sendpage. */
SEC("fexit/inet_sendpage")
int BPF_PROG(tcptop_fx_page, struct socket *sock, void *page, int offset, __u64 size, int flags, long ret)
{
	account(sock->sk, ret, 0, true);
	return 0;
}

/* ---- kprobe path: the same functions, arguments saved at entry ---- */

struct call_args {
	__u64 sk; /* struct sock *, kept as an integer for the map */
	int flags;
	int _pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 8192);
	__type(key, __u32); /* thread id */
	__type(value, struct call_args);
} calls SEC(".maps");

static __always_inline int call_enter(struct socket *sock, int flags)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct call_args a = {.sk = (__u64)BPF_CORE_READ(sock, sk), .flags = flags};
	bpf_map_update_elem(&calls, &tid, &a, BPF_ANY);
	return 0;
}

static __always_inline int call_exit(long ret, bool out)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct call_args *a = bpf_map_lookup_elem(&calls, &tid);
	if (!a)
		return 0;
	struct call_args args = *a;
	bpf_map_delete_elem(&calls, &tid);
	account((const struct sock *)args.sk, ret, args.flags, out);
	return 0;
}

SEC("kprobe/inet_sendmsg")
int BPF_KPROBE(tcptop_kp_send4, struct socket *sock) { return call_enter(sock, 0); }
SEC("kretprobe/inet_sendmsg")
int BPF_KRETPROBE(tcptop_kr_send4, int ret) { return call_exit(ret, true); }
SEC("kprobe/inet6_sendmsg")
int BPF_KPROBE(tcptop_kp_send6, struct socket *sock) { return call_enter(sock, 0); }
SEC("kretprobe/inet6_sendmsg")
int BPF_KRETPROBE(tcptop_kr_send6, int ret) { return call_exit(ret, true); }
SEC("kprobe/inet_recvmsg")
int BPF_KPROBE(tcptop_kp_recv4, struct socket *sock, void *msg, __u64 size, int flags) { return call_enter(sock, flags); }
SEC("kretprobe/inet_recvmsg")
int BPF_KRETPROBE(tcptop_kr_recv4, int ret) { return call_exit(ret, false); }
SEC("kprobe/inet6_recvmsg")
int BPF_KPROBE(tcptop_kp_recv6, struct socket *sock, void *msg, __u64 size, int flags) { return call_enter(sock, flags); }
SEC("kretprobe/inet6_recvmsg")
int BPF_KRETPROBE(tcptop_kr_recv6, int ret) { return call_exit(ret, false); }
SEC("kprobe/inet_sendpage")
int BPF_KPROBE(tcptop_kp_page, struct socket *sock) { return call_enter(sock, 0); }
SEC("kretprobe/inet_sendpage")
int BPF_KRETPROBE(tcptop_kr_page, long ret) { return call_exit(ret, true); }

/* ---- cookie generation, for paths without bpf_get_socket_cookie ----
 * A socket's cookie is created the first time someone asks for it. These
 * ask for every new socket: at creation (in the creating task) and, for
 * accepted TCP children, which are clones with no cookie, when they become
 * established (sockops runs just before the ESTABLISHED state change). */
SEC("cgroup/sock_create")
int tcptop_sock_new(struct bpf_sock *ctx)
{
	bpf_get_socket_cookie(ctx);
	return 1;
}

SEC("sockops")
int tcptop_sockops(struct bpf_sock_ops *ctx)
{
	if (ctx->op == BPF_SOCK_OPS_PASSIVE_ESTABLISHED_CB)
		bpf_get_socket_cookie(ctx);
	return 1;
}
