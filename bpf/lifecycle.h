/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * TCP lifecycle: open and state changes (inet_sock_set_state), and the
 * close (tcp_destroy_sock). Included once by tcptop.bpf.c.
 *
 * The close is the socket's release, not its CLOSE state: a client that
 * half-closes reaches CLOSE as soon as the peer's FIN arrives, and then
 * still reads what the peer sent; an orphan in FIN_WAIT2 hands over to a
 * timewait minisocket with the same cookie. tcp_destroy_sock fires once,
 * after the last call on the socket, so the close record carries every
 * byte, and the table entry goes with it: nothing is left behind.
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

/* handle_state runs twice per state change, from two programs (see
 * tcptop_state below). Running it again for the same change does nothing
 * more: the entry exists then, and every update sets what the first set
 * (a socket's changes do not interleave: process context holds its lock,
 * and the softirq defers to it). */
static __always_inline int handle_state(struct sock *sk, int oldstate, int newstate)
{
	/* Listening sockets are not connections. A child socket is cloned
	 * from its listener, so it enters SYN_RECV "from" LISTEN: on 5.10 (at least)
	 * with the listener's cookie still in it (inet_csk_clone_lock sets
	 * the state before it gives the child a cookie of its own) and no
	 * peer port yet. The child gets its entry when it becomes
	 * ESTABLISHED, with its own cookie (sockops names it just before). */
	if (newstate == TCP_LISTEN || oldstate == TCP_LISTEN || (oldstate == TCP_CLOSE && newstate == TCP_CLOSE))
		return 0;
	if (sock_proto_btf(sk) != IPPROTO_TCP)
		return 0;
	__u64 cookie = sock_cookie_btf(sk);
	if (!cookie)
		return 0; /* an accepted child before sockops named it, see below */
	struct tcp_conn *c = bpf_map_lookup_elem(&tcp_conns, &cookie);
	if (!c) {
		bool opening = newstate == TCP_SYN_SENT || newstate == TCP_SYN_RECV ||
			       (newstate == TCP_ESTABLISHED && oldstate == TCP_SYN_RECV);
		/* Otherwise a connection older than tcptop changed state. */
		c = tcp_conn_new_btf(sk, cookie, opening ? CONN_OPEN_SEEN : 0, 0, 0);
		if (!c) {
			hot_mark_btf(0, cookie, sk);
			return 0;
		}
	}
	/* connect() enters SYN_SENT, and close() or shutdown() FIN_WAIT1 or
	 * LAST_ACK, in the calling task; every other transition may run in
	 * softirq on behalf of another task. A close names the owner only of
	 * a connection that had none (older than tcptop, never used since). */
	if (newstate == TCP_SYN_SENT ||
	    ((newstate == TCP_FIN_WAIT1 || newstate == TCP_LAST_ACK) && !c->pid))
		set_owner(c);
	if (newstate == TCP_SYN_SENT)
		c->direction = DIR_OUT;
	else if (newstate == TCP_SYN_RECV || (newstate == TCP_ESTABLISHED && oldstate == TCP_SYN_RECV))
		c->direction = DIR_IN;
	/* A connection that fails (refused, timed out, unreachable, reset)
	 * reaches CLOSE right after the kernel sets its error, before the
	 * application reads (and clears) it. */
	if (newstate == TCP_CLOSE && sk->sk_err && !c->err)
		c->err = sk->sk_err;
	/* The counters as they are when the connection ends, before a
	 * tcp_disconnect zeroes them (see snapshot). */
	note_handshake(sk, c, oldstate, newstate);
	if (newstate == TCP_CLOSE)
		snapshot_btf(sk, c);
	c->state = newstate;
	/* connect() enters SYN_SENT before it picks the local port (CLOSE
	 * gives it back, but read_tuple finds it in inet_sport). */
	if (c->tuple.sport == 0 || c->tuple.dport == 0)
		read_tuple_btf(sk, &c->tuple);
	hot_mark_btf(c, cookie, sk);
	return 0;
}

