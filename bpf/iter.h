/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The per-tick reads, as BPF iterators (Linux 5.9+) that userspace reads
 * like a file: each writes one struct conn_record per connection it has
 * news of. Included once by tcptop.bpf.c.
 *
 * A tick costs what moved, not what exists: the send, receive and state
 * hooks put a connection on the hot list, tcptop_hot re-reads only those,
 * and tcptop_sweep walks every TCP socket only once every few ticks (and
 * at start, to find the connections older than tcptop).
 */

/* in_flight: the socket still has data or a FIN the peer has not
 * acknowledged, so its counters will move without any call. */
static __always_inline bool in_flight(const struct sock *sk)
{
	const struct tcp_sock *tp = (const struct tcp_sock *)sk;
	return BPF_CORE_READ(tp, snd_una) != BPF_CORE_READ(tp, write_seq);
}

/* write_record writes a struct conn_record from a table entry without
 * copying it to the stack: the two writes of one run of a program stand
 * or fall together. */
static __always_inline void write_record(struct seq_file *seq, __u64 cookie, const struct tcp_conn *c)
{
	bpf_seq_write(seq, &cookie, sizeof(cookie));
	bpf_seq_write(seq, (void *)c, sizeof(*c));
}

/* keep_hot puts a connection that the sweep or the table read found with
 * data in flight on the hot list, as a send would have: one older than
 * tcptop, or one whose sends went unseen (the list overflowed), is then
 * re-read every tick while the data waits, like one tcptop saw send.
 * Without it a stalled sender (a receiver that stopped reading) was read
 * only when a window probe moved its counters, and its limit, measured
 * between two reads, was missing from most ticks. c is 0 for a
 * connection without a table entry. */
static __always_inline void keep_hot(struct tcp_conn *c, __u64 cookie, const struct sock *sk)
{
	/* Not one whose close was handed over while this read looked at it
	 * (its FIN was in flight): back on the list, it would come back as
	 * a connection of its own. */
	if (in_flight(sk) && !closed_lately(cookie))
		hot_mark_probe(c, cookie, sk);
}

static __always_inline __u64 cookie_at(const struct sock *sk)
{
	return BPF_CORE_READ(sk, __sk_common.skc_cookie.counter);
}

/* released tells whether the socket a hook saw at sk, under this cookie,
 * is gone. TCP sockets come from caches freed by RCU rule
 * (SLAB_TYPESAFE_BY_RCU): the last sock_put leaves the memory a struct
 * sock with its reference count at 0 (and its cookie in place) until
 * another socket takes it, which zeroes the cookie (sk_alloc asks for
 * zeroed memory) before it gets one of its own. The close programs run
 * before that last sock_put (tcp_destroy_sock fires in
 * inet_csk_destroy_sock, which still holds it).
 *
 * The type is kept only for readers inside one RCU grace period: a read a
 * tick later may find the slab's pages given back and used for anything,
 * with some of the old socket left. Seen on 6.18 under churn: six freed
 * sockets, all at the same offset of their slab, kept their cookie while
 * something else wrote over the reference count, and passed for live for
 * good. So a socket is also gone when its memory says CLOSE and orphaned
 * (SOCK_DEAD): every TCP socket is freed in that state. A live one is in
 * it only for the moment between its last state change (or its orphaning)
 * and its release program (tcp_done, tcp_close), so close_missed takes a
 * dying socket for freed only when it is still dying a tick later. */
enum sock_fate {
	SOCK_LIVE,
	SOCK_RELEASED, /* its cookie or its reference count says so */
	SOCK_DYING,    /* CLOSE and orphaned: freed, or inside its release */
};

