/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Minimal CO-RE definitions of the kernel structures tcptop reads, instead
 * of a multi-megabyte vmlinux.h. Field offsets are relocated against the
 * running kernel's BTF at load time (preserve_access_index), so only the
 * names and types of the fields matter here, not their layout. Names match
 * include/net/sock.h, include/linux/tcp.h and include/linux/bpf.h
 * (stable since 5.9, the oldest kernel with the BPF iterators used here;
 * sk_protocol is a plain u16 since 5.6).
 */
#ifndef TCPTOP_CORE_H
#define TCPTOP_CORE_H

struct in6_addr {
	__u8 s6_addr[16];
};

typedef struct {
	__s64 counter;
} atomic64_t;

struct ns_common {
	unsigned int inum;
} __attribute__((preserve_access_index));

struct net {
	struct ns_common ns;
} __attribute__((preserve_access_index));

typedef struct {
	struct net *net;
} possible_net_t;

/* refcount_t: its counter, relocated by name like the rest. */
typedef struct refcount_struct {
	struct {
		int counter;
	} refs;
} __attribute__((preserve_access_index)) refcount_t;

struct sock_common {
	__be32 skc_daddr;
	__be32 skc_rcv_saddr;
	__be16 skc_dport;
	__u16 skc_num;
	unsigned short skc_family;
	volatile unsigned char skc_state;
	possible_net_t skc_net;
	struct in6_addr skc_v6_daddr;
	struct in6_addr skc_v6_rcv_saddr;
	atomic64_t skc_cookie;
	unsigned long skc_flags;
	refcount_t skc_refcnt;
} __attribute__((preserve_access_index));

/* Bits of sock_common.skc_flags (enum sock_flags); the values are
 * relocated against the kernel's BTF. */
enum sock_flags {
	SOCK_DEAD,
	SOCK_DONE, /* a FIN arrived */
};

struct inode {
	unsigned long i_ino;
} __attribute__((preserve_access_index));

/* A connection being accepted before its socket exists (the SYN_RECV
 * minisocket): its ports are in __req_common as a socket's are. */
struct request_sock {
	struct sock_common __req_common;
} __attribute__((preserve_access_index));

struct tcp_request_sock {
	__u64 snt_synack; /* when the first SYN-ACK was sent, tcp_clock_us */
	__u32 snt_isn;
} __attribute__((preserve_access_index));

struct file {
	struct inode *f_inode;
} __attribute__((preserve_access_index));

struct socket {
	struct sock *sk;
	struct file *file;
} __attribute__((preserve_access_index));

struct sock {
	struct sock_common __sk_common;
	__u16 sk_type;
	__u16 sk_protocol;
	struct socket *sk_socket;
	int sk_err;
	unsigned long sk_pacing_rate;
} __attribute__((preserve_access_index));

struct net_device {
	possible_net_t nd_net;
} __attribute__((preserve_access_index));

/* What bpf_cast_to_kern_ctx returns for a cgroup_skb program (bpf/dns.h),
 * and what tp_btf/kfree_skb is passed (bpf/drops.h). */
struct sk_buff {
	struct sock *sk;
	struct net_device *dev;
	unsigned char *head;
	__u16 network_header;
} __attribute__((preserve_access_index));

struct inet_sock {
	__be16 inet_sport; /* kept when CLOSE gives the port (inet_num) back */
} __attribute__((preserve_access_index));

struct minmax_sample {
	__u32 t;
	__u32 v;
};

struct minmax {
	struct minmax_sample s[3];
};

struct tcp_congestion_ops {
	char name[16];
} __attribute__((preserve_access_index));

struct tcp_ulp_ops;

/* icsk_ca_state is a 5-bit field (read with BPF_CORE_READ_BITFIELD);
 * icsk_pending a byte since 4.x. */
struct inet_connection_sock {
	const struct tcp_congestion_ops *icsk_ca_ops;
	const struct tcp_ulp_ops *icsk_ulp_ops; /* kTLS, MPTCP, espintcp: non-zero */
	__u8 icsk_ca_state : 5;
	__u8 icsk_pending;
} __attribute__((preserve_access_index));

/* The counters tcptop reads. The byte counters (bytes_sent, bytes_retrans,
 * bytes_received: Linux 4.19+) give what an application wrote and read
 * over the connection's life, see derive() in account.h. chrono_type is a
 * 2-bit field before 6.8 and a byte since: read with BPF_CORE_READ_BITFIELD. */
struct tcp_sock {
	__u32 srtt_us;
	__u32 segs_in;
	__u32 segs_out;
	__u32 total_retrans;
	__u32 rcv_nxt;
	__u32 copied_seq;
	__u32 snd_una;
	__u32 snd_nxt;
	__u32 write_seq;
	__u64 bytes_sent;
	__u64 bytes_retrans;
	__u64 bytes_received;
	__u32 snd_cwnd;
	__u32 snd_ssthresh;
	__u32 mdev_us;
	struct minmax rtt_min;
	__u32 snd_wnd;
	__u32 rcv_wnd;
	__u32 lost;
	__u32 mss_cache;
	__u32 rate_delivered;
	__u32 rate_interval_us;
	__u8 chrono_type : 2;
	__u32 chrono_start;
	__u32 chrono_stat[3];
} __attribute__((preserve_access_index));

struct kernfs_node {
	__u64 id;
} __attribute__((preserve_access_index));

struct cgroup {
	struct kernfs_node *kn;
} __attribute__((preserve_access_index));

struct css_set {
	struct cgroup *dfl_cgrp;
} __attribute__((preserve_access_index));

typedef struct {
	__u32 val;
} kuid_t;

struct cred {
	kuid_t uid;
} __attribute__((preserve_access_index));

typedef struct {
	int counter;
} atomic_t;

struct signal_struct {
	atomic_t live; /* threads not yet exiting */
} __attribute__((preserve_access_index));

struct task_struct {
	unsigned int flags; /* PF_* */
	int pid;
	int tgid;
	char comm[16];
	const struct cred *cred;
	struct css_set *cgroups;
	struct task_struct *group_leader;
	struct signal_struct *signal;
} __attribute__((preserve_access_index));

/* BPF iterator contexts (Linux 5.9+). */
struct seq_file;

struct bpf_iter_meta {
	struct seq_file *seq;
} __attribute__((preserve_access_index));

struct bpf_iter__tcp {
	struct bpf_iter_meta *meta;
	struct sock_common *sk_common;
} __attribute__((preserve_access_index));

struct bpf_iter__bpf_map_elem {
	struct bpf_iter_meta *meta;
	void *key;
	void *value;
} __attribute__((preserve_access_index));

struct bpf_iter__task_file {
	struct bpf_iter_meta *meta;
	struct task_struct *task;
	struct file *file;
} __attribute__((preserve_access_index));

/* Registers, for kprobes. bpf_tracing.h uses the kernel's field names
 * when __VMLINUX_H__ is defined (the including file does). */
#if defined(__TARGET_ARCH_x86)
struct pt_regs {
	unsigned long di, si, dx, cx, r8, r9, ax, sp, bp, ip;
} __attribute__((preserve_access_index));
#elif defined(__TARGET_ARCH_arm64)
struct user_pt_regs {
	__u64 regs[31];
	__u64 sp;
	__u64 pc;
	__u64 pstate;
};
struct pt_regs {
	struct user_pt_regs user_regs;
} __attribute__((preserve_access_index));
#endif

#endif
