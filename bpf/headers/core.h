/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Minimal CO-RE definitions of the kernel structures tcptop reads, instead
 * of a multi-megabyte vmlinux.h. Field offsets are relocated against the
 * running kernel's BTF at load time (preserve_access_index), so only the
 * names and types of the fields matter here, not their layout. Names match
 * include/net/sock.h and include/linux/tcp.h (stable since 4.x; sk_protocol
 * is a plain u16 since 5.6).
 */
#ifndef TCPTOP_CORE_H
#define TCPTOP_CORE_H

struct in6_addr {
	__u8 s6_addr[16];
};

typedef struct {
	__s64 counter;
} atomic64_t;

struct sock_common {
	__be32 skc_daddr;
	__be32 skc_rcv_saddr;
	__be16 skc_dport;
	__u16 skc_num;
	unsigned short skc_family;
	volatile unsigned char skc_state;
	struct in6_addr skc_v6_daddr;
	struct in6_addr skc_v6_rcv_saddr;
	atomic64_t skc_cookie;
} __attribute__((preserve_access_index));

struct sock {
	struct sock_common __sk_common;
	__u16 sk_type;
	__u16 sk_protocol;
} __attribute__((preserve_access_index));

struct socket {
	struct sock *sk;
} __attribute__((preserve_access_index));

struct tcp_sock {
	__u32 srtt_us;
	__u32 segs_in;
	__u32 segs_out;
	__u32 total_retrans;
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