static __always_inline enum sock_fate sock_fate(const struct sock *sk, __u64 cookie)
{
	if (cookie_at(sk) != cookie || BPF_CORE_READ(sk, __sk_common.skc_refcnt.refs.counter) == 0)
		return SOCK_RELEASED;
	if (BPF_CORE_READ(sk, __sk_common.skc_state) != TCP_CLOSE)
		return SOCK_LIVE;
	unsigned long flags = BPF_CORE_READ(sk, __sk_common.skc_flags);
	return flags & (1UL << bpf_core_enum_value(enum sock_flags, SOCK_DEAD)) ? SOCK_DYING : SOCK_LIVE;
}

static __always_inline bool released(const struct sock *sk, __u64 cookie)
{
	return sock_fate(sk, cookie) != SOCK_LIVE;
}

/* close_missed closes a table entry whose socket was released while the
 * entry stayed: the close programs never handled it. Under preemption
 * (Linux 7.x's lazy model) the kernel skips a tracing program on a CPU
 * where a preempted task is inside it, and both programs of the release
 * pair can be skipped for one close (7.3 under churn: a few closes in a
 * thousand). Released sockets get no more calls, so the entry's counters
 * are its last: it is marked closed in place, like a close that found the
 * ring buffer full, and read and reported by the hot list. True when the
 * entry is (now) a close to report. A release that ran noted the cookie
 * before its last sock_put: then the entry is its own, being deleted. */
static __always_inline bool close_missed(__u64 cookie, struct tcp_conn *c, enum sock_fate fate)
{
	if (c->flags & CONN_CLOSED)
		return true;
	if (!c->sk || closed_lately(cookie))
		return false;
	if (fate == SOCK_DYING) {
		/* Perhaps a live socket whose release program is about to
		 * run: taken for freed only if still dying a tick later. */
		__u32 now = tick;
		if (!c->dying_tick) {
			c->dying_tick = now;
			return false;
		}
		if (c->dying_tick + 2 > now)
			return false;
	}
	/* The release program may be running on another CPU now: whoever
	 * notes the cookie first makes the close, the other does nothing
	 * (two records for one close, seen under TCG when a read landed
	 * between a socket's orphaning and its release). */
	if (!claim_close(cookie))
		return false;
	c->end_ns = bpf_ktime_get_ns();
	c->state = TCP_CLOSE;
	c->flags |= CONN_CLOSED;
	__sync_fetch_and_add(&closes_inferred, 1);
	return true;
}

/* An iterator program may run more than once for the same element: when
 * its record does not fit in what is left of the read, the kernel drops
 * the record and shows the element again at the next read. So these
 * programs change nothing that would make a second run write something
 * else: tcptop_hot does not delete what it reports; userspace does, after
 * the read. */

/* What one re-read of a hot socket found (hot_check). */
enum hot_verdict {
	HOT_CLOSED,    /* closed while the ring buffer was full: the entry is the record */
	HOT_GONE,      /* released: only the cookie is reported */
	HOT_UNTRACKED, /* no table entry: the record was built from the socket */
	HOT_TRACKED,   /* the entry was refreshed from the socket */
	HOT_BUSY,      /* its entry is being filled in: nothing to report yet */
};

/* hot_check re-reads one socket of the hot list through the address the
 * hooks saved, for both ways of reading the list (the iterator and the
 * walker below). A socket is read only while its cookie is still the one
 * the hooks saw: once released (its close went through the ring buffer)
 * the memory may hold another socket. It refreshes the table entry *c in
 * place, or fills u for a connection without one, and sets *cool for a
 * socket that no call touched in this tick or the last one, with nothing
 * in flight, for userspace to take off the list. */
