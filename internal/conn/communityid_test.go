package conn

import (
	"net/netip"
	"testing"
)

// TestCommunityIDVectors checks the published test vectors of the
// Community ID spec (corelight/community-id-spec, baseline/README.md and
// baseline/baseline_deflt.json): TCP and UDP over IPv4 and IPv6, both
// directions of each flow, the default seed and seed 1.
func TestCommunityIDVectors(t *testing.T) {
	for _, v := range []struct {
		proto    Proto
		seed     uint16
		src, dst string
		want     string
	}{
		{TCP, 0, "1.2.3.4:1122", "5.6.7.8:3344", "1:wCb3OG7yAFWelaUydu0D+125CLM="},
		{UDP, 0, "1.2.3.4:1122", "5.6.7.8:3344", "1:0Mu9InQx6z4ZiCZM/7HXi2WMhOg="},
		{TCP, 1, "1.2.3.4:1122", "5.6.7.8:3344", "1:HhA1B+6CoLbiKPEs5nhNYN4XWfk="},
		{UDP, 1, "1.2.3.4:1122", "5.6.7.8:3344", "1:OShq+iKDAMVouh/4bMxB9Sz4amw="},
		{TCP, 0, "128.232.110.120:34855", "66.35.250.204:80", "1:LQU9qZlK+B5F3KDmev6m5PMibrg="},
		{UDP, 0, "192.168.1.52:54585", "8.8.8.8:53", "1:d/FP5EW3wiY1vCndhwleRRKHowQ="},
		{TCP, 0, "[2001:470:e5bf:dead:4957:2174:e82c:4887]:63943", "[2607:f8b0:400c:c03::1a]:25", "1:/qFaeAR+gFe1KYjMzVDsMv+wgU4="},
	} {
		src, dst := netip.MustParseAddrPort(v.src), netip.MustParseAddrPort(v.dst)
		for _, dir := range [][2]netip.AddrPort{{src, dst}, {dst, src}} {
			got := string(AppendCommunityID(nil, v.seed, v.proto, dir[0], dir[1]))
			if got != v.want {
				t.Errorf("%v seed %d %v → %v: %q, want %q", v.proto, v.seed, dir[0], dir[1], got, v.want)
			}
			if len(got) != CommunityIDLen {
				t.Errorf("%q is %d bytes, want %d", got, len(got), CommunityIDLen)
			}
		}
		if v.seed == 0 && CommunityID(v.proto, src, dst) != v.want {
			t.Errorf("CommunityID(%v, %v, %v) = %q", v.proto, src, dst, CommunityID(v.proto, src, dst))
		}
	}
}

// TestCommunityIDEqualAddresses orders a loopback flow by port.
func TestCommunityIDEqualAddresses(t *testing.T) {
	a, b := netip.MustParseAddrPort("127.0.0.1:40000"), netip.MustParseAddrPort("127.0.0.1:8080")
	if x, y := CommunityID(TCP, a, b), CommunityID(TCP, b, a); x != y || x == "" {
		t.Errorf("the two ends differ: %q, %q", x, y)
	}
}

func TestCommunityIDNone(t *testing.T) {
	v4, v6 := netip.MustParseAddrPort("10.0.0.1:1"), netip.MustParseAddrPort("[::1]:2")
	for _, c := range []struct {
		p    Proto
		a, b netip.AddrPort
	}{
		{TCP, v4, v6},
		{TCP, netip.AddrPort{}, v4},
		{Proto(0), v4, v4},
	} {
		if got := CommunityID(c.p, c.a, c.b); got != "" {
			t.Errorf("CommunityID(%v, %v, %v) = %q, want none", c.p, c.a, c.b, got)
		}
	}
}

func BenchmarkCommunityID(b *testing.B) {
	x, y := netip.MustParseAddrPort("10.0.0.1:40000"), netip.MustParseAddrPort("10.0.0.2:443")
	buf := make([]byte, 0, CommunityIDLen)
	b.ReportAllocs()
	for b.Loop() {
		buf = AppendCommunityID(buf[:0], 0, TCP, x, y)
	}
}
