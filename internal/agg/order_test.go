package agg

import (
	"net/netip"
	"slices"
	"testing"

	"github.com/tcptop/tcptop/internal/conn"
)

func TestTickOrder(t *testing.T) {
	type v struct {
		Proto, Local, Remote string
		PID                  int
	}
	view := func(r conn.Row) v {
		return v{r.Proto, netip.AddrPortFrom(netip.MustParseAddr(r.LocalAddr), uint16(r.LocalPort)).String(),
			netip.AddrPortFrom(netip.MustParseAddr(r.RemoteAddr), uint16(r.RemotePort)).String(), r.PID}
	}
	tests := []struct {
		name string
		obs  []ob
		want []v
	}{
		{"by total rate, descending; closed rows too", []ob{
			tcp(1).bytes(10, 10), tcp(2).bytes(0, 100).closed(), udp(3).bytes(50, 0),
		}, []v{
			{"tcp", "10.0.0.1:40000", "192.0.2.7:2", 0},
			{"udp", "10.0.0.1:40000", "192.0.2.7:3", 0},
			{"tcp", "10.0.0.1:40000", "192.0.2.7:1", 0},
		}},
		{"equal rates: tcp before udp", []ob{
			udp(1).bytes(10, 0), tcp(2).bytes(0, 10),
		}, []v{
			{"tcp", "10.0.0.1:40000", "192.0.2.7:2", 0},
			{"udp", "10.0.0.1:40000", "192.0.2.7:1", 0},
		}},
		{"then local address numerically, ipv4 first, then port", []ob{
			tcp(1).addrs("[::1]:1", "192.0.2.1:1"),
			tcp(2).addrs("10.0.0.10:1", "192.0.2.1:1"),
			tcp(3).addrs("10.0.0.9:2", "192.0.2.1:1"),
			tcp(4).addrs("10.0.0.9:1", "192.0.2.1:1"),
		}, []v{
			{"tcp", "10.0.0.9:1", "192.0.2.1:1", 0},
			{"tcp", "10.0.0.9:2", "192.0.2.1:1", 0},
			{"tcp", "10.0.0.10:1", "192.0.2.1:1", 0},
			{"tcp", "[::1]:1", "192.0.2.1:1", 0},
		}},
		{"then remote address and port", []ob{
			udp(1).addrs("10.0.0.1:53", "192.0.2.2:9"),
			udp(2).addrs("10.0.0.1:53", "192.0.2.1:10"),
			udp(3).addrs("10.0.0.1:53", "192.0.2.1:9"),
		}, []v{
			{"udp", "10.0.0.1:53", "192.0.2.1:9", 0},
			{"udp", "10.0.0.1:53", "192.0.2.1:10", 0},
			{"udp", "10.0.0.1:53", "192.0.2.2:9", 0},
		}},
		{"then pid", []ob{
			tcp(1).addrs("10.0.0.1:80", "192.0.2.1:9").pid(300, "b"),
			tcp(2).addrs("10.0.0.1:80", "192.0.2.1:9").pid(20, "a"),
			tcp(3).addrs("10.0.0.1:80", "192.0.2.1:9"),
		}, []v{
			{"tcp", "10.0.0.1:80", "192.0.2.1:9", 0},
			{"tcp", "10.0.0.1:80", "192.0.2.1:9", 20},
			{"tcp", "10.0.0.1:80", "192.0.2.1:9", 300},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			run(t, 0, []step[v]{{now: at(1), obs: obs(tt.obs...), want: tt.want}}, view)
			rev := slices.Clone(tt.obs)
			slices.Reverse(rev)
			run(t, 0, []step[v]{{now: at(1), obs: obs(rev...), want: tt.want}}, view)
		})
	}
}
