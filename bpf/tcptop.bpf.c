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
 * The rest is common to all paths (lifecycle.h, iter.h):
 *   tp_btf/inet_sock_set_state (4.16+): TCP open and state changes.
 *   tp_btf/tcp_destroy_sock (4.15+): the socket is released; the close.
 *   tp_btf/tcp_receive_reset, tcp_send_reset (4.15+): resets counted.
 *   tp_btf/inet_sk_error_report (5.13+, optional): why a connection failed.
 *   tp_btf/tcp_retransmit_synack (4.15+, optional): the first SYN-ACK's
 *     time of a connection being accepted whose SYN-ACK was resent.
 *   tp_btf/tcp_retransmit_skb (4.16+): retransmits told apart by kind.
 *   tp_btf/kfree_skb (4.15+; its reason 5.17+): packets the kernel
 *     dropped, by connection and reason (drops.h).
 *   iter/bpf_map_elem over the hot list, iter/tcp, iter/task_file (5.9+):
 *     the per-tick re-read of active sockets, the periodic re-read of all
 *     of them, and owners of sockets no process has used yet.
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
#define PF_EXITING 0x00000004 /* task->flags: the task is exiting */

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* Under lazy preemption (Linux 7.x) a task preempted inside a tracing
 * program makes the kernel skip that program for every other task on the
 * CPU (its recursion check), and the event is lost. The programs that
 * count and close run with preemption off where the kernel has the kfuncs
 * for it (6.10+), which narrows that window to the few instructions before
 * the first call and after the last; the pairs below make up the rest.
 * Weak: on older kernels cilium/ebpf leaves their addresses 0 and the
 * verifier drops the calls. */
extern void bpf_preempt_disable(void) __ksym __weak;
extern void bpf_preempt_enable(void) __ksym __weak;

static __always_inline bool preempt_off(void)
{
	if (!(void *)bpf_preempt_disable || !(void *)bpf_preempt_enable)
		return false;
	bpf_preempt_disable();
	return true;
}

static __always_inline void preempt_on(bool off)
{
	if (off)
		bpf_preempt_enable();
}

/* Failure counters, read by userspace and reported on stderr. */
__u64 tcp_table_full = 0; /* failed inserts into tcp_conns */
__u64 udp_table_full = 0; /* datagrams not counted: udp_flows full */
__u64 hot_full = 0;       /* failed inserts into hot */
__u64 events_lost = 0;    /* closes that found the ring buffer full */
__u64 closes_inferred = 0; /* closes the kernel skipped, found by the reads (iter.h) */
__u64 tcp_added = 0;      /* entries added to tcp_conns, and deleted by the */
__u64 tcp_deleted = 0;    /* programs (userspace counts its own deletes) */
__u64 udp_added = 0;      /* entries added to udp_flows */

/* The tick userspace is reading, written by userspace before each read:
 * a connection joins the hot list once per tick. */
__u32 tick = 0;

/* Set by userspace before loading. True when tracing programs may call
 * bpf_get_socket_cookie (5.12+); otherwise the cookie is read from the
 * socket, where the sock_create/sockops programs below make sure the
 * kernel has generated one. The verifier drops the branch not taken, so
 * programs that may not call the helper never do. */
const volatile bool cookie_helper = true;

/* Set by userspace before loading: false where the kernel refuses ring
 * buffers. Then every close takes the path of a close that found the
 * ring buffer full (kept in the table, read by the hot list), and the
 * ring buffers are stand-ins the verifier never sees used. */
const volatile bool have_ringbuf = true;

/* Set by userspace at run time where tcp_destroy_sock is refused: the
 * state programs then report a close when the connection reaches CLOSE,
 * and the send/receive path leaves a socket in CLOSE alone (a read after
 * that point is the loss userspace names). */
__u8 close_at_state = 0;

/* Set by userspace before loading, for tests only (Config.MissReleases):
 * the close programs do nothing, as if the kernel skipped every run of
 * them, so that every close comes from the reads finding the socket
 * released (iter.h, close_missed), the way a skipped one does. */
const volatile bool releases_missed = false;

/* Set by userspace before loading, for tests only (Config.loseReceives):
 * the TCP receive programs count no bytes, as if the kernel had skipped
 * both programs of every receive's pair (7.3 under churn: one in a
 * thousand), so that a connection's bytes in come only from its counters
 * when it ends (account.h, settle). */
