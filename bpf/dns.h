/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * DNS answers, for remote_name: every UDP datagram and TCP segment from
 * port 53 that is delivered to a socket on this host connected to its
 * sender (the socket that asked: dns_from_peer), or not connected but
 * that sent a question there with sendto in the last 30 s (dns_asked: an
 * unconnected resolver, musl's), copied as it is to
 * userspace, which parses it (internal/dns). The kernel part only picks
 * the packets and copies bytes: no DNS parsing here.
 *
 * Hook: cgroup_skb/ingress on the root of the cgroup v2 hierarchy. It runs
 * when a packet is delivered to a socket (sk_filter), in every network
 * namespace, for every socket whose creator is in the cgroup tree, which
 * is every process's on a host without nested cgroup namespaces of their
 * own. Chosen over a socket filter (one per socket, set by the socket's
 * owner) and tp_btf/skb_copy_datagram_iovec (runs for every recv of any
 * socket, and a UDP skb no longer carries its socket there). Needs 4.10
 * for the hook and 6.3 for bpf_cast_to_kern_ctx, which gives the kernel's
 * sk_buff and so the socket's namespace; where it is refused, remote_name
 * is empty and tcptop --check says so.
 *
 * The program never drops a packet: it returns 1 (allow) always.
 */
#ifndef TCPTOP_DNS_H
#define TCPTOP_DNS_H

#define ETH_P_IP 0x0800
#define ETH_P_IPV6 0x86DD
#define DNS_PORT 53
#define DNS_RING_BYTES (256 * 1024)
/* A quarter of the ring: see the wakeup in tcptop_dns. */
#define DNS_WAKE_BYTES (DNS_RING_BYTES / 4)

extern void *bpf_cast_to_kern_ctx(void *obj) __ksym;

__u64 dns_seen = 0; /* answers handed to userspace */
__u64 dns_lost = 0; /* answers that found dns_events full */
__u64 dns_refused = 0; /* from port 53, but not to a socket that asked */

/* Read continuously by a goroutine, so it holds only the answers of a
 * burst: 256 KiB, as the closes' ring (1 MiB cost 2.4 MiB of RSS, the
 * ring being mapped twice, and lost nothing less under a flood:
 * docs/design.md, 2026-12-07). */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, DNS_RING_BYTES);
} dns_events SEC(".maps");

/* The questions of sockets that are not connected (musl's resolver,
 * dnsmasq and unbound style forwarders use sendto): socket cookie → the
 * address the last question went to, put down by the cgroup/sendmsg4|6
 * hooks (dns_note_question). 4,096 sockets asking at once at most; an
 * LRU hash forgets the oldest, whose answers then name nothing. Where
 * the sendmsg hooks are refused the map stays empty and such sockets get
 * no names (docs/security.md). */
#define DNS_ASKED_ENTRIES 4096
/* How long after its question an unconnected socket's answer counts:
 * resolvers retry within seconds (musl: 5 s timeout, 2 attempts). */
#define DNS_ASKED_NS (30ULL * 1000000000ULL)
struct dns_asked {
	__u8 addr[16]; /* IPv6, or IPv4 v4-mapped (::ffff:a.b.c.d): the family */
	__u64 at; /* bpf_ktime_get_ns (monotonic) of the question */
};
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, DNS_ASKED_ENTRIES);
	__type(key, __u64);
	__type(value, struct dns_asked);
} dns_asked SEC(".maps");

/* dns_note_question puts down a UDP send with an address at port 53
 * (addr: 16 bytes, IPv4 v4-mapped) for dns_from_peer. The sendmsg hooks
 * run only for sends that carry an address, and call it for port 53
 * only: every other send costs a compare. */
static __always_inline void dns_note_question(__u64 cookie, const __u8 *addr)
{
	struct dns_asked a = {};
	__builtin_memcpy(a.addr, addr, 16);
	a.at = bpf_ktime_get_ns();
	bpf_map_update_elem(&dns_asked, &cookie, &a, BPF_ANY);
}

/* dns_asked_of tells whether the unconnected socket of skb sent its last
 * question to src (16 bytes, IPv4 v4-mapped) within DNS_ASKED_NS. */
static __always_inline bool dns_asked_of(struct __sk_buff *skb, const __u64 *src)
{
	__u64 cookie = bpf_get_socket_cookie(skb);
	struct dns_asked *a = bpf_map_lookup_elem(&dns_asked, &cookie);
	if (!a || bpf_ktime_get_ns() - a->at > DNS_ASKED_NS)
		return false;
	__u64 to[2];
	__builtin_memcpy(to, a->addr, sizeof(to));
	return to[0] == src[0] && to[1] == src[1];
}

/* Where a record is put together before it goes into the ring buffer
 * with its real length (bpf_ringbuf_output), so a 100-byte answer takes
 * 100 bytes of it, not TCPTOP_DNS_MAX. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct dns_record);
} dns_scratch SEC(".maps");

/* dns_payload finds where the payload of a UDP datagram or TCP segment
 * from port 53 starts, or returns 0. It runs for every packet delivered
 * to a socket, so it reads the headers in place (direct packet access,
 * 5.2+): two helper calls cost 100 ns a packet with bpf_stats on. By the
 * time a packet reaches a socket the IP, UDP and TCP stacks have pulled
 * its headers into the linear part; one that is not there is not read. */
