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
	note_handshake(sk, c, oldstate, newstate);
	/* The counters as they are when the connection ends, before a
	 * tcp_disconnect zeroes them (see snapshot). An orphan (closed by
	 * its application, so no call can be in flight) that ends has its
	 * bytes settled here too, not only at its release: where the kernel
	 * skips both release programs (7.3 under churn), the close is found
	 * later from the socket, and a receive whose pair the kernel also
	 * skipped would be missing from it for good. */
	if (newstate == TCP_CLOSE) {
		snapshot_btf(sk, c);
		if (sk->__sk_common.skc_flags & (1UL << bpf_core_enum_value(enum sock_flags, SOCK_DEAD)))
			settle_btf(sk, c);
	}
	/* An accepted connection's SYN-ACK retransmits come with it from its
	 * request socket, with no retransmit of its own (retrans.h). */
	retrans_catch_up(sk, c, oldstate == TCP_SYN_RECV || oldstate == TCP_SYN_SENT ? RETRANS_RTO : -1);
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

/* claim_close notes the cookie closed; false if it was noted already,
 * by the other release program or by a read that found it released
 * (close_missed): exactly one of them makes the close. */
static __always_inline bool claim_close(__u64 cookie)
{
	__u8 one = 1;
	return bpf_map_update_elem(&recent_closes, &cookie, &one, BPF_NOEXIST) == 0;
}

/* handle_closed hands the final record to userspace and forgets the
 * connection. If the ring buffer is full, the record stays in the table
 * marked closed, on the hot list, so it is still read and reported. */
static __always_inline int handle_closed(struct sock *sk)
{
	if (releases_missed || sock_proto_btf(sk) != IPPROTO_TCP)
		return 0;
	__u64 cookie = sock_cookie_btf(sk);
	if (!cookie || closed_lately(cookie))
		return 0;
	struct tcp_conn *c = bpf_map_lookup_elem(&tcp_conns, &cookie);
	/* A socket that never connected (or a listener) is no connection. */
	if (!c && sk->__sk_common.skc_dport == 0)
		return 0;
	if (!claim_close(cookie))
		return 0;
	struct conn_record *r = have_ringbuf ? bpf_ringbuf_reserve(&events, sizeof(*r), 0) : 0;
	if (!r) {
		if (have_ringbuf)
			__sync_fetch_and_add(&events_lost, 1);
		if (c) {
			snapshot_btf(sk, c);
			settle_btf(sk, c);
			retrans_catch_up(sk, c, -1);
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
		settle_btf(sk, &r->conn);
		retrans_catch_up(sk, &r->conn, -1);
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