const volatile bool receives_lost = false;

/* Userspace sets max_entries (and, where allocation on insert is safe for
 * the attached programs, BPF_F_NO_PREALLOC) before loading. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 262144);
	__type(key, __u64); /* socket cookie */
	__type(value, struct tcp_conn);
} tcp_conns SEC(".maps");

/* The sockets to re-read at the next tick. A connection joins once per
 * period of activity, from the send/receive path. Allocated on insert,
 * except under kprobes (see tcp_conns). Its size bounds the connections
 * active at once that a tick reads one by one (past it, the next tick
 * sweeps every socket) and what reading it costs: the iterator walks
 * every bucket, empty or not. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 32768);
	__type(key, __u64); /* socket cookie */
	__type(value, struct hot_sock);
} hot SEC(".maps");

/* Sockets whose owner userspace asks the task_file iterator to find: as
 * many as the table holds, so one pass over the open files serves them
 * all (at start, every connection older than tcptop). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 262144);
	__type(key, __u64); /* socket cookie */
	__type(value, __u8);
} wanted SEC(".maps");

/* Processes that own a connection (set_owner, tcptop_owners), so that
 * tcptop_exit notes only their exits. LRU: a process whose entry was
 * pushed out (over 65536 owners at once) exits unnoticed. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, __u32); /* tgid */
	__type(value, __u8);
} owning SEC(".maps");

/* Owners that exited since userspace last emptied it (each tick). */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 8192);
	__type(key, __u32); /* tgid */
	__type(value, __u8);
} exited SEC(".maps");

/* Listening ports of every namespace, noted by the sweep at start. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, struct listener);
	__type(value, __u8);
} listeners SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 131072);
	__type(key, struct udp_key);
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

/* Connections sockops saw become established (tcptop_sockops), with the
 * direction: the witness of an open whose state change both state
 * programs missed (a kernel that skips a tracing program, or a refused
 * state tracepoint). tcp_conn_new takes it when it adds an entry that
 * nothing saw open. Sockops is a cgroup program: the kernel never skips
 * it. LRU: witnesses of opens the state programs saw are never taken. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64); /* socket cookie */
	__type(value, __u8); /* enum conn_direction */
} opened SEC(".maps");

/* Close records (struct conn_record). */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} events SEC(".maps");

/* What a new table entry starts as (tcp_conn_new). */
const struct tcp_conn empty_conn = {};

/* Keep the record types and the enums Go reads in the object's BTF so
 * bpf2go emits their Go types and constants (ring buffers and iterators
 * carry no value type; an enum used only for its values has no BTF). */
const struct conn_record *unused_conn_record __attribute__((unused));
const enum owner_want *unused_owner_want __attribute__((unused));
const enum conn_flags *unused_conn_flags __attribute__((unused));
const enum conn_direction *unused_conn_direction __attribute__((unused));
const enum tcp_state *unused_tcp_state __attribute__((unused));

/* owner_name reads the current process's name: its thread group
 * leader's, which ps and /proc/PID/comm show and the owner iterator reads,
 * not the calling thread's, which a program may set per thread (so one
 * process's rows would take turns with its threads' names). A probe read:
 * bpf_get_current_task_btf needs 5.11, and tcptop runs on 5.10. */
static __always_inline void owner_name(char *comm)
{
	const struct task_struct *task = (const struct task_struct *)bpf_get_current_task();
	const struct task_struct *leader = BPF_CORE_READ(task, group_leader);
	char name[TCPTOP_COMM_LEN];
	if (leader && !bpf_core_read(name, sizeof(name), &leader->comm))
		__builtin_memcpy(comm, name, TCPTOP_COMM_LEN);
}

/* note_owning notes a process that owns a connection, for tcptop_exit. */
static __always_inline void note_owning(__u32 tgid)
{
	__u8 one = 1;
	bpf_map_update_elem(&owning, &tgid, &one, BPF_ANY);
}

