package agg

import (
	"net/netip"
	"testing"
	"time"

	"github.com/tcptop/tcptop/internal/conn"
)

// BenchmarkTick10k measures a steady tick: 10,000 established flows, every
// counter advancing by a different amount so that sorting has real work.
func BenchmarkTick10k(b *testing.B) {
	const n = 10_000
	os := make([]conn.Observation, n)
	for i := range os {
		local := netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)}), 443)
		remote := netip.AddrPortFrom(netip.AddrFrom4([4]byte{192, 0, 2, byte(i)}), uint16(1024+i))
		id := conn.FlowID{Proto: conn.TCP, Cookie: uint64(i + 1)}
		proto := conn.TCP
		if i%4 == 0 {
			id = conn.FlowID{Proto: conn.UDP, Local: local, Remote: remote}
			proto = conn.UDP
		}
		os[i] = conn.Observation{ID: id, Proto: proto, Local: local, Remote: remote,
			PID: uint32(1000 + i%50), Comm: "server", State: "ESTABLISHED"}
	}
	advance := func() {
		for i := range os {
			step := uint64(i*7919%n + 1)
			os[i].BytesIn += step
			os[i].BytesOut += step / 2
			os[i].PacketsIn++
			os[i].PacketsOut++
		}
	}
	a := New(t0, 30*time.Second)
	now := t0
	advance()
	now = now.Add(time.Second)
	a.Tick(now, os) // first sight of every flow is not the steady state
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		advance()
		now = now.Add(time.Second)
		rows, _ := a.Tick(now, os)
		if len(rows) != n {
			b.Fatalf("got %d rows, want %d", len(rows), n)
		}
	}
}