/* The kernel runs a tracing program at most once at a time per CPU: a
 * release in a softirq (a FIN that ends TIME_WAIT's wait) that interrupts
 * the same program handling a release in process context (close()) is
 * skipped, counted only in the program's recursion misses, and that close
 * would be lost (seen in the emulated arm64 guests: 5 of 200). Under lazy
 * preemption (Linux 7.x, and 6.19's tracepoints) a task preempted inside
 * the program has the same effect on every other task on that CPU (seen:
 * up to 20 skipped releases in a test on 7.3). So the release has two
 * programs with one body: each handles what the other has not, and the
 * cookies handled lately say which. They are kept in a hash shared by
 * every CPU, not per CPU: a preempted task may move to another CPU
 * between the two programs. Cookies are unique while the system runs. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, __u64); /* socket cookie */
	__type(value, __u8);
} recent_closes SEC(".maps");

static __always_inline bool closed_lately(__u64 cookie)
{
	return bpf_map_lookup_elem(&recent_closes, &cookie) != 0;
}

static __always_inline void note_closed(__u64 cookie)
{
	__u8 one = 1;
	bpf_map_update_elem(&recent_closes, &cookie, &one, BPF_ANY);
}

/* handle_closed hands the final record to userspace and forgets the
 * connection. If the ring buffer is full, the record stays in the table
 * marked closed, on the hot list, so it is still read and reported. */
static __always_inline int handle_closed(struct sock *sk)
{
	if (sock_proto_btf(sk) != IPPROTO_TCP)
		return 0;
	__u64 cookie = sock_cookie_btf(sk);
	if (!cookie || closed_lately(cookie))
		return 0;
	struct tcp_conn *c = bpf_map_lookup_elem(&tcp_conns, &cookie);
	/* A socket that never connected (or a listener) is no connection. */
	if (!c && sk->__sk_common.skc_dport == 0)
		return 0;
	note_closed(cookie);
	struct conn_record *r = have_ringbuf ? bpf_ringbuf_reserve(&events, sizeof(*r), 0) : 0;
	if (!r) {
		if (have_ringbuf)
			__sync_fetch_and_add(&events_lost, 1);
		if (c) {
			snapshot_btf(sk, c);
			c->end_ns = bpf_ktime_get_ns();
			c->flags |= CONN_CLOSED;
			if (close_at_state)
				c->state = TCP_CLOSE; /* the tracepoint fires before the change */
			hot_once_btf(cookie, sk);
		}
		return 0;
	}
	r->cookie = cookie;
	if (c) {
		r->conn = *c;
		snapshot_btf(sk, &r->conn);
		if (!r->conn.err)
			r->conn.err = sk->sk_err;
	} else {
		__builtin_memset(&r->conn, 0, sizeof(r->conn));
		fill_untracked_btf(sk, &r->conn);
	}
	r->conn.flags |= CONN_CLOSED;
	if (close_at_state)
		r->conn.state = TCP_CLOSE;
	r->conn.end_ns = bpf_ktime_get_ns();
	if (c && !bpf_map_delete_elem(&tcp_conns, &cookie))
		__sync_fetch_and_add(&tcp_deleted, 1);
	bpf_map_delete_elem(&hot, &cookie);
	bpf_ringbuf_submit(r, 0);
	return 0;
}

/* state_changed handles a state change, and where tcp_destroy_sock is
 * refused (close_at_state), reaching CLOSE is the close. */
static __always_inline int state_changed(struct sock *sk, int oldstate, int newstate)
{
	bool closing = close_at_state && newstate == TCP_CLOSE && oldstate != TCP_CLOSE && oldstate != TCP_LISTEN;
	/* The other program of the pair closed it already: handle_state
	 * would only add it back to the table, for good. */
	if (closing && closed_lately(sock_cookie_btf(sk)))
		return 0;
	handle_state(sk, oldstate, newstate);
	if (closing)
		handle_closed(sk);
	return 0;
}