/* set_owner records the current task: pid, name, cgroup and user. Call
 * it only from hooks that run in the owning process's context (send,
 * receive, connect, close): state changes and receive processing in
 * softirq run on behalf of whatever task was interrupted, and must never
 * overwrite the owner. The owner is taken when the pid changes; its name
 * again at its first call in each tick (checked), since a process renames
 * itself (prctl PR_SET_NAME) or execs another program under the same pid:
 * one probe read per connection and tick, not per call. */
#define set_owner(o) set_owner_of(&(o)->pid, (o)->comm, &(o)->cgroup_id, &(o)->uid, &(o)->owner_tick)
static __always_inline void set_owner_of(__u32 *pid, char *comm, __u64 *cgroup, __u32 *uid, __u32 *checked)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	__u32 now = tick;
	if (tgid == 0 || (tgid == *pid && *checked == now))
		return;
	*checked = now;
	owner_name(comm);
	if (tgid == *pid)
		return;
	*pid = tgid;
	note_owning(tgid);
	*cgroup = bpf_get_current_cgroup_id();
	*uid = (__u32)bpf_get_current_uid_gid();
}

/* The accounting functions, in two flavours (see account.h). */
#define FN(name) name##_btf
#define PROBE_READS 0
#define RD(p, f) ((p)->f)
#define RD_BITS(p, f) BPF_CORE_READ_BITFIELD(p, f)
#define RD_BYTES(dst, p, f, n) __builtin_memcpy((dst), &(p)->f, (n))
#define TCP_SOCK(sk) bpf_skc_to_tcp_sock((void *)(sk))
#include "account.h"
#undef FN
#undef PROBE_READS
#undef RD
#undef RD_BITS
#undef RD_BYTES
#undef TCP_SOCK

#define FN(name) name##_probe
#define PROBE_READS 1
#define RD(p, f) BPF_CORE_READ(p, f)
#define RD_BITS(p, f) BPF_CORE_READ_BITFIELD_PROBED(p, f)
#define RD_BYTES(dst, p, f, n) bpf_core_read((dst), (n), &(p)->f)
#define TCP_SOCK(sk) ((const struct tcp_sock *)(sk))
#include "account.h"
#undef FN
#undef PROBE_READS
#undef RD
#undef RD_BITS
#undef RD_BYTES
#undef TCP_SOCK

/* The kprobe path's calls in flight: a kretprobe program sees only the
 * return value, so the entry program saves the socket and flags for the
 * thread. A plain hash, not an LRU one: on 7.3 (lazy preemption) the LRU
 * hash lost entries between a call's entry and its return, under a few
 * threads (the whole call's bytes then went uncounted: 9 runs of 16 of
 * TestHalfCloseReadAfterCloseExactOnce on the kprobe path; 1 of 8 with
 * this hash, and that one by skipped runs the kernel counted). An entry
 * lives from a call's entry to its return; one whose return was never
 * seen (a missed kretprobe) is replaced by the thread's next call, and
 * removed when the thread exits (tcptop_exit). */
struct call_args {
	__u64 sk; /* struct sock *, kept as an integer for the map */
	int flags;
	int _pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 8192);
	__type(key, __u32); /* thread id */
	__type(value, struct call_args);
} calls SEC(".maps");

#include "handshake.h"
#include "retrans.h"
#include "drops.h"
#include "lifecycle.h"
#include "iter.h"
#include "dns.h"

/* ---- send and receive, each counted by a pair of programs ----
 * The kernel skips a tracing program while the same program runs on that
 * CPU. Under lazy preemption (every Debian 7.x kernel: PREEMPT_LAZY is the
 * only choice left) a task preempted inside tcptop_recv makes every other
 * task's receive on that CPU skip it, and its bytes were lost (seen on 7.3:
 * up to 22 skipped runs in one test; never on 6.12's voluntary preemption).
 * So each send and receive hook has a second program that runs after the
 * first: the first counts the call and leaves a claim for its thread; the
 * second counts the call only if it finds no claim for this very call,
 * that is, when the kernel skipped the first. Which runs first is the
 * attachment order: a tracepoint runs its programs in that order, a
 * trampoline (fexit) in the reverse one, and userspace attaches them so
 * (plan.go); were it wrong, every call would count twice, which the exact
 * checks of every kernel in the matrix would see. A thread makes one call
 * at a time and runs both programs of it, so the claim is per thread (not
 * per CPU: the thread may move between the two). Where the kernel cannot
 * preempt these programs, only the first is attached (io_pairs below). */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, __u32);   /* thread id */
	__type(value, __u64); /* io_token of the call the first program counted */
} io_claims SEC(".maps");