static __always_inline enum hot_verdict hot_check(__u64 cookie, const struct hot_sock *h, struct tcp_conn **cp,
						  struct tcp_conn *u, bool *cool)
{
	struct tcp_conn *c = bpf_map_lookup_elem(&tcp_conns, &cookie);
	*cp = c;
	if (c && (c->flags & CONN_CLOSED))
		return HOT_CLOSED;
	/* Closed and handed over, but put back on the list by a read that
	 * raced the close (keep_hot): its socket, not yet freed, would be
	 * read as a connection without an entry, a second one. */
	if (!c && closed_lately(cookie))
		return HOT_GONE;
	/* The entry's address, not the list's: a list element replaced by a
	 * hook's update goes back to the allocator and may be taken at once
	 * for another cookie while this read still holds it (BPF hash maps
	 * reuse elements without waiting for readers), so h->sk may be
	 * another socket's, which this cookie would take for released. An
	 * entry changes in place and goes only at its close (noted first). */
	const struct sock *sk = (const struct sock *)(c ? c->sk : h->sk);
	if (c && !sk)
		return HOT_BUSY; /* just inserted by a hook on another CPU */
	enum sock_fate fate = sock_fate(sk, cookie);
	if (fate == SOCK_LIVE) {
		if (c)
			snapshot_probe(sk, c);
		else
			fill_untracked_probe(sk, u);
		fate = sock_fate(sk, cookie); /* perhaps released while being read */
	}
	if (fate != SOCK_LIVE) {
		if (c && close_missed(cookie, c, fate))
			return HOT_CLOSED;
		/* Dying, not yet taken for freed: stays on the list, for its
		 * release program to close or the next read to look again. */
		return c && fate == SOCK_DYING && !closed_lately(cookie) ? HOT_BUSY : HOT_GONE;
	}
	__u32 seen = c ? c->hot_tick : 0;
	*cool = !(c && seen && seen + 2 >= tick) && !in_flight(sk);
	return c ? HOT_TRACKED : HOT_UNTRACKED;
}

/* tcptop_hot reads the hot list as a BPF iterator over its elements. */
SEC("iter/bpf_map_elem")
int tcptop_hot(struct bpf_iter__bpf_map_elem *ctx)
{
	__u64 *key = ctx->key;
	struct hot_sock *h = ctx->value;
	if (!key || !h)
		return 0;
	__u64 cookie = *key;
	struct seq_file *seq = ctx->meta->seq;
	struct conn_record r = {.cookie = cookie};
	struct tcp_conn *c;
	bool cool = false;
	switch (hot_check(cookie, h, &c, &r.conn, &cool)) {
	case HOT_CLOSED:
		write_record(seq, cookie, c);
		return 0;
	case HOT_GONE:
		__builtin_memset(&r.conn, 0, sizeof(r.conn));
		r.conn.flags = CONN_GONE;
		bpf_seq_write(seq, &r, sizeof(r));
		return 0;
	case HOT_UNTRACKED:
		r.conn.flags |= cool ? CONN_COOL : 0;
		bpf_seq_write(seq, &r, sizeof(r));
		return 0;
	case HOT_TRACKED:
		break;
	case HOT_BUSY:
		return 0;
	}
	if (!c)
		return 0;
	/* The flag goes into the record, not the entry: written by hand. */
	__u8 flags = c->flags | (cool ? CONN_COOL : 0);
	bpf_seq_write(seq, &cookie, sizeof(cookie));
	bpf_seq_write(seq, (void *)c, offsetof(struct tcp_conn, flags));
	bpf_seq_write(seq, &flags, 1);
	bpf_seq_write(seq, (void *)&c->direction, sizeof(*c) - offsetof(struct tcp_conn, direction));
	return 0;
}

/* tcptop_sweep visits every TCP socket of the network namespace it was
 * opened in: at start, in every namespace, it adds the connections older
 * than tcptop to the table; later (in tcptop's namespace, while the table
 * is full) it reports those it cannot hold. It also reports connections
 * whose counters moved since last reported. Listeners, which the kernel
 * walks first, are noted, so that a connection older than tcptop on a
 * listening port counts as accepted. */
