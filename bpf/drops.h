/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Packets the kernel dropped, counted per connection and reason. Included
 * once by tcptop.bpf.c.
 *
 * Hook: tp_btf/kfree_skb. kfree_skb_reason() (kfree_skb() before 5.17)
 * fires it for every packet freed as dropped; a packet freed after use
 * goes to consume_skb, another tracepoint, so the hook runs only when a
 * packet is dropped and costs nothing on the send/receive path. Its
 * arguments: (skb, location) before 5.17, (skb, location, reason) from
 * 5.17, plus rx_sk on newer kernels (6.12+). A tp_btf program may not
 * read an argument the kernel's prototype lacks, so there are two
 * programs, with and without the reason; userspace loads the one the
 * kernel's btf_trace_kfree_skb takes. Where the kernel passes
 * SKB_CONSUMED here (it routes it to consume_skb since 6.0, but the value
 * exists from 5.19), the packet is not counted: reason_consumed.
 *
 * Attribution: by skb->sk where it is a full TCP socket (its cookie, the
 * key of tcp_conns); else by the flow the packet's IP and TCP/UDP headers
 * name, in the namespace of the socket or, without one, of the device the
 * packet came in on (a packet dropped before the socket lookup has no
 * socket: prerouting, a bad checksum). A packet with no socket is taken
 * to be arriving (its destination is the local end); with a UDP socket,
 * the end whose port is the socket's is local. Userspace joins the tuples
 * to connections and UDP flows per tick. */

/* Set by userspace before loading: enum skb_drop_reason's SKB_CONSUMED
 * and SKB_DROP_REASON_QUEUE_PURGE in the running kernel, ~0 where it has
 * none. QUEUE_PURGE is a socket's queues freed as it is destroyed: on
 * every orderly close, the FIN queued to a socket its application has
 * closed already (seen on 6.18 on a loopback exchange): no packet the
 * network or a rule dropped. */
const volatile __u32 reason_consumed = ~0U;
const volatile __u32 reason_purge = ~0U;

__u64 drops_lost = 0; /* drops not counted: the drops map was full */

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, struct drop_key);
	__type(value, __u64); /* packets */
} drop_counts SEC(".maps");

#define TCP_TIME_WAIT_STATE 6
#define TCP_NEW_SYN_RECV_STATE 12
#define ETH_HLEN_NONE 0xffff /* skb->network_header not set (5.18+ marks it so) */

/* drop_tuple reads the flow a packet's headers name into k, the
 * destination as the local end unless local_sport (the local end is the
 * source). False when the headers are not IPv4/IPv6 with TCP or UDP. */
static __always_inline bool drop_tuple(const struct sk_buff *skb, struct drop_key *k, bool local_sport)
{
	unsigned char *head = skb->head;
	__u16 nh = skb->network_header;
	if (!head || nh == ETH_HLEN_NONE)
		return false;
	__u8 ip[40] = {};
	if (bpf_probe_read_kernel(ip, 20, head + nh))
		return false;
	__u32 thoff;
	__u8 *src, *dst;
	__u8 proto;
	int alen;
	if ((ip[0] >> 4) == 4) {
		if (ip[6] & 0x1f || ip[7]) /* a fragment after the first: no ports */
			return false;
		proto = ip[9];
		thoff = (ip[0] & 0xf) * 4;
		src = &ip[12];
		dst = &ip[16];
		alen = 4;
		k->tuple.family = AF_INET;
	} else if ((ip[0] >> 4) == 6) {
		if (bpf_probe_read_kernel(ip, 40, head + nh))
			return false;
		proto = ip[6]; /* extension headers are not followed */
		thoff = 40;
		src = &ip[8];
		dst = &ip[24];
		alen = 16;
		k->tuple.family = AF_INET6;
	} else {
		return false;
	}
	if (proto != IPPROTO_TCP && proto != IPPROTO_UDP)
		return false;
	__be16 ports[2];
	if (thoff < 20 || bpf_probe_read_kernel(ports, sizeof(ports), head + nh + (thoff & 0x3f)))
		return false;
	k->proto = proto;
	if (local_sport) {
		__builtin_memcpy(k->tuple.saddr, src, 16);
		__builtin_memcpy(k->tuple.daddr, dst, 16);
		k->tuple.sport = bpf_ntohs(ports[0]);
		k->tuple.dport = bpf_ntohs(ports[1]);
	} else {
		__builtin_memcpy(k->tuple.saddr, dst, 16);
		__builtin_memcpy(k->tuple.daddr, src, 16);
		k->tuple.sport = bpf_ntohs(ports[1]);
		k->tuple.dport = bpf_ntohs(ports[0]);
	}
	if (alen == 4) { /* the copies above took 16 bytes: keep the first 4 */
		__builtin_memset(&k->tuple.saddr[4], 0, 12);
		__builtin_memset(&k->tuple.daddr[4], 0, 12);
	}
	return true;
}