static __always_inline __u32 dns_payload(struct __sk_buff *skb, __u8 *proto)
{
	void *data = (void *)(long)skb->data;
	void *end = (void *)(long)skb->data_end;
	__u32 l4;
	if (skb->protocol == bpf_htons(ETH_P_IP)) {
		__u8 *ip = data;
		if ((void *)(ip + 20) > end)
			return 0;
		l4 = (ip[0] & 0x0f) * 4;
		*proto = ip[9];
	} else if (skb->protocol == bpf_htons(ETH_P_IPV6)) {
		__u8 *ip = data;
		if ((void *)(ip + 40) > end)
			return 0;
		l4 = 40; /* an extension header first: not an answer we read */
		*proto = ip[6];
	} else {
		return 0;
	}
	if (*proto != IPPROTO_UDP && *proto != IPPROTO_TCP)
		return 0;
	__u8 *l4h = data + l4;
	if ((void *)(l4h + 20) > end && (*proto == IPPROTO_TCP || (void *)(l4h + 8) > end))
		return 0;
	if (l4h[0] != 0 || l4h[1] != DNS_PORT)
		return 0;
	if (*proto == IPPROTO_UDP)
		return l4 + 8;
	return l4 + (l4h[12] >> 4) * 4;
}

/* dns_from_peer tells whether the packet's socket is a full socket
 * connected to the packet's source at port 53: the one that sent the
 * question (glibc's resolver connects its UDP socket, and TCP sockets are
 * connected), or a UDP socket that is not connected and whose last
 * question, sent with sendto, went to that source within 30 s
 * (dns_asked_of: musl's resolver). A datagram from port 53 to any other
 * socket is an answer nobody asked for, and would let anyone who can
 * send the host a datagram from port 53 name any address
 * (docs/security.md). It runs only for packets from port 53 with a
 * payload. */
static __always_inline bool dns_from_peer(struct __sk_buff *skb, const struct sock *sk, __u8 proto)
{
	if (!sk)
		return false;
	__u8 state = sk->__sk_common.skc_state;
	if (state == TCP_TIME_WAIT || state == TCP_NEW_SYN_RECV)
		return false; /* a minisocket, not a full socket */
	__be16 dport = sk->__sk_common.skc_dport;
	if (dport != bpf_htons(DNS_PORT) && (dport != 0 || proto != IPPROTO_UDP))
		return false;
	/* The source as 16 bytes, an IPv4 one v4-mapped: the form of an IPv6
	 * socket's peer (an IPv4 answer to a v4-mapped connection) and of
	 * dns_asked's addresses. */
	__u64 src[2];
	if (skb->protocol == bpf_htons(ETH_P_IP)) {
		__u32 v4[4] = {0, 0, bpf_htonl(0xffff), 0};
		if (bpf_skb_load_bytes(skb, 12, &v4[3], 4))
			return false;
		__builtin_memcpy(src, v4, sizeof(src));
	} else if (bpf_skb_load_bytes(skb, 8, src, sizeof(src))) {
		return false;
	}
	if (dport == 0)
		return dns_asked_of(skb, src);
	if (skb->protocol == bpf_htons(ETH_P_IP)) {
		/* An IPv4 socket's peer is in skc_daddr only; an IPv6 socket's
		 * v4-mapped peer is in both. */
		__u32 v4;
		__builtin_memcpy(&v4, (__u8 *)src + 12, 4);
		return v4 == sk->__sk_common.skc_daddr;
	}
	__u64 peer[2];
	__builtin_memcpy(peer, &sk->__sk_common.skc_v6_daddr, sizeof(peer));
	return src[0] == peer[0] && src[1] == peer[1];
}

SEC("cgroup_skb/ingress")
int tcptop_dns(struct __sk_buff *skb)
{
	/* The socket first: one connected to a port other than 53 takes no
	 * answer (a delivered packet comes from its peer's port), and two
	 * loads of the socket tell it, before the headers are parsed. This
	 * runs for every packet delivered on the host, so it is most of the
	 * program's cost (docs/performance.md, 2026-12-08). */
	struct sk_buff *kskb = bpf_cast_to_kern_ctx(skb);
	const struct sock *sk = kskb->sk;
	if (sk) {
		__be16 peer = sk->__sk_common.skc_dport;
		if (peer != bpf_htons(DNS_PORT) && peer != 0)
			return 1;
	}
	__u8 proto = 0;
	__u32 off = dns_payload(skb, &proto);
	if (off == 0 || off >= skb->len)
		return 1; /* not from port 53, or no payload (a bare ACK) */
	if (!dns_from_peer(skb, sk, proto)) {
		__sync_fetch_and_add(&dns_refused, 1);
		return 1;
	}
	__u32 zero = 0;
	struct dns_record *r = bpf_map_lookup_elem(&dns_scratch, &zero);
	if (!r)
		return 1;
	__u32 len = skb->len - off;
	if (len > TCPTOP_DNS_MAX)
		len = TCPTOP_DNS_MAX;
	/* A no-op on len (1 to TCPTOP_DNS_MAX already) that the verifier can
	 * follow: clang folds the checks above into a range it loses. */
	len = ((len - 1) & (TCPTOP_DNS_MAX - 1)) + 1;
	if (bpf_skb_load_bytes(skb, off, r->data, len))
		return 1;
	r->netns = sock_netns_btf(sk);
	r->len = len;
	r->proto = proto;
	/* Wake the reader only when a quarter of the buffer waits: it takes
	 * the rest in at each tick (Reader.Flush). A wakeup per answer cost
	 * an interrupt work item here and a goroutine wakeup in tcptop,
	 * 10,000 times a second under a flood (docs/performance.md). */
	__u64 wake = bpf_ringbuf_query(&dns_events, BPF_RB_AVAIL_DATA) >= DNS_WAKE_BYTES ? BPF_RB_FORCE_WAKEUP : BPF_RB_NO_WAKEUP;
	if (bpf_ringbuf_output(&dns_events, r, offsetof(struct dns_record, data) + len, wake))
		__sync_fetch_and_add(&dns_lost, 1);
	else
		__sync_fetch_and_add(&dns_seen, 1);
	return 1;
}

#endif
