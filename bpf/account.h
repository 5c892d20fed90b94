/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Reading sockets and counting calls, written once and compiled twice by
 * tcptop.bpf.c (no include guard on purpose):
 *   FN(x) = x_btf: for tp_btf, fexit and iterator programs, whose socket
 *     pointers are typed by BTF, so fields are read with plain loads
 *     (RD = p->f) and struct tcp_sock through bpf_skc_to_tcp_sock.
 *     Several times cheaper than a helper call per field.
 *   FN(x) = x_probe: for kprobes, and for sockets known only by an address
 *     saved earlier: every read is bpf_probe_read_kernel
 *     (RD = BPF_CORE_READ).
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

/* sock_cookie is the socket's cookie, the key that ties the programs,
 * userspace and sock_diag together. Without the helper (before 5.12 in
 * tracing programs, kprobes always) it is read from the socket, where the
 * cgroup programs make sure the kernel has generated one. With it, the
 * socket's field is read first and the helper called only while it is 0
 * (the helper makes the cookie then, and returns the field after): the
 * same value, without a helper call on every send and receive
 * (docs/design.md, 2026-12-08). */
static __always_inline __u64 FN(sock_cookie)(const struct sock *sk)
{
	__u64 cookie = RD(sk, __sk_common.skc_cookie.counter);
	if (cookie_helper && !PROBE_READS && !cookie)
		return bpf_get_socket_cookie((void *)sk);
	return cookie;
}

