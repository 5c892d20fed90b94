/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The handshake of a TCP connection tcptop saw open: connect_us and
 * syn_retrans (docs/design.md, 2026-12-07). Work only at state changes and
 * at a SYN-ACK sent again. Included once by tcptop.bpf.c, before
 * lifecycle.h, whose handle_state calls note_handshake.
 */

/* The first SYN-ACK's time of each request socket whose SYN-ACK was sent
 * again, for its connect_us once the accepted socket exists (see
 * note_handshake). Keyed by what the request and the socket made from it
 * both have: namespace, ports and this end's initial sequence number (the
 * addresses of a request for an IPv4 SYN on an IPv6 listener are not
 * where the v4-mapped socket has them). LRU: a request that never becomes
 * a socket (a SYN flood's) leaves its entry to be pushed out. */
struct synack_key {
	__u32 netns;
	__u32 isn;   /* tcp_rsk(req)->snt_isn; the socket's snd_una - 1 */
	__u16 lport; /* host order */
	__u16 rport; /* network order, as skc_dport */
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, struct synack_key);
	__type(value, __u64); /* snt_synack, microseconds of CLOCK_MONOTONIC */
} synacks SEC(".maps");

/* tcp_rtx_synack fires the tracepoint after each SYN-ACK sent again, by
 * the request's timer or for a SYN received again (4.15+; the same in
 * 5.10, 6.1, 6.12 and 7.x: net/ipv4/tcp_output.c). snt_synack is set once,
 * by tcp_make_synack for the first SYN-ACK ("Timestamp first SYNACK"),
 * to the SYN-ACK's tcp_clock_ns()/1000: the clock of bpf_ktime_get_ns.
 * Runs only when a SYN-ACK is resent. */
SEC("tp_btf/tcp_retransmit_synack")
int BPF_PROG(tcptop_synack_again, const struct sock *sk, const struct request_sock *req)
{
	const struct tcp_request_sock *treq = (const struct tcp_request_sock *)req;
	struct synack_key k = {
		.netns = sock_netns_btf(sk),
		.isn = BPF_CORE_READ(treq, snt_isn),
		.lport = BPF_CORE_READ(req, __req_common.skc_num),
		.rport = BPF_CORE_READ(req, __req_common.skc_dport),
	};
	__u64 first = BPF_CORE_READ(treq, snt_synack);
	if (first)
		bpf_map_update_elem(&synacks, &k, &first, BPF_ANY);
	return 0;
}

/* first_synack returns (and forgets) the first SYN-ACK's time of the
 * request sk was made from, 0 if tcptop_synack_again did not note it. */
static __always_inline __u64 first_synack(const struct sock *sk, const struct tcp_sock *tp)
{
	struct synack_key k = {
		.netns = sock_netns_btf(sk),
		.isn = tp->snd_una - 1,
		.lport = sk->__sk_common.skc_num,
		.rport = sk->__sk_common.skc_dport,
	};
	__u64 *first = bpf_map_lookup_elem(&synacks, &k);
	__u64 t = first ? *first : 0;
	if (first)
		bpf_map_delete_elem(&synacks, &k);
	return t;
}

/* note_handshake records how a connection tcptop saw open got through its
 * handshake: how many SYNs (out) or SYN-ACKs (in) the kernel sent again,
 * and how long it took. Called with c->state still the state before this
 * change, so that the second program of the pair (tcptop_state_again),
 * which sees the first one's c->state, changes nothing. Only at state
 * changes: the send/receive hooks do no more work than before.
 *
 * Out (connect()): connect_us is from entering SYN_SENT, in the calling
 * task right before tcp_connect() sends the SYN (tcp_v4_connect,
 * tcp_v6_connect), to ESTABLISHED (tcp_finish_connect, in the softirq that
 * took the SYN-ACK). syn_retrans is tp->total_retrans at that point: the
 * only segment in flight in SYN_SENT is the SYN, and tcp_retransmit_timer
 * resends it through tcp_retransmit_skb, which adds each resent segment
 * to total_retrans (5.10, 6.1, 6.12, 7.x: net/ipv4/tcp_output.c).
 * A connect that fails (SYN_SENT to CLOSE: refused, timed out) keeps its
 * syn_retrans, with no connect_us.
 *
 * In (accepted): the child socket is made at the third ACK from the
 * request socket, and tcp_create_openreq_child copies the request's
 * num_retrans (the SYN-ACKs resent) into its total_retrans
 * (net/ipv4/tcp_minisocks.c, 5.10 to 7.x); the child is ESTABLISHED before
 * it can send anything, so total_retrans is still that count here.
 * connect_us is the kernel's own measure of the handshake, from the first
 * SYN-ACK (tcp_rsk(req)->snt_synack, stamped as tcp_conn_request sends it
 * in the softirq that took the SYN) to the ACK that made the child:
 * tcp_check_req calls tcp_synack_rtt_meas(child, req), which, when no
 * SYN-ACK was resent, gives the child its first RTT sample, so srtt_us is
 * that time << 3 (tcp_rtt_estimator). With a SYN-ACK resent the kernel
 * takes no such sample (the echoed timestamp's, if any, is from the last
 * SYN-ACK, and retrans_stamp, which holds the first one's time in ms, is
 * zeroed by tcp_rcv_state_process before the state changes): the first
 * SYN-ACK's own time, snt_synack, noted at its resend by
 * tcptop_synack_again, gives it; without that program (refused), not
 * set. The child's snd_una is snt_isn + 1 (tcp_create_openreq_child) and
 * the ACK that made it acknowledged only the SYN-ACK. */
static __always_inline void note_handshake(struct sock *sk, struct tcp_conn *c, int oldstate, int newstate)
{
	if (!(c->flags & CONN_OPEN_SEEN))
		return;
	if (newstate == TCP_SYN_SENT) {
		if (c->state != TCP_SYN_SENT) { /* a socket may connect again after a failed connect */
			c->syn_ns = bpf_ktime_get_ns();
			c->flags &= ~(CONN_SYNS | CONN_CONNECT_TIMED);
		}
		return;
	}
	if ((c->flags & CONN_SYNS) || c->state != oldstate)
		return;
	bool out = oldstate == TCP_SYN_SENT && c->syn_ns;
	bool in = oldstate == TCP_SYN_RECV && newstate == TCP_ESTABLISHED;
	if (!out && !in)
		return;
	const struct tcp_sock *tp = bpf_skc_to_tcp_sock(sk);
	if (!tp)
		return;
	__u32 n = tp->total_retrans;
	c->syn_retrans = n > 255 ? 255 : n;
	c->flags |= CONN_SYNS;
	if (newstate != TCP_ESTABLISHED)
		return;
	__u64 us, first;
	if (out)
		us = (bpf_ktime_get_ns() - c->syn_ns) / 1000;
	else if (n == 0)
		us = tp->srtt_us >> 3;
	else if ((first = first_synack(sk, tp)))
		us = bpf_ktime_get_ns() / 1000 - first;
	else
		return;
	c->connect_us = us > 0xffffffff ? 0xffffffff : (__u32)us;
	c->flags |= CONN_CONNECT_TIMED;
}
