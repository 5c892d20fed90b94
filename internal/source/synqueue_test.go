package source

import (
	"net/netip"
	"slices"
	"testing"
)

func TestSynQueues(t *testing.T) {
	ap := netip.MustParseAddrPort
	ls := func(addrs ...string) []diagSock {
		var out []diagSock
		for _, a := range addrs {
			out = append(out, diagSock{local: ap(a)})
		}
		return out
	}
	for _, tc := range []struct {
		name      string
		listeners []diagSock
		syn       []netip.AddrPort
		want      []uint32
	}{
		{"none", ls("0.0.0.0:80"), nil, []uint32{0}},
		{"exact before wildcard", ls("0.0.0.0:80", "10.0.0.1:80"),
			[]netip.AddrPort{ap("10.0.0.1:80"), ap("10.0.0.2:80"), ap("10.0.0.1:80")}, []uint32{1, 2}},
		{"other port", ls("0.0.0.0:80"), []netip.AddrPort{ap("10.0.0.1:81")}, []uint32{0}},
		{"ipv4 to dual-stack", ls("[::]:80"), []netip.AddrPort{ap("10.0.0.1:80"), ap("[fd00::1]:80")}, []uint32{2}},
		{"ipv4 wildcard before dual-stack", ls("[::]:80", "0.0.0.0:80"),
			[]netip.AddrPort{ap("10.0.0.1:80"), ap("[fd00::1]:80")}, []uint32{1, 1}},
		{"reuseport: each the total", ls("0.0.0.0:80", "0.0.0.0:80"),
			[]netip.AddrPort{ap("10.0.0.1:80"), ap("10.0.0.2:80")}, []uint32{2, 2}},
	} {
		if got := synQueues(tc.listeners, tc.syn); !slices.Equal(got, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}
