/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Retransmits told apart by kind. Included once by tcptop.bpf.c, before
 * lifecycle.h, whose state and release handlers catch up too.
 *
 * What is counted is the kernel's own per-connection count, tcp_sock's
 * total_retrans (segments, what tcp_info and `retrans` report): each
 * time it grows, the growth is given the kind of the retransmit that made
 * it. So the kinds sum to total_retrans's growth exactly, whatever
 * the hook misses: a missed run (the kernel skips a tracing program that
 * interrupts itself on a CPU) or a retransmit the tracepoint does not
 * report (where trace_tcp_retransmit_skb has no err argument it fires
 * only when the transmit succeeded, while __tcp_retransmit_skb adds to
 * total_retrans before it transmits) is counted with the next retransmit of the
 * connection, or at its next state change or close.
 *
 * The kind is read from the socket in the tracepoint, which
 * __tcp_retransmit_skb fires under the socket's lock:
 *   RTO: icsk_ca_state is TCP_CA_Loss. tcp_retransmit_timer calls
 *     tcp_enter_loss, which sets it, before it resends the head; what
 *     tcp_xmit_retransmit_queue resends in CA_Loss afterwards is the rest
 *     of the window the timeout marked lost (the kernel's own
 *     LINUX_MIB_TCPSLOWSTARTRETRANS, as opposed to TCPFASTRETRANS). A
 *     SYN's retransmits go the same way; a SYN-ACK's (the timer of the
 *     request socket, inet_rtx_syn_ack) reach the connection through
 *     tcp_create_openreq_child (total_retrans = req->num_retrans) and
 *     are given this kind when it becomes ESTABLISHED.
 *   TLP: not in CA_Loss or CA_Recovery, and the pending timer is
 *     ICSK_TIME_LOSS_PROBE: tcp_write_timer_handler leaves icsk_pending
 *     set while it runs tcp_send_loss_probe, which resends the last
 *     segment when it has no new data to send (tcp_schedule_loss_probe
 *     arms the probe only in CA_Open or CA_CWR; a dupack may move it to
 *     CA_Disorder before it fires). A probe that sends new data is no
 *     retransmit and not counted by the kernel either.
 *   fast: every other retransmit. tcp_fastretrans_alert and
 *     tcp_rack_reo_timeout call tcp_enter_recovery (CA_Recovery) before
 *     tcp_xmit_retransmit_queue resends what SACK, dupacks or RACK marked
 *     lost.
 * The retransmit hook costs nothing until a retransmit happens.
 */

#define TCP_CA_Recovery 3 /* enum tcp_ca_state, include/net/tcp.h */
#define TCP_CA_Loss 4
#define ICSK_TIME_LOSS_PROBE 5 /* include/net/inet_connection_sock.h */

/* retrans_kind_of says why the connection is retransmitting now. tp is
 * the socket as bpf_skc_to_tcp_sock gives it: the verifier lets a
 * program read inet_connection_sock's fields through a tcp_sock, not
 * through the struct sock the tracepoint passes. */
static __always_inline int retrans_kind_of(const struct tcp_sock *tp)
{
	const struct inet_connection_sock *icsk = (const void *)tp;
	__u8 ca = BPF_CORE_READ_BITFIELD(icsk, icsk_ca_state);
	if (ca == TCP_CA_Loss)
		return RETRANS_RTO;
	if (ca != TCP_CA_Recovery && icsk->icsk_pending == ICSK_TIME_LOSS_PROBE)
		return RETRANS_TLP;
	return RETRANS_FAST;
}

/* retrans_catch_up gives the growth of total_retrans since it was last
 * given a kind the kind `kind` (-1: the kind of what the connection is
 * doing now). Callers hold the socket's lock (the retransmit, state
 * change and release tracepoints), so two never race on one connection.
 * tcp_disconnect zeroes total_retrans: the count then starts again from
 * there. */
static __always_inline void retrans_catch_up(const struct sock *sk, struct tcp_conn *c, int kind)
{
	const struct tcp_sock *tp = bpf_skc_to_tcp_sock((void *)sk);
	if (!tp)
		return;
	__u32 total = tp->total_retrans;
	__s32 grew = (__s32)(total - c->retrans_seen);
	c->retrans_seen = total;
	if (grew <= 0)
		return;
	if (kind < 0)
		kind = retrans_kind_of(tp);
	if (kind == RETRANS_RTO)
		c->retrans_kinds[RETRANS_RTO] += grew;
	else if (kind == RETRANS_TLP)
		c->retrans_kinds[RETRANS_TLP] += grew;
	else
		c->retrans_kinds[RETRANS_FAST] += grew;
}

/* tp_btf: (sk, skb), or (sk, skb, err) on kernels that fire it also for
 * a retransmit that failed (6.18 does): total_retrans has then grown only
 * if the transmit itself failed, and the catch-up counts just that. */
SEC("tp_btf/tcp_retransmit_skb")
int BPF_PROG(tcptop_retrans, const struct sock *sk)
{
	__u64 cookie = sock_cookie_btf(sk);
	struct tcp_conn *c = cookie ? bpf_map_lookup_elem(&tcp_conns, &cookie) : 0;
	if (!c)
		return 0; /* not watched yet: its retransmits are in its base when it is */
	retrans_catch_up(sk, c, -1);
	hot_mark_btf(c, cookie, sk);
	return 0;
}