/* Set by userspace before loading (internal/source/preempt.go): false
 * where the kernel cannot preempt a task inside these programs (the
 * preemption models none and voluntary: they run in process context
 * only, so nothing else re-enters them on a CPU). Then the first program
 * of each pair is attached alone, and it neither claims its calls nor
 * turns preemption off, which serve only the pair; the verifier drops
 * that code. The state and release pairs (lifecycle.h) also guard
 * against softirqs, on every kernel, and do not look at it. */
const volatile bool io_pairs = true;

/* io_preempt_off turns preemption off for a send/receive program where
 * the pairs are on (preempt_off). */
static __always_inline bool io_preempt_off(void)
{
	return io_pairs && preempt_off();
}

/* io_token names a call well enough to tell it from the thread's previous
 * one, whose claim a skipped second program left behind. */
static __always_inline __u64 io_token(const struct sock *sk, int ret, bool out)
{
	/* The cookie, not the address: the verifier allows no arithmetic on
	 * a trusted pointer. */
	return (sock_cookie_btf(sk) << 24) ^ ((__u64)(__u32)ret << 1) ^ (out ? 1 : 0) ^ 0x8000000000000000ULL;
}

/* account_first: the first program of a pair counts the call and claims
 * it. The socket's protocol is read once, for both. */
static __always_inline void account_first(const struct sock *sk, int ret, int flags, bool out)
{
	int proto = sock_proto_btf(sk);
	if (!proto)
		return; /* a Unix socket, say: nothing to count, nothing to claim */
	if (io_pairs) {
		__u32 tid = (__u32)bpf_get_current_pid_tgid();
		__u64 token = io_token(sk, ret, out);
		__u64 *claim = bpf_map_lookup_elem(&io_claims, &tid);
		if (claim)
			*claim = token;
		else
			bpf_map_update_elem(&io_claims, &tid, &token, BPF_ANY);
	}
	account_as_btf(sk, proto, ret, flags, out);
}

/* account_second: the second program of a pair counts what the first did
 * not claim. What is left: the kernel skipping both, or skipping the
 * second for one call and the first for the thread's next call with the
 * same token. */
static __always_inline void account_second(const struct sock *sk, int ret, int flags, bool out)
{
	int proto = sock_proto_btf(sk);
	if (!proto)
		return;
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	__u64 *claim = bpf_map_lookup_elem(&io_claims, &tid);
	if (claim && *claim == io_token(sk, ret, out)) {
		*claim = 0;
		return;
	}
	account_as_btf(sk, proto, ret, flags, out);
}

SEC("tp_btf/sock_send_length")
int BPF_PROG(tcptop_send, struct sock *sk, int ret, int flags)
{
	bool off = io_preempt_off();
	account_first(sk, ret, flags, true);
	preempt_on(off);
	return 0;
}

SEC("tp_btf/sock_send_length")
int BPF_PROG(tcptop_send_again, struct sock *sk, int ret, int flags)
{
	bool off = io_preempt_off();
	account_second(sk, ret, flags, true);
	preempt_on(off);
	return 0;
}

SEC("tp_btf/sock_recv_length")
int BPF_PROG(tcptop_recv, struct sock *sk, int ret, int flags)
{
	bool off = io_preempt_off();
	account_first(sk, ret, flags, false);
	preempt_on(off);
	return 0;
}

SEC("tp_btf/sock_recv_length")
int BPF_PROG(tcptop_recv_again, struct sock *sk, int ret, int flags)
{
	bool off = io_preempt_off();
	account_second(sk, ret, flags, false);
	preempt_on(off);
	return 0;
}

static __always_inline void stash_peer(struct bpf_sock_addr *ctx, bool v6, bool send)
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
	if (send && p.port == DNS_PORT) {
		/* A question from a socket that may not be connected (sendto):
		 * what its answer will be checked against (dns_from_peer). */
		__u8 a[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
		if (v6)
			__builtin_memcpy(a, p.addr, 16);
		else
			__builtin_memcpy(&a[12], p.addr, 4);
		dns_note_question(p.cookie, a);
	}
}

