package source

import "net/netip"

// synQueues counts, for each listener of one namespace, the request
// sockets (SYN_RECV) in syn that are its: the kernel does not say which
// listener a request socket belongs to, so it is matched by its local
// address and port, the way the kernel looks the listener up: a listener
// bound to the exact address first, else a wildcard one of the port in
// the request's family, else (an IPv4 request) a dual-stack :: one.
// Listeners sharing an address and port (SO_REUSEPORT) each count the
// whole port's requests.
func synQueues(listeners []diagSock, syn []netip.AddrPort) []uint32 {
	out := make([]uint32, len(listeners))
	if len(syn) == 0 {
		return out
	}
	exact := make(map[netip.AddrPort]bool, len(listeners))
	for i := range listeners {
		exact[listeners[i].local] = true
	}
	counts := make(map[netip.AddrPort]uint32)
	for _, r := range syn {
		want := r
		if !exact[want] {
			want = netip.AddrPortFrom(unspecified(r.Addr().Is4()), r.Port())
			if !exact[want] && r.Addr().Is4() {
				want = netip.AddrPortFrom(netip.IPv6Unspecified(), r.Port())
			}
		}
		counts[want]++
	}
	for i := range listeners {
		out[i] = counts[listeners[i].local]
	}
	return out
}

// unspecified is 0.0.0.0 or ::.
func unspecified(v4 bool) netip.Addr {
	if v4 {
		return netip.IPv4Unspecified()
	}
	return netip.IPv6Unspecified()
}
