package source

import (
	"io"
	"net"
	"os"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/tcptop/tcptop/internal/conn"
)

func requireRootB(b *testing.B) {
	b.Helper()
	if os.Geteuid() != 0 {
		b.Skip("needs root to load the probes")
	}
}

// loopbackOps returns a function doing one 64-byte exchange on loopback:
// a TCP write+read and a UDP sendto+recvfrom on an unconnected socket, the
// calls every hook of tcptop fires on.
func loopbackOps(b *testing.B) func() {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { ln.Close() })
	client, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		b.Fatal(err)
	}
	server, err := ln.Accept()
	if err != nil {
		b.Fatal(err)
	}
	u1, _ := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	u2, _ := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	b.Cleanup(func() { client.Close(); server.Close(); u1.Close(); u2.Close() })
	dst := u2.LocalAddr()
	buf := make([]byte, 64)
	return func() {
		if _, err := client.Write(buf); err != nil {
			b.Fatal(err)
		}
		if _, err := io.ReadFull(server, buf); err != nil {
			b.Fatal(err)
		}
		if _, err := u1.WriteTo(buf, dst); err != nil {
			b.Fatal(err)
		}
		if _, _, err := u2.ReadFrom(buf); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkProbeOverhead measures what the probes add to the socket calls
// of a busy process: the same loopback exchanges timed without and with
// tcptop attached, in the same run, reported as a ratio (these machines
// are too noisy for absolute numbers to mean much). The two are
// interleaved over several rounds so drift and warm-up hit both alike.
func BenchmarkProbeOverhead(b *testing.B) {
	requireRootB(b)
	const rounds = 4
	op := loopbackOps(b)
	n := max(b.N/rounds, 1)
	timeOps := func() time.Duration {
		start := time.Now()
		for range n {
			op()
		}
		return time.Since(start)
	}
	// The kernel's own accounting of program run time is far steadier
	// than wall-clock time on a shared machine.
	stats, err := ebpf.EnableStats(uint32(unix.BPF_STATS_RUN_TIME))
	if err != nil {
		b.Fatal(err)
	}
	defer stats.Close()
	b.ResetTimer()
	var baseline, probed, inBPF time.Duration
	for range rounds {
		baseline += timeOps()
		s, err := Open(Config{})
		if err != nil {
			b.Fatal(err)
		}
		probed += timeOps()
		inBPF += programRunTime(b, s)
		s.Close()
	}
	ops := float64(n * rounds)
	// Each exchange is four socket calls (TCP send and receive, UDP sendto
	// and recvfrom).
	b.ReportMetric(float64(inBPF.Nanoseconds())/(4*ops), "bpf-ns/call")
	b.ReportMetric(float64(baseline.Nanoseconds())/ops, "baseline-ns/op")
	b.ReportMetric(float64(probed.Nanoseconds())/ops, "probed-ns/op")
	b.ReportMetric(probed.Seconds()/baseline.Seconds(), "probed/baseline")
}

// programRunTime sums the time the kernel spent in the source's programs.
func programRunTime(b *testing.B, s *Source) time.Duration {
	var total time.Duration
	for _, p := range s.progs.Programs {
		st, err := p.Stats()
		if err != nil {
			b.Fatal(err)
		}
		total += st.Runtime
	}
	return total
}

// BenchmarkSnapshot measures one tick's read of 1,000 idle TCP
// connections (2,000 sockets) against what `ss -ti` costs, the sock_diag
// dump with TCP info: a steady tick (nothing moved, no sweep due) and a
// sweep tick (every socket re-read), in the same run.
func BenchmarkSnapshot(b *testing.B) {
	requireRootB(b)
	s, err := Open(Config{SweepEvery: time.Hour})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	var conns []net.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for range 1000 {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			b.Fatal(err)
		}
		a, err := ln.Accept()
		if err != nil {
			b.Fatal(err)
		}
		_, _ = c.Write([]byte("x"))
		conns = append(conns, c, a)
	}
	for range 3 { // the first tick sweeps; then the hot list empties
		if _, err := s.Snapshot(); err != nil {
			b.Fatal(err)
		}
	}
	timeIt := func(f func() error) time.Duration {
		start := time.Now()
		for range b.N {
			if err := f(); err != nil {
				b.Fatal(err)
			}
		}
		return time.Since(start)
	}
	b.ResetTimer()
	diag := timeIt(func() error {
		for _, fam := range []uint8{unix.AF_INET, unix.AF_INET6} {
			if _, err := netlink.SocketDiagTCPInfo(fam); err != nil {
				return err
			}
		}
		return nil
	})
	steady := timeIt(func() error { _, err := s.Snapshot(); return err })
	s.out = func(*conn.Observation) {}
	sweep := timeIt(func() error { return s.readIter(s.iters.sweep, "sweep", s.addRecord) })
	per := func(d time.Duration) float64 { return float64(d.Microseconds()) / float64(b.N) }
	b.ReportMetric(per(diag), "diag-us/op")
	b.ReportMetric(per(steady), "steady-us/op")
	b.ReportMetric(per(sweep), "sweep-us/op")
	b.ReportMetric(steady.Seconds()/diag.Seconds(), "steady/diag")
	b.ReportMetric(sweep.Seconds()/diag.Seconds(), "sweep/diag")
}