/* count_drop attributes one dropped packet and counts it. */
static __always_inline void count_drop(const struct sk_buff *skb, __u32 reason)
{
	if (reason == reason_consumed || reason == reason_purge)
		return;
	struct drop_key k = {.reason = reason};
	struct sock *sk = skb->sk;
	int proto = 0;
	if (sk) {
		/* A request or TIME_WAIT minisocket (or any other socket: a
		 * raw one, the namespace's reset sender) is no flow's. */
		__u8 state = sk->__sk_common.skc_state;
		if (state == TCP_TIME_WAIT_STATE || state == TCP_NEW_SYN_RECV_STATE)
			return;
		proto = sock_proto_btf(sk);
		if (!proto)
			return;
	}
	if (proto == IPPROTO_TCP) {
		/* The cookie as the socket holds it: the verifier takes
		 * skb->sk for an RCU pointer, which bpf_get_socket_cookie
		 * refuses; a socket tcptop tracks has had its cookie made (0:
		 * not one of them). */
		k.cookie = sk->__sk_common.skc_cookie.counter;
		if (!k.cookie)
			return;
		k.proto = IPPROTO_TCP;
	} else if (proto == IPPROTO_UDP) {
		/* The end with the socket's port is local. */
		if (!drop_tuple(skb, &k, true))
			return;
		if (k.tuple.sport != sk->__sk_common.skc_num && !drop_tuple(skb, &k, false))
			return;
		k.netns = sock_netns_btf(sk);
	} else {
		/* No socket: an arriving packet, in its device's namespace. */
		if (!drop_tuple(skb, &k, false))
			return;
		const struct net_device *dev = skb->dev;
		const struct net *net = dev ? dev->nd_net.net : 0;
		k.netns = net ? net->ns.inum : 0;
	}
	if (!k.cookie && !k.netns)
		return; /* neither a socket nor a device: no flow to join */
	__u64 *n = bpf_map_lookup_elem(&drop_counts, &k);
	if (!n) {
		__u64 one = 1;
		long err = bpf_map_update_elem(&drop_counts, &k, &one, BPF_NOEXIST);
		if (!err)
			return;
		n = bpf_map_lookup_elem(&drop_counts, &k); /* another CPU added it */
		if (!n) {
			__sync_fetch_and_add(&drops_lost, 1);
			return;
		}
	}
	__sync_fetch_and_add(n, 1);
}

/* Linux 5.17+: the reason is the third argument. */
SEC("tp_btf/kfree_skb")
int BPF_PROG(tcptop_drop, struct sk_buff *skb, void *location, int reason)
{
	count_drop(skb, (__u32)reason);
	return 0;
}

/* Before 5.17: no reason (0, which no kernel gives a drop). */
SEC("tp_btf/kfree_skb")
int BPF_PROG(tcptop_drop_noreason, struct sk_buff *skb)
{
	count_drop(skb, 0);
	return 0;
}
