package source

import (
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/link"
	"github.com/tcptop/tcptop/internal/testnet"
	"golang.org/x/sys/unix"
)

// BenchmarkRetransStormCost measures the retransmit hook (tcptop_retrans)
// under a retransmit storm, from the kernel's own accounting of program
// run time (bpf_stats): 8 bulk senders across a veth whose receiving end
// drops one packet in 32 at random (an XDP program built here), for 3 s,
// so that the senders retransmit by the thousand per second (mostly fast
// retransmits). It
// reports the hook's runs per second, its nanoseconds per run, and the
// retransmitted segments per second (tcp_info's total_retrans summed).
// The hook runs only when a connection retransmits: the loopback
// ping-pong of BenchmarkKernelCostVsBpftrace does not run it.
func BenchmarkRetransStormCost(b *testing.B) {
	hook := statsOf(b, "tcptop_retrans")
	dial := rtxLink(b)
	dropSome(b, "tt-rtx-b", "rtxb")
	conns := make([]net.Conn, 8)
	for i := range conns {
		conns[i] = dial()
		defer conns[i].Close()
	}
	var before uint32
	for _, c := range conns {
		before += tcpInfo(b, c).Total_retrans
	}
	start := programStats(b, []*ebpf.Program{hook})
	began := time.Now()
	var stop atomic.Bool
	var wg sync.WaitGroup
	for _, c := range conns {
		wg.Go(func() { _ = sendUntil(c, &stop) })
	}
	time.Sleep(3 * time.Second)
	stop.Store(true)
	wg.Wait()
	took := time.Since(began).Seconds()
	end := programStats(b, []*ebpf.Program{hook})
	var after uint32
	for _, c := range conns {
		after += tcpInfo(b, c).Total_retrans
	}
	runs, ns := end.count-start.count, end.ns-start.ns
	b.ReportMetric(float64(after-before)/took, "retrans/s")
	b.ReportMetric(float64(runs)/took, "runs/s")
	if runs > 0 {
		b.ReportMetric(float64(ns)/float64(runs), "ns/run")
		b.ReportMetric(float64(ns)/took/1e9*100, "%cpu")
	}
}

// dropSome attaches to dev in the namespace bound at /run/netns/ns an XDP
// program that drops one packet in 32 at random.
func dropSome(b *testing.B, ns, dev string) {
	attachXDP(b, ns, dev, asm.Instructions{
		asm.FnGetPrandomU32.Call(),
		asm.And.Imm(asm.R0, 31),
		asm.JEq.Imm(asm.R0, 0, "drop"),
		asm.Mov.Imm(asm.R0, 2), // XDP_PASS
		asm.Return(),
		asm.Mov.Imm(asm.R0, 1).WithSymbol("drop"), // XDP_DROP
		asm.Return(),
	})
}

// attachXDP attaches an XDP program of the instructions given to dev in
// the namespace bound at /run/netns/ns, and returns a function that
// detaches it (the test's end does too).
func attachXDP(tb testing.TB, ns, dev string, insns asm.Instructions) (detach func()) {
	prog, err := ebpf.NewProgram(&ebpf.ProgramSpec{Type: ebpf.XDP, License: "GPL", Instructions: insns})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { prog.Close() })
	var l link.Link
	testnet.InNetns(tb, ns, func() error {
		ifc, err := net.InterfaceByName(dev)
		if err != nil {
			return err
		}
		l, err = link.AttachXDP(link.XDPOptions{Program: prog, Interface: ifc.Index})
		return err
	})
	tb.Cleanup(func() { l.Close() })
	return func() { l.Close() }
}

// statsOf opens the source with the kernel's accounting of program run
// time on (bpf_stats) until the benchmark ends, and returns its program
// named name.
func statsOf(b *testing.B, name string) *ebpf.Program {
	requireRootB(b)
	stats, err := ebpf.EnableStats(uint32(unix.BPF_STATS_RUN_TIME))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { stats.Close() })
	s, err := Open(Config{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	for _, p := range s.allPrograms() {
		if info, err := p.Info(); err == nil && info.Name == name {
			return p
		}
	}
	b.Fatalf("%s is not loaded", name)
	return nil
}