/* The sock_addr hooks only observe: they always allow the call (return 1)
 * and never rewrite the address. */
SEC("cgroup/sendmsg4")
int tcptop_sendmsg4(struct bpf_sock_addr *ctx)
{
	stash_peer(ctx, false, true);
	return 1;
}

SEC("cgroup/sendmsg6")
int tcptop_sendmsg6(struct bpf_sock_addr *ctx)
{
	stash_peer(ctx, true, true);
	return 1;
}

SEC("cgroup/recvmsg4")
int tcptop_recvmsg4(struct bpf_sock_addr *ctx)
{
	stash_peer(ctx, false, false);
	return 1;
}

SEC("cgroup/recvmsg6")
int tcptop_recvmsg6(struct bpf_sock_addr *ctx)
{
	stash_peer(ctx, true, false);
	return 1;
}

/* ---- fexit path: the functions behind the tracepoints ----
 * In pairs, as the tracepoints above (fexit programs run with migration,
 * not preemption, disabled); userspace attaches name##_again first, as a
 * trampoline runs the newest program first. */

#define FEXIT_PAIR(name, target, out, ...)                                               \
	SEC("fexit/" #target)                                                            \
	int BPF_PROG(name, struct socket *sock, __VA_ARGS__)                             \
	{                                                                                \
		bool off = io_preempt_off();                                             \
		account_first(sock->sk, ret, FEXIT_FLAGS, out);                          \
		preempt_on(off);                                                         \
		return 0;                                                                \
	}                                                                                \
	SEC("fexit/" #target)                                                            \
	int BPF_PROG(name##_again, struct socket *sock, __VA_ARGS__)                     \
	{                                                                                \
		bool off = io_preempt_off();                                             \
		account_second(sock->sk, ret, FEXIT_FLAGS, out);                         \
		preempt_on(off);                                                         \
		return 0;                                                                \
	}

#define FEXIT_FLAGS 0
FEXIT_PAIR(tcptop_fx_send4, inet_sendmsg, true, void *msg, __u64 size, int ret)
FEXIT_PAIR(tcptop_fx_send6, inet6_sendmsg, true, void *msg, __u64 size, int ret)
/* Before 6.5, sendfile and splice reach TCP through sendpage. */
FEXIT_PAIR(tcptop_fx_page, inet_sendpage, true, void *page, int offset, __u64 size, int flags, long ret)
#undef FEXIT_FLAGS
#define FEXIT_FLAGS flags
FEXIT_PAIR(tcptop_fx_recv4, inet_recvmsg, false, void *msg, __u64 size, int flags, int ret)
FEXIT_PAIR(tcptop_fx_recv6, inet6_recvmsg, false, void *msg, __u64 size, int flags, int ret)
#undef FEXIT_FLAGS

/* ---- kprobe path: the same functions, arguments saved at entry ----
 * (the map of calls in flight is above lifecycle.h, which empties a
 * thread's entry when the thread exits) */

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
	account_probe((const struct sock *)args.sk, ret, args.flags, out);
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
 * established (sockops runs just before the ESTABLISHED state change).
 * Sockops, attached on every path, also witnesses each open (opened). */
SEC("cgroup/sock_create")
int tcptop_sock_new(struct bpf_sock *ctx)
{
	bpf_get_socket_cookie(ctx);
	return 1;
}

SEC("sockops")
int tcptop_sockops(struct bpf_sock_ops *ctx)
{
	__u8 dir;
	if (ctx->op == BPF_SOCK_OPS_ACTIVE_ESTABLISHED_CB)
		dir = DIR_OUT;
	else if (ctx->op == BPF_SOCK_OPS_PASSIVE_ESTABLISHED_CB)
		dir = DIR_IN;
	else
		return 1;
	__u64 cookie = bpf_get_socket_cookie(ctx);
	/* An outgoing connection has its entry from SYN_SENT, unless both
	 * state programs missed that change: only then is a witness needed.
	 * An accepted one gets its entry after this, at ESTABLISHED. */
	if (dir == DIR_IN || !bpf_map_lookup_elem(&tcp_conns, &cookie))
		bpf_map_update_elem(&opened, &cookie, &dir, BPF_ANY);
	return 1;
}