SEC("iter/tcp")
int tcptop_sweep(struct bpf_iter__tcp *ctx)
{
	struct sock_common *skc = ctx->sk_common;
	if (!skc)
		return 0;
	__u8 state = skc->skc_state;
	if (state == TCP_LISTEN) {
		struct listener l = {.netns = sock_netns_btf((const struct sock *)skc), .port = skc->skc_num};
		__u8 one = 1;
		bpf_map_update_elem(&listeners, &l, &one, BPF_ANY);
		return 0;
	}
	/* Timewait and request minisockets, and unconnected sockets, are not
	 * connections with counters of their own. */
	if (state == TCP_TIME_WAIT || state == TCP_NEW_SYN_RECV || state == TCP_CLOSE)
		return 0;
	const struct sock *sk = (const struct sock *)bpf_skc_to_tcp_sock(skc);
	if (!sk)
		return 0;
	__u64 cookie = sock_cookie_btf(sk);
	if (!cookie)
		return 0;
	__u32 now = tick;
	struct seq_file *seq = ctx->meta->seq;
	struct tcp_conn *c = bpf_map_lookup_elem(&tcp_conns, &cookie);
	if (!c) {
		/* Closed while this sweep ran (the state read above was from
		 * before the close): the release took it out of the table after
		 * noting it. Added back, with its lifetime bytes as a baseline,
		 * it would be reported open again and, once gone, closed a
		 * second time (one run of 6.1: 41 closes for 40 connections). */
		if (closed_lately(cookie))
			return 0;
		c = tcp_conn_new_btf(sk, cookie, 0, 0, 0);
		if (c && closed_lately(cookie)) {
			/* ... and a release between the check and the insert. */
			if (!bpf_map_delete_elem(&tcp_conns, &cookie))
				__sync_fetch_and_add(&tcp_deleted, 1);
			return 0;
		}
		if (c) {
			struct listener l = {.netns = c->netns, .port = c->tuple.sport};
			if (bpf_map_lookup_elem(&listeners, &l))
				c->direction = DIR_IN;
			c->sweep_tick = now;
			write_record(seq, cookie, c);
		} else {
			struct conn_record r = {.cookie = cookie};
			fill_untracked_btf(sk, &r.conn);
			bpf_seq_write(seq, &r, sizeof(r));
		}
		keep_hot(c, cookie, sk);
		return 0;
	}
	keep_hot(c, cookie, sk);
	/* Report what moved since the connection was last reported, and
	 * again what this sweep reported already (a second run, see above). */
	const struct tcp_sock *tp = (const struct tcp_sock *)sk;
	if (c->sweep_tick != now && tp->segs_in == c->segs_in && tp->segs_out == c->segs_out &&
	    (tp->srtt_us >> 3) == c->srtt_us && tp->total_retrans == c->total_retrans && state == c->state)
		return 0;
	snapshot_btf(sk, c);
	c->sweep_tick = now;
	write_record(seq, cookie, c);
	return 0;
}

/* refresh_due tells whether a table entry's connection moved without any
 * call on it (segments for an application that is not reading,
 * keepalives, retransmissions), changing nothing. Its socket is read
 * through the address saved in the entry, only while it still has the
 * entry's cookie. A walker (again set) skips what an earlier pass of this
 * tick reported already; an iterator's rerun must report it again (see
 * above). */
static __always_inline bool refresh_due(__u64 cookie, struct tcp_conn *c, bool again)
{
	const struct sock *sk = (const struct sock *)c->sk;
	if (c->flags & CONN_CLOSED) {
		/* A close kept in the table is reported by the hot-list read,
		 * which deletes it. Still here, its key may have left the
		 * list: a close that found the ring buffer full between a
		 * read that found the socket idle and userspace taking the
		 * idle off the list. Back on, once more. */
		hot_once_probe(cookie, sk);
		return false;
	}
	enum sock_fate fate = sock_fate(sk, cookie);
	if (fate != SOCK_LIVE) {
		/* Its close is on its way, or was skipped: then it is made
		 * here, for this tick's hot list read to report. A dying one
		 * goes on the list for the hot read to look at again. */
		if (close_missed(cookie, c, fate) || fate == SOCK_DYING)
			hot_once_probe(cookie, sk);
		return false;
	}
	__u32 now = tick;
	if (c->sweep_tick == now)
		return !again;
	const struct tcp_sock *tp = (const struct tcp_sock *)sk;
	return BPF_CORE_READ(tp, segs_in) != c->segs_in || BPF_CORE_READ(tp, segs_out) != c->segs_out ||
	       (BPF_CORE_READ(tp, srtt_us) >> 3) != c->srtt_us || BPF_CORE_READ(tp, total_retrans) != c->total_retrans ||
	       BPF_CORE_READ(sk, __sk_common.skc_state) != c->state;
}