/* Two programs, for the reason the release has two (below): a change in a
 * softirq that interrupts the program's run in process context on the
 * same CPU is skipped by the kernel; the other program handles it. */
SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(tcptop_state, struct sock *sk, int oldstate, int newstate)
{
	bool off = preempt_off();
	state_changed(sk, oldstate, newstate);
	preempt_on(off);
	return 0;
}

SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(tcptop_state_again, struct sock *sk, int oldstate, int newstate)
{
	bool off = preempt_off();
	state_changed(sk, oldstate, newstate);
	preempt_on(off);
	return 0;
}

SEC("tp_btf/tcp_destroy_sock")
int BPF_PROG(tcptop_closed, struct sock *sk)
{
	bool off = preempt_off();
	handle_closed(sk);
	preempt_on(off);
	return 0;
}

SEC("tp_btf/tcp_destroy_sock")
int BPF_PROG(tcptop_closed_again, struct sock *sk)
{
	bool off = preempt_off();
	handle_closed(sk);
	preempt_on(off);
	return 0;
}

/* Resets counted per connection. Both tracepoints exist since 4.15; an
 * RST sent in reply to a segment may have no socket, or a listener's or a
 * minisocket's, which are no connections. */
static __always_inline void count_reset(const struct sock *sk, bool in)
{
	if (!sk)
		return;
	__u8 state = sk->__sk_common.skc_state;
	if (state == TCP_LISTEN || state == TCP_TIME_WAIT || state == TCP_NEW_SYN_RECV)
		return;
	__u64 cookie = sock_cookie_btf(sk);
	struct tcp_conn *c = cookie ? bpf_map_lookup_elem(&tcp_conns, &cookie) : 0;
	if (!c)
		return;
	if (in)
		__sync_fetch_and_add(&c->rst_in, 1);
	else
		__sync_fetch_and_add(&c->rst_out, 1);
	hot_mark_btf(c, cookie, sk);
}

SEC("tp_btf/tcp_receive_reset")
int BPF_PROG(tcptop_rst_in, struct sock *sk)
{
	count_reset(sk, true);
	return 0;
}

SEC("tp_btf/tcp_send_reset")
int BPF_PROG(tcptop_rst_out, const struct sock *sk)
{
	count_reset(sk, false);
	return 0;
}

/* The kernel reports a socket error (a connect refused, timed out or
 * unreachable, a reset) to the application: keep it before the
 * application reads and clears it. 5.13+; older kernels read it at CLOSE,
 * see tcptop_state. */
SEC("tp_btf/inet_sk_error_report")
int BPF_PROG(tcptop_sk_error, const struct sock *sk)
{
	if (sock_proto_btf(sk) != IPPROTO_TCP || !sk->sk_err)
		return 0;
	__u64 cookie = sock_cookie_btf(sk);
	struct tcp_conn *c = cookie ? bpf_map_lookup_elem(&tcp_conns, &cookie) : 0;
	if (c)
		c->err = sk->sk_err;
	return 0;
}

/* A process that owns a connection exited: userspace looks for the
 * process that holds its sockets now (a child it forked them to, which
 * may not use them for a while), so that the dead pid, which the kernel
 * may hand to an unrelated process, stops naming them. The tracepoint
 * fires in each thread's exit; the process is gone with its last thread
 * (signal->live is 0 by then), before its files are closed. */
SEC("tp_btf/sched_process_exit")
int BPF_PROG(tcptop_exit, struct task_struct *task)
{
	__u32 tid = task->pid;
	bpf_map_delete_elem(&calls, &tid); /* the kprobe path's, if any */
	if (task->signal->live.counter)
		return 0;
	__u32 tgid = task->tgid;
	if (!bpf_map_lookup_elem(&owning, &tgid))
		return 0;
	bpf_map_delete_elem(&owning, &tgid);
	__u8 one = 1;
	bpf_map_update_elem(&exited, &tgid, &one, BPF_ANY);
	return 0;
}
