package source

import (
	"net"
	"os/exec"
	"testing"
	"time"

	"github.com/tcptop/tcptop/internal/conn"
	"github.com/tcptop/tcptop/internal/testnet"
)

// BenchmarkXlatLookup measures what the conntrack lookup costs per new
// connection: 1,000 connections held open through the DNAT of TestXlat,
// each sending a byte before each read, so that the tick reads every one
// (the source's own per-connection work: the record, the observation,
// its hand-over), once
// with every connection's lookup cached (the baseline: what a tick costs
// when no connection is new) and once with the cache emptied before the
// read, so that every connection is looked up as a new one is. The two
// are interleaved over rounds so that drift hits both alike; the
// difference is the lookup's cost per connection.
func BenchmarkXlatLookup(b *testing.B) {
	requireRootB(b)
	if _, err := exec.LookPath("nft"); err != nil {
		b.Skipf("no nft: %v", err)
	}
	const conns, rounds = 1000, 4
	s, err := Open(Config{Warn: b.Logf})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	if !s.xlat.attached {
		b.Skip("no ctnetlink here")
	}
	clientNS := xlatLink(b)
	var ln net.Listener
	testnet.InNetns(b, "tt-xl-b", func() (err error) {
		ln, err = net.Listen("tcp4", xlatServer.String())
		return err
	})
	b.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			b.Cleanup(func() { c.Close() })
		}
	}()
	var clients []net.Conn
	testnet.InNetns(b, "tt-xl-a", func() error {
		for range conns {
			c, err := net.Dial("tcp4", xlatService.String())
			if err != nil {
				return err
			}
			b.Cleanup(func() { c.Close() })
			clients = append(clients, c)
		}
		return nil
	})
	translated, seen, total := 0, 0, 0
	read := func(lookup bool) time.Duration {
		if lookup {
			clear(s.xlat.flows)
			clear(s.xlat.plain)
		}
		for _, c := range clients { // each moves: the tick reads it
			if _, err := c.Write([]byte{1}); err != nil {
				b.Fatal(err)
			}
		}
		translated, seen = 0, 0
		start := time.Now()
		if _, err := s.Read(func(o *conn.Observation) {
			seen++
			if o.XlatRemote == xlatServer {
				translated++
			}
		}); err != nil {
			b.Fatal(err)
		}
		d := time.Since(start)
		total += seen
		return d
	}
	read(true) // the first read sweeps every namespace
	var base, looked time.Duration
	lookups := s.xlat.lookups
	total = 0
	n := max(b.N/rounds, 1)
	b.ResetTimer()
	for range rounds {
		for range n {
			base += read(false)
		}
		for range n {
			looked += read(true)
		}
	}
	b.StopTimer()
	if translated < conns {
		b.Fatalf("a read saw %d connections, %d translated, want %d (the client ends)", seen, translated, conns)
	}
	reads := float64(rounds * n)
	per := func(d time.Duration) float64 { return float64(d.Nanoseconds()) / (float64(total) / 2) }
	b.ReportMetric(per(base), "read-ns/conn")
	b.ReportMetric(per(looked), "read+lookup-ns/conn")
	b.ReportMetric(float64((looked-base).Nanoseconds())/float64(s.xlat.lookups-lookups), "lookup-ns/lookup")
	b.ReportMetric(float64(s.xlat.lookups-lookups)/reads, "lookups/read")
	// The other design: a dump of the namespace's whole table, joined to
	// the new flows, whose cost is the table's size at every tick that
	// has a new flow, however few.
	ct := s.xlat.conns[uint32(clientNS)]
	if ct == nil {
		b.Fatal("no conntrack socket for tt-xl-a")
	}
	start, entries := time.Now(), 0
	for range rounds * n {
		flows, err := ct.Dump(nil)
		if err != nil {
			b.Fatal(err)
		}
		entries += len(flows)
	}
	b.ReportMetric(float64(time.Since(start).Nanoseconds())/float64(entries), "dump-ns/entry")
	b.ReportMetric(float64(entries)/reads, "entries/dump")
}