/* refresh_take re-reads a due entry in place and marks it reported in this
 * tick; false if its socket was released meanwhile. */
static __always_inline bool refresh_take(__u64 cookie, struct tcp_conn *c)
{
	const struct sock *sk = (const struct sock *)c->sk;
	snapshot_probe(sk, c);
	if (released(sk, cookie))
		return false; /* the next read closes it (refresh_due) */
	c->sweep_tick = tick;
	keep_hot(c, cookie, sk);
	return true;
}

/* tcptop_refresh walks the table (every namespace, hashed or not), every
 * few seconds, as a BPF iterator: it reports each connection whose
 * counters moved, and writes nothing else and deletes nothing. */
SEC("iter/bpf_map_elem")
int tcptop_refresh(struct bpf_iter__bpf_map_elem *ctx)
{
	__u64 *key = ctx->key;
	struct tcp_conn *c = ctx->value;
	if (!key || !c)
		return 0;
	if (refresh_due(*key, c, false) && refresh_take(*key, c))
		write_record(ctx->meta->seq, *key, c);
	return 0;
}

/* ---- The walkers: the same two reads without map-element iterators ----
 * Some kernels refuse iter/bpf_map_elem programs (6.18.44 here: EPERM at
 * load, even for a program that does nothing). There userspace runs these
 * raw_tp programs with BPF_PROG_TEST_RUN instead (raw_tp test runs: 5.10+;
 * bpf_for_each_map_elem: 5.13+). They walk the map with
 * bpf_for_each_map_elem and hand the same records over a ring buffer of
 * their own. When it fills, the walk stops and sets walk_more; userspace
 * drains it and runs the walker again, which skips what this tick's
 * earlier passes handled (a hot socket's walked, an entry's sweep_tick):
 * every element is reported once per tick, however small the buffer. */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	/* About 750 records a pass: a hot list longer than that takes more
	 * passes, each skipping what the last reported; a larger buffer
	 * would count in tcptop's RSS twice (the kernel maps the data pages
	 * twice, for records that wrap). */
	__uint(max_entries, 256 * 1024);
} walk_out SEC(".maps");

/* Set by a walker whose pass stopped at a full walk_out. */
__u32 walk_more = 0;

static long walk_hot_one(void *map, __u64 *key, struct hot_sock *h, void *ctx)
{
	__u64 cookie = *key;
	__u32 now = tick;
	if (h->walked == now || !have_ringbuf)
		return 0;
	struct conn_record *r = bpf_ringbuf_reserve(&walk_out, sizeof(*r), 0);
	if (!r) {
		walk_more = 1;
		return 1;
	}
	__builtin_memset(r, 0, sizeof(*r));
	r->cookie = cookie;
	struct tcp_conn *c;
	bool cool = false;
	switch (hot_check(cookie, h, &c, &r->conn, &cool)) {
	case HOT_CLOSED:
		if (c)
			r->conn = *c;
		break;
	case HOT_GONE:
		__builtin_memset(&r->conn, 0, sizeof(r->conn));
		r->conn.flags = CONN_GONE;
		break;
	case HOT_UNTRACKED:
		r->conn.flags |= cool ? CONN_COOL : 0;
		break;
	case HOT_TRACKED:
		if (c) {
			r->conn = *c;
			r->conn.flags |= cool ? CONN_COOL : 0;
		}
		break;
	case HOT_BUSY:
		h->walked = now;
		bpf_ringbuf_discard(r, 0);
		return 0;
	}
	h->walked = now;
	bpf_ringbuf_submit(r, 0);
	return 0;
}

