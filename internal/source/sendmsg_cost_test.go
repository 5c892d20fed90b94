package source

import (
	"net"
	"strconv"
	"testing"

	"github.com/cilium/ebpf"
)

// BenchmarkSendmsg4Cost measures what the cgroup/sendmsg4 program costs a
// UDP send that carries an address (sendto on an unconnected socket), from
// the kernel's own accounting (bpf_stats): its run time over its runs,
// 100,000 sends a round, to a port that is not 53 (only the port check of
// dns_asked on the way) and to port 53 (the question is put down).
// docs/design.md has the figures, before and after dns_asked.
func BenchmarkSendmsg4Cost(b *testing.B) {
	prog := statsOf(b, "tcptop_sendmsg4")
	for _, port := range []int{9, 53} {
		b.Run("port="+strconv.Itoa(port), func(b *testing.B) { sendmsgCost(b, prog, port) })
	}
}

// sendmsgCost is BenchmarkSendmsg4Cost's measure for sends to
// 127.0.0.1:port (9, discard: nobody listens; 53: the sends that put a
// question down).
func sendmsgCost(b *testing.B, prog *ebpf.Program, port int) {
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	to := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: port}
	msg := []byte("x")
	const sends = 100000
	for range b.N {
		before := programStats(b, []*ebpf.Program{prog})
		for range sends {
			if _, err := c.WriteTo(msg, to); err != nil {
				b.Fatal(err)
			}
		}
		after := programStats(b, []*ebpf.Program{prog})
		runs := after.count - before.count
		if runs < sends {
			b.Fatalf("%d sends, but cgroup/sendmsg4 ran %d times", sends, runs)
		}
		b.ReportMetric(float64(after.ns-before.ns)/float64(runs), "ns/run")
	}
}
