package agg

import (
	"net/netip"
	"testing"

	"github.com/tcptop/tcptop/internal/conn"
)

func (o ob) xlat(local, remote string) ob {
	o.XlatLocal, o.XlatRemote = addrPortOrZero(local), addrPortOrZero(remote)
	return o
}

func addrPortOrZero(s string) netip.AddrPort {
	if s == "" {
		return netip.AddrPort{}
	}
	return netip.MustParseAddrPort(s)
}

// TestXlat: the translated tuple an observation carries is on every row
// of its flow from then on, also of ticks whose observations do not
// carry it; each end on its own (a DNAT gives only the remote); a flow
// without one has empty fields, port 0.
func TestXlat(t *testing.T) {
	type v struct {
		Port                   int
		XRemote, XLocal        string
		XRemotePort, XLocalPrt int
	}
	str := func(a netip.Addr) string {
		if !a.IsValid() {
			return ""
		}
		return a.String()
	}
	view := func(r conn.Row) v {
		return v{r.RemotePort, str(r.XlatRemoteAddr), str(r.XlatLocalAddr), r.XlatRemotePort, r.XlatLocalPort}
	}
	run(t, []step[v]{
		{now: at(1), obs: obs(tcp(1).xlat("", "10.0.0.2:8080"), tcp(2), udp(53).xlat("192.0.2.1:4000", "10.0.0.3:53")),
			want: []v{{1, "10.0.0.2", "", 8080, 0}, {2, "", "", 0, 0}, {53, "10.0.0.3", "192.0.2.1", 53, 4000}}},
		{now: at(2), obs: obs(tcp(1).bytes(5, 5), udp(53).bytes(1, 1)),
			want: []v{{1, "10.0.0.2", "", 8080, 0}, {53, "10.0.0.3", "192.0.2.1", 53, 4000}, {2, "", "", 0, 0}}},
	}, view)
}
