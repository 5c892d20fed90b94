/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Send/receive accounting, written once and compiled twice by
 * tcptop.bpf.c (no include guard on purpose):
 *   FN(x) = x_btf: for tp_btf and fexit programs, whose socket pointers are
 *     typed by BTF, so fields are read with plain loads (RD = p->f) and
 *     struct tcp_sock through bpf_skc_to_tcp_sock. Several times cheaper
 *     than a helper call per field.
 *   FN(x) = x_probe: for kprobes, whose pointers are plain numbers: every
 *     read is bpf_probe_read_kernel (RD = BPF_CORE_READ).
 * Both are CO-RE: offsets are relocated against the running kernel.
 */

/* sock_proto returns IPPROTO_TCP or IPPROTO_UDP for an IPv4/IPv6 TCP or
 * UDP socket, 0 for anything else (unix, raw, ping, MPTCP, UDP-Lite). */
static __always_inline int FN(sock_proto)(const struct sock *sk)
{
	__u16 family = RD(sk, __sk_common.skc_family);
	if (family != AF_INET && family != AF_INET6)
		return 0;
	__u16 type = RD(sk, sk_type);
	__u16 proto = RD(sk, sk_protocol);
	if (type == SOCK_STREAM && proto == IPPROTO_TCP)
		return IPPROTO_TCP;
	if (type == SOCK_DGRAM && proto == IPPROTO_UDP)
		return IPPROTO_UDP;
	return 0;
}

static __always_inline __u64 FN(sock_cookie)(const struct sock *sk)
{
	if (cookie_helper)
		return bpf_get_socket_cookie((void *)sk);
	return RD(sk, __sk_common.skc_cookie.counter);
}

static __always_inline void FN(read_tuple)(const struct sock *sk, struct flow_tuple *t)
{
	t->family = RD(sk, __sk_common.skc_family);
	t->sport = RD(sk, __sk_common.skc_num);
	t->dport = bpf_ntohs(RD(sk, __sk_common.skc_dport));
	if (t->family == AF_INET) {
		__be32 s = RD(sk, __sk_common.skc_rcv_saddr);
		__be32 d = RD(sk, __sk_common.skc_daddr);
		__builtin_memcpy(t->saddr, &s, 4);
		__builtin_memcpy(t->daddr, &d, 4);
	} else {
		RD_BYTES(t->saddr, sk, __sk_common.skc_v6_rcv_saddr, 16);
		RD_BYTES(t->daddr, sk, __sk_common.skc_v6_daddr, 16);
	}
}

/* snapshot copies the kernel's own counters of the connection. */
static __always_inline void FN(snapshot)(const struct sock *sk, struct tcp_conn *c, int state)
{
	const struct tcp_sock *tp = TCP_SOCK(sk);
	if (tp) {
		c->segs_in = RD(tp, segs_in);
		c->segs_out = RD(tp, segs_out);
		c->srtt_us = RD(tp, srtt_us) >> 3;
		c->total_retrans = RD(tp, total_retrans);
	}
	c->state = state;
	/* connect() enters SYN_SENT before it picks the local port. */
	if (c->tuple.sport == 0 || c->tuple.dport == 0)
		FN(read_tuple)(sk, &c->tuple);
}

static __always_inline struct tcp_conn *FN(tcp_conn_get)(const struct sock *sk, __u64 cookie, __u8 flags)
{
	struct tcp_conn *c = bpf_map_lookup_elem(&tcp_conns, &cookie);
	if (c)
		return c;
	struct tcp_conn fresh = {};
	FN(read_tuple)(sk, &fresh.tuple);
	fresh.flags = flags;
	long err = bpf_map_update_elem(&tcp_conns, &cookie, &fresh, BPF_NOEXIST);
	if (err && err != -17 /* EEXIST: another CPU won the race */) {
		__sync_fetch_and_add(&tcp_table_full, 1);
		return 0;
	}
	return bpf_map_lookup_elem(&tcp_conns, &cookie);
}

static __always_inline void FN(tcp_account)(const struct sock *sk, int ret, int flags, bool out)
{
	if (ret <= 0 || (!out && (flags & MSG_PEEK)))
		return;
	__u64 cookie = FN(sock_cookie)(sk);
	if (!cookie)
		return; /* predates tcptop, in a namespace sock_diag did not reach */
	struct tcp_conn *c = FN(tcp_conn_get)(sk, cookie, 0);
	if (!c)
		return;
	if (out)
		__sync_fetch_and_add(&c->bytes_out, ret);
	else
		__sync_fetch_and_add(&c->bytes_in, ret);
	set_owner(&c->pid, c->comm);
	FN(snapshot)(sk, c, RD(sk, __sk_common.skc_state));
}

/* udp_account adds one datagram to its flow. The peer is the address the
 * cgroup hook stashed for this thread and socket; a connected socket sent
 * or received without an address uses the socket's own peer. */
static __always_inline void FN(udp_account)(const struct sock *sk, int ret, int flags, bool out)
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
	FN(read_tuple)(sk, &key);
	if (have_peer && peer.cookie == FN(sock_cookie)(sk)) {
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

static __always_inline void FN(account)(const struct sock *sk, int ret, int flags, bool out)
{
	switch (FN(sock_proto)(sk)) {
	case IPPROTO_TCP:
		FN(tcp_account)(sk, ret, flags, out);
		break;
	case IPPROTO_UDP:
		FN(udp_account)(sk, ret, flags, out);
		break;
	}
}
