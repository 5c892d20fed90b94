package source

import (
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"github.com/tcptop/tcptop/internal/testnet"
)

// BenchmarkDropStormCost measures the drop hook (tcptop_drop) under a
// drop storm, from the kernel's own accounting of program run time
// (bpf_stats): two senders blast 64-byte datagrams for 3 s at a UDP
// socket whose receive buffer is full and never read, so the kernel
// drops nearly every one (SOCKET_RCVBUFF): each drop runs the hook's
// costliest path, a packet without a socket whose headers are parsed and
// whose count is found by tuple. It reports drops per second (the
// socket's own sk_drops), the hook's runs per second, its nanoseconds
// per run, and the share of a CPU it took.
func BenchmarkDropStormCost(b *testing.B) {
	hook := statsOf(b, "tcptop_drop")
	testnet.AddNetns(b, "tt-drop-storm")
	var rx *net.UDPConn
	var tx [2]*net.UDPConn
	testnet.InNetns(b, "tt-drop-storm", func() (err error) {
		if rx, err = net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)}); err != nil {
			return err
		}
		if err = rx.SetReadBuffer(1); err != nil {
			return err
		}
		for i := range tx {
			if tx[i], err = net.DialUDP("udp4", nil, rx.LocalAddr().(*net.UDPAddr)); err != nil {
				return err
			}
		}
		return nil
	})
	defer rx.Close()
	port := rx.LocalAddr().(*net.UDPAddr).Port
	before := udpSocketDropsB(b, "tt-drop-storm", port)
	start := programStats(b, []*ebpf.Program{hook})
	began := time.Now()
	var stop atomic.Bool
	var wg sync.WaitGroup
	for _, c := range tx {
		defer c.Close()
		wg.Go(func() {
			msg := make([]byte, 64)
			for !stop.Load() {
				_, _ = c.Write(msg)
			}
		})
	}
	time.Sleep(3 * time.Second)
	stop.Store(true)
	wg.Wait()
	took := time.Since(began).Seconds()
	end := programStats(b, []*ebpf.Program{hook})
	drops := udpSocketDropsB(b, "tt-drop-storm", port) - before
	runs, ns := end.count-start.count, end.ns-start.ns
	b.ReportMetric(float64(drops)/took, "drops/s")
	b.ReportMetric(float64(runs)/took, "runs/s")
	if runs > 0 {
		b.ReportMetric(float64(ns)/float64(runs), "ns/run")
		b.ReportMetric(float64(ns)/took/1e9*100, "%cpu")
	}
}