SEC("raw_tp")
int tcptop_walk_hot(void *ctx)
{
	walk_more = 0;
	bpf_for_each_map_elem(&hot, walk_hot_one, 0, 0);
	return 0;
}

static long walk_table_one(void *map, __u64 *key, struct tcp_conn *c, void *ctx)
{
	__u64 cookie = *key;
	if (!have_ringbuf)
		return 1;
	if (!refresh_due(cookie, c, true))
		return 0;
	/* Room before the re-read: an entry re-read but not reported would
	 * look unmoved to the next pass. (A discarded record keeps its room
	 * until the reader passes it, so only a race discards.) */
	struct conn_record *r = bpf_ringbuf_reserve(&walk_out, sizeof(*r), 0);
	if (!r) {
		walk_more = 1;
		return 1;
	}
	if (!refresh_take(cookie, c)) {
		bpf_ringbuf_discard(r, 0);
		return 0;
	}
	r->cookie = cookie;
	r->conn = *c;
	bpf_ringbuf_submit(r, 0);
	return 0;
}

SEC("raw_tp")
int tcptop_walk_table(void *ctx)
{
	walk_more = 0;
	bpf_for_each_map_elem(&tcp_conns, walk_table_one, 0, 0);
	return 0;
}

static __always_inline void owner_from_task(struct tcp_conn *c, const struct task_struct *task)
{
	c->pid = task->tgid;
	note_owning(c->pid);
	__builtin_memcpy(c->comm, task->comm, TCPTOP_COMM_LEN);
	c->uid = task->cred->uid.val;
	c->cgroup_id = task->cgroups->dfl_cgrp->kn->id;
}

/* tcptop_owners finds the process holding each socket in `wanted` (those
 * no process has sent or received on since tcptop started: accepted but
 * not yet used, or idle since before tcptop), as ss -p does through
 * /proc, in one pass over every open file. The first process found
 * holding it is its owner. bpf_sock_from_file needs 5.11; without it
 * userspace reads /proc. Writes the record of each connection found, with
 * its owner (userspace keeps the first owner, and keeps the owner of a
 * connection without a table entry). */
SEC("iter/task_file")
int tcptop_owners(struct bpf_iter__task_file *ctx)
{
	struct task_struct *task = ctx->task;
	struct file *file = ctx->file;
	/* Threads share their leader's files; an exiting process's are about
	 * to be closed (the owner that exited, whose sockets are looked for). */
	if (!task || !file || task->pid != task->tgid || (task->flags & PF_EXITING))
		return 0;
	struct socket *sock = bpf_sock_from_file(file);
	if (!sock)
		return 0;
	struct sock *sk = sock->sk;
	if (!sk)
		return 0;
	__u64 cookie = sk->__sk_common.skc_cookie.counter;
	__u8 *want = cookie ? bpf_map_lookup_elem(&wanted, &cookie) : 0;
	if (!want)
		return 0;
	struct tcp_conn *c = bpf_map_lookup_elem(&tcp_conns, &cookie);
	if (c) {
		/* The first process found owns it; an owner that exited is
		 * replaced by it. */
		if (!c->pid || *want == WANT_NEW_OWNER) {
			owner_from_task(c, task);
			*want = WANT_OWNER;
		}
		write_record(ctx->meta->seq, cookie, c);
		return 0;
	}
	/* Read through probes, not bpf_skc_to_tcp_sock: the verifier of 6.18
	 * and later takes sock->sk for an untrusted pointer, which that
	 * helper refuses ("R1 type=untrusted_ptr_"); 6.12 accepted it. */
	struct conn_record r = {.cookie = cookie};
	fill_untracked_probe(sk, &r.conn);
	owner_from_task(&r.conn, task);
	bpf_seq_write(ctx->meta->seq, &r, sizeof(r));
	return 0;
}