static __always_inline void FN(read_tuple)(const struct sock *sk, struct flow_tuple *t)
{
	t->family = RD(sk, __sk_common.skc_family);
	t->sport = RD(sk, __sk_common.skc_num);
	if (!t->sport) {
		/* CLOSE gave a TCP socket's port back; inet_sport still has it. */
		const struct inet_sock *inet = (const struct inet_sock *)TCP_SOCK(sk);
		if (inet)
			t->sport = bpf_ntohs(RD(inet, inet_sport));
	}
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

static __always_inline __u32 FN(sock_netns)(const struct sock *sk)
{
	const struct net *net = RD(sk, __sk_common.skc_net.net);
	return net ? RD(net, ns.inum) : 0;
}

/* derive computes what the application wrote and read over the
 * connection's whole life from the kernel's own counters, for a
 * connection whose calls tcptop did not all see:
 *   written = bytes_sent - bytes_retrans   (each byte's first transmission)
 *           + write_seq - snd_nxt          (queued, not yet sent)
 *           - 1 if a FIN is queued but not yet sent (it takes a sequence number)
 *   read    = bytes_received               (every byte that arrived in order, and the FIN)
 *           - (rcv_nxt - copied_seq)       (not yet read; includes an unread FIN)
 *           - 1 if the application read the FIN (copied_seq passed it)
 * SYN and FIN carry no payload, so bytes_sent never counts them. */
static __always_inline void FN(derive)(const struct sock *sk, __u64 *in, __u64 *out)
{
	const struct tcp_sock *tp = TCP_SOCK(sk);
	if (!tp) {
		*in = 0;
		*out = 0;
		return;
	}
	__u8 state = RD(sk, __sk_common.skc_state);
	__u32 write_seq = RD(tp, write_seq), snd_nxt = RD(tp, snd_nxt);
	__u64 w = RD(tp, bytes_sent) - RD(tp, bytes_retrans) + (__u32)(write_seq - snd_nxt);
	if (write_seq != snd_nxt &&
	    (state == TCP_FIN_WAIT1 || state == TCP_CLOSING || state == TCP_LAST_ACK))
		w--;
	*out = w;

	__u32 unread = RD(tp, rcv_nxt) - RD(tp, copied_seq);
	__u64 r = RD(tp, bytes_received) - unread;
	unsigned long sk_flags = RD(sk, __sk_common.skc_flags);
	if (unread == 0 && r > 0 && (sk_flags & (1UL << bpf_core_enum_value(enum sock_flags, SOCK_DONE))))
		r--;
	*in = r;
}

/* settle makes a closing connection's byte counts at least what the
 * kernel's own counters say it moved (derive). The counts come from the
 * send and receive programs, and a call whose programs the kernel skipped
 * (both of a pair, under preemption: 7.3 under churn lost a connection's
 * 1,000 bytes so) would be missing for good. At the release no call is in
 * flight any more, so the counters hold every call's bytes and none is
 * counted twice; earlier a call's bytes are in the counters before its
 * program adds them. Not for a socket with an upper layer protocol
 * (kTLS, whose counters count records, not what the application wrote),
 * nor where tcp_disconnect zeroed the counters (an abortive close, or
 * connect(AF_UNSPEC)): it also moves write_seq on by a window, so derive
 * would count that window as written. */
static __always_inline void FN(settle)(const struct sock *sk, struct tcp_conn *c)
{
	const struct tcp_sock *tp = TCP_SOCK(sk);
	if (!tp || RD((const struct inet_connection_sock *)tp, icsk_ulp_ops) ||
	    (RD(tp, bytes_sent) == 0 && RD(tp, bytes_received) == 0))
		return;
	__u64 in, out;
	FN(derive)(sk, &in, &out);
	if (in > c->bytes_in)
		c->bytes_in = in;
	if (out > c->bytes_out)
		c->bytes_out = out;
}

/* diagnose copies what tcp_info tells of the connection's sending: the
 * window, the round trip, the rates, what is queued, and how long it was
 * busy or held back (the chrono times, with the current period counted as
 * tcp_get_info_chrono_stats does). */
static __always_inline void FN(diagnose)(const struct sock *sk, const struct tcp_sock *tp, struct tcp_conn *c)
{
	c->cwnd = RD(tp, snd_cwnd);
	c->ssthresh = RD(tp, snd_ssthresh);
	c->min_rtt_us = RD(tp, rtt_min.s[0].v);
	c->rttvar_us = RD(tp, mdev_us) >> 2;
	__u32 write_seq = RD(tp, write_seq), snd_nxt = RD(tp, snd_nxt), snd_una = RD(tp, snd_una);
	c->notsent_bytes = (__s32)(write_seq - snd_nxt) > 0 ? write_seq - snd_nxt : 0;
	c->unacked_bytes = snd_nxt - snd_una;
	c->snd_wnd = RD(tp, snd_wnd);
	c->rcv_wnd = RD(tp, rcv_wnd);
	c->lost = RD(tp, lost);
	__u32 interval = RD(tp, rate_interval_us);
	c->delivery_rate = interval ? (__u64)RD(tp, rate_delivered) * RD(tp, mss_cache) * 1000000 / interval : 0;
	c->pacing_rate = RD(sk, sk_pacing_rate);
	__u32 now = (__u32)bpf_jiffies64();
	__u32 type = RD_BITS(tp, chrono_type);
	__u32 since = now - RD(tp, chrono_start);
	c->chrono[0] = RD(tp, chrono_stat[0]) + (type == 1 ? since : 0);
	c->chrono[1] = RD(tp, chrono_stat[1]) + (type == 2 ? since : 0);
	c->chrono[2] = RD(tp, chrono_stat[2]) + (type == 3 ? since : 0);
	c->chrono_jiffies = now;
	const struct tcp_congestion_ops *ops = RD((const struct inet_connection_sock *)tp, icsk_ca_ops);
	if (ops)
		RD_BYTES(c->cc, ops, name, TCPTOP_COMM_LEN);
}

/* read_ino notes the socket's inode number, for finding its owner in /proc
 * (before 5.11). An accepted connection has none until accept() gives it
 * a file: the re-reads try again while it is unknown. */
static __always_inline void FN(read_ino)(const struct sock *sk, struct tcp_conn *c)
{
	const struct socket *sock = RD(sk, sk_socket);
	const struct file *file = sock ? RD(sock, file) : 0;
	const struct inode *inode = file ? RD(file, f_inode) : 0;
	if (inode)
		c->ino = RD(inode, i_ino);
}

/* snapshot copies the kernel's own per-connection counters. Once the
 * connection is in CLOSE they are kept as they were when it got there:
 * tcp_disconnect (after a failed connect(), or connect(AF_UNSPEC)) zeroes
 * them for the socket's next connection. */
static __always_inline void FN(snapshot)(const struct sock *sk, struct tcp_conn *c)
{
	const struct tcp_sock *tp = TCP_SOCK(sk);
	__u8 state = RD(sk, __sk_common.skc_state);
	if (tp && !(state == TCP_CLOSE && c->state == TCP_CLOSE)) {
		c->segs_in = RD(tp, segs_in);
		c->segs_out = RD(tp, segs_out);
		c->srtt_us = RD(tp, srtt_us) >> 3;
		c->total_retrans = RD(tp, total_retrans);
		FN(diagnose)(sk, tp, c);
	}
	c->state = state;
	if (!c->ino)
		FN(read_ino)(sk, c);
	/* connect() enters SYN_SENT before it picks the local port. */
	if (c->tuple.sport == 0 || c->tuple.dport == 0)
		FN(read_tuple)(sk, &c->tuple);
}

/* fill_untracked builds, from the socket alone, the record of a
 * connection that has no table entry. */
static __always_inline void FN(fill_untracked)(const struct sock *sk, struct tcp_conn *c)
{
	FN(read_tuple)(sk, &c->tuple);
	FN(derive)(sk, &c->bytes_in, &c->bytes_out);
	FN(snapshot)(sk, c);
	c->netns = FN(sock_netns)(sk);
	c->err = RD(sk, sk_err);
	c->sk = (__u64)sk; /* for userspace to have it re-read (its owner found in /proc) */
	c->flags = CONN_UNTRACKED;
}

/* tcp_conn_new adds a connection to the table. flags has CONN_OPEN_SEEN
 * when the caller saw it open; otherwise it predates tcptop, and its
 * lifetime totals are derived from the kernel's counters, less what the
 * call being counted moved (sent, rcvd) since that is not "before". */
static __always_inline struct tcp_conn *FN(tcp_conn_new)(const struct sock *sk, __u64 cookie, __u8 flags,
							  __u64 sent, __u64 rcvd)
{
	/* Inserted empty, then filled in place: a whole struct tcp_conn on
	 * the stack does not fit next to the callers' locals. A call on
	 * another CPU that finds it half filled adds to counters this fills
	 * with values that already include its bytes. */
	long err = bpf_map_update_elem(&tcp_conns, &cookie, &empty_conn, BPF_NOEXIST);
	if (err && err != -17 /* EEXIST: another CPU won the race */) {
		__sync_fetch_and_add(&tcp_table_full, 1);
		return 0;
	}
	if (!err)
		__sync_fetch_and_add(&tcp_added, 1);
	struct tcp_conn *c = bpf_map_lookup_elem(&tcp_conns, &cookie);
	if (!c || err)
		return c;
	FN(read_tuple)(sk, &c->tuple);
	c->sk = (__u64)sk;
	c->flags = flags;
	c->start_ns = bpf_ktime_get_ns();
	/* Its chrono times start from 0 here: its first row's limit is
	 * measured from now (see tcp_conn.open_jiffies). */
	if (flags & CONN_OPEN_SEEN)
		c->open_jiffies = (__u32)bpf_jiffies64() ?: 1;
	c->netns = FN(sock_netns)(sk);
	FN(snapshot)(sk, c);
	__u8 *dir = (flags & CONN_OPEN_SEEN) ? 0 : bpf_map_lookup_elem(&opened, &cookie);
	if (dir) {
		/* Nothing saw it open, but sockops did: it is new, not older
		 * than tcptop, with a direction. Its bytes are counted from the
		 * calls, as for one the state programs saw open: derived totals
		 * would count a call still in flight on another thread (a read
		 * that has copied but not returned) twice, once in the base and
		 * once when it returns (6.1-arm64, kprobes, state and close
		 * refused: in=24,690 for 12,345). Calls that went unseen are
		 * settled at the release. */
		c->direction = *dir;
		c->flags |= CONN_OPEN_SEEN;
		c->bytes_in = rcvd;
		c->bytes_out = sent;
		bpf_map_delete_elem(&opened, &cookie);
	} else if (!(flags & CONN_OPEN_SEEN)) {
		/* Retransmits before tcptop watched have no kind (retrans.h). */
		c->retrans_base = c->retrans_seen = c->total_retrans;
		__u64 in, out;
		FN(derive)(sk, &in, &out);
		c->base_in = in - rcvd;
		c->base_out = out - sent;
		c->bytes_in = in;
		c->bytes_out = out;
		c->base_segs_in = c->segs_in;
		c->base_segs_out = c->segs_out;
	}
	return c;
}

/* hot_once puts a socket on the list userspace re-reads at the next tick,
 * for one read. */
static __always_inline void FN(hot_once)(__u64 cookie, const struct sock *sk)
{
	struct hot_sock h = {.sk = (__u64)sk};
	if (bpf_map_update_elem(&hot, &cookie, &h, BPF_ANY))
		__sync_fetch_and_add(&hot_full, 1);
}

/* hot_mark puts a connection that a call or a state change touched on
 * the hot list, where it stays while it is touched and for one tick
 * after (for the acknowledgements that trail the last call). The check
 * of hot_tick keeps the map update off the path of every call in a tick
 * but the first. A connection without a table entry (c is 0) is re-read
 * from its socket. */
static __always_inline void FN(hot_mark)(struct tcp_conn *c, __u64 cookie, const struct sock *sk)
{
	__u32 now = tick;
	if (c && c->hot_tick == now)
		return;
	if (c)
		c->hot_tick = now;
	FN(hot_once)(cookie, sk);
}

static __always_inline void FN(tcp_account)(const struct sock *sk, int ret, bool out)
{
	if (receives_lost && !out)
		ret = 0;
	__u64 cookie = FN(sock_cookie)(sk);
	if (!cookie)
		return; /* predates tcptop, in a namespace sock_diag did not reach */
	struct tcp_conn *c = bpf_map_lookup_elem(&tcp_conns, &cookie);
	if (!c && close_at_state && RD(sk, __sk_common.skc_state) == TCP_CLOSE)
		return; /* reported closed already (close_at_state) */
	if (!c) {
		c = FN(tcp_conn_new)(sk, cookie, 0, out ? ret : 0, out ? 0 : ret);
		if (!c) {
			FN(hot_mark)(0, cookie, sk); /* untracked: re-read from the socket */
			return;
		}
		set_owner(c);
	} else {
		/* Before its bytes: a read that sees them sees their owner. */
		set_owner(c);
		if (out)
			__sync_fetch_and_add(&c->bytes_out, ret);
		else
			__sync_fetch_and_add(&c->bytes_in, ret);
	}
	FN(hot_mark)(c, cookie, sk);
}

/* udp_account adds one datagram to its flow. The peer is the address the
 * cgroup hook stashed for this thread and socket; a connected socket sent
 * or received without an address uses the socket's own peer. */
static __always_inline void FN(udp_account)(const struct sock *sk, int ret, bool out)
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

	struct udp_key key = {};
	FN(read_tuple)(sk, &key.tuple);
	key.netns = FN(sock_netns)(sk);
	if (have_peer && peer.cookie == FN(sock_cookie)(sk)) {
		key.tuple.dport = peer.port;
		if (key.tuple.family == AF_INET6 && peer.family == AF_INET) {
			/* v4 peer of a dual-stack socket: store as ::ffff:a.b.c.d */
			__builtin_memset(key.tuple.daddr, 0, 10);
			key.tuple.daddr[10] = 0xff;
			key.tuple.daddr[11] = 0xff;
			__builtin_memcpy(&key.tuple.daddr[12], peer.addr, 4);
		} else {
			__builtin_memcpy(key.tuple.daddr, peer.addr, 16);
		}
	}

	struct udp_flow *f = bpf_map_lookup_elem(&udp_flows, &key);
	if (!f) {
		struct udp_flow fresh = {.start_ns = bpf_ktime_get_ns(), .direction = out ? DIR_OUT : DIR_IN};
		long err = bpf_map_update_elem(&udp_flows, &key, &fresh, BPF_NOEXIST);
		if (err && err != -17) {
			__sync_fetch_and_add(&udp_table_full, 1);
			return;
		}
		if (!err)
			__sync_fetch_and_add(&udp_added, 1);
		f = bpf_map_lookup_elem(&udp_flows, &key);
		if (!f)
			return;
	}
	set_owner(f); /* before its bytes: a read that sees them sees their owner */
	if (out) {
		__sync_fetch_and_add(&f->bytes_out, ret);
		__sync_fetch_and_add(&f->pkts_out, 1);
	} else {
		__sync_fetch_and_add(&f->bytes_in, ret);
		__sync_fetch_and_add(&f->pkts_in, 1);
	}
	f->last_ns = bpf_ktime_get_ns();
}

/* account_as counts one send (out) or receive call that returned ret on
 * a socket of proto (sock_proto, read once by the caller). */
static __always_inline void FN(account_as)(const struct sock *sk, int proto, int ret, int flags, bool out)
{
	if (ret < 0 || (!out && (flags & MSG_PEEK))) {
		/* Nothing moved; a peer the cgroup hook stashed for this
		 * call must not be taken for the next one's. */
		if (proto == IPPROTO_UDP) {
			__u32 tid = (__u32)bpf_get_current_pid_tgid();
			bpf_map_delete_elem(&udp_peers, &tid);
		}
		return;
	}
	if (proto == IPPROTO_TCP && ret > 0) /* 0: end of stream */
		FN(tcp_account)(sk, ret, out);
	else if (proto == IPPROTO_UDP) /* 0: an empty datagram */
		FN(udp_account)(sk, ret, out);
}

/* account counts one send (out) or receive call that returned ret. */
static __always_inline void FN(account)(const struct sock *sk, int ret, int flags, bool out)
{
	FN(account_as)(sk, FN(sock_proto)(sk), ret, flags, out);
}
