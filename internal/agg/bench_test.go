package agg

import (
	"net/netip"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/tcptop/tcptop/internal/conn"
)

// benchFlows is the scale of the cost targets: 50,000 connections seen
// from both ends (100,000 sockets), one in a hundred active per tick.
const (
	benchFlows  = 100_000
	benchActive = benchFlows / 100
)

// benchObs returns the first sight of n flows (one in twenty UDP).
func benchObs(n int) []conn.Observation {
	os := make([]conn.Observation, n)
	for i := range os {
		local := netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)}), 443)
		remote := netip.AddrPortFrom(netip.AddrFrom4([4]byte{192, 0, byte(i >> 16), byte(i >> 8)}), uint16(1024+i))
		o := conn.Observation{ID: conn.FlowID{Proto: conn.TCP, Cookie: uint64(i + 1)}, Proto: conn.TCP,
			Local: local, Remote: remote, PID: uint32(1000 + i%50), Comm: "server", State: "ESTABLISHED",
			BytesIn: uint64(i) * 1000, BytesOut: uint64(i) * 300, PacketsIn: uint64(i), PacketsOut: uint64(i),
			RTTMicros: 200}
		if i%20 == 0 {
			o.ID = conn.FlowID{Proto: conn.UDP, Local: local, Remote: remote}
			o.Proto, o.State, o.RTTMicros = conn.UDP, "", 0
		}
		os[i] = o
	}
	return os
}

// benchAgg is an aggregator that knows benchFlows flows, and a function
// that returns the next tick's snapshot: benchActive flows, a different
// hundredth each tick, that moved bytes.
func benchAgg(b *testing.B) (*Aggregator, func() conn.Snapshot) {
	all := benchObs(benchFlows)
	a := New(Config{Start: t0})
	now := t0.Add(time.Second)
	a.Tick(conn.Snapshot{Time: now, Obs: all})
	if err := a.Each(false, func(*conn.Row) error { return nil }); err != nil {
		b.Fatal(err)
	}
	snap := conn.Snapshot{Obs: make([]conn.Observation, benchActive)}
	next := 0
	return a, func() conn.Snapshot {
		now = now.Add(time.Second)
		for i := range snap.Obs {
			o := &all[(next+i*97)%benchFlows]
			o.BytesIn += uint64(i*7919%5000 + 1)
			o.BytesOut += 100
			o.PacketsIn++
			snap.Obs[i] = *o
		}
		next++
		snap.Time = now
		return snap
	}
}

func reportPerFlow(b *testing.B) {
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/benchFlows, "ns/flow")
}

// BenchmarkTick100k is one tick at 100,000 flows with 1% active: Tick and
// every row handed out (all), only the changed rows (changed, tcptop
// --changed), and two baselines measured in the same run: the aggregator
// of before (fullsort: a full sort of every flow each tick, which it did)
// and a bare loop handing out 100,000 prepared rows (loop).
func BenchmarkTick100k(b *testing.B) {
	b.Run("all", func(b *testing.B) { benchTick(b, false) })
	b.Run("changed", func(b *testing.B) { benchTick(b, true) })
	b.Run("fullsort", func(b *testing.B) {
		a, next := benchAgg(b)
		var refs []active
		b.ReportAllocs()
		for b.Loop() {
			a.Tick(next())
			refs = refs[:0]
			a.tcp.each(func(idx uint32) { refs = append(refs, active{idx: idx}) })
			for _, idx := range a.udp {
				refs = append(refs, active{idx: idx})
			}
			for _, act := range a.active {
				refs[act.idx].rate = act.rate // any flow: the rates only need to differ
			}
			slices.SortFunc(refs, a.compareActive)
			for _, r := range refs {
				a.fill(&a.row, r.idx)
			}
		}
		reportPerFlow(b)
	})
	b.Run("loop", func(b *testing.B) {
		rows := make([]conn.Row, benchFlows)
		var n int
		fn := func(r *conn.Row) error { n += r.LocalPort; return nil }
		b.ReportAllocs()
		for b.Loop() {
			for i := range rows {
				if err := fn(&rows[i]); err != nil {
					b.Fatal(err)
				}
			}
		}
		reportPerFlow(b)
	})
}

func benchTick(b *testing.B, changedOnly bool) {
	a, next := benchAgg(b)
	rows := 0
	fn := func(*conn.Row) error { rows++; return nil }
	b.ReportAllocs()
	for b.Loop() {
		a.Tick(next())
		if err := a.Each(changedOnly, fn); err != nil {
			b.Fatal(err)
		}
	}
	reportPerFlow(b)
	b.ReportMetric(float64(rows)/float64(b.N), "rows/tick")
}

// BenchmarkHeap100k reports the live heap an aggregator of 100,000 flows
// holds, in total and per flow (the snapshots belong to the source and are
// not counted): full is with today's source, which reports every flow
// every tick; changed is after ticks in which 1% of the flows changed, as
// the source reporting only changed flows will give.
func BenchmarkHeap100k(b *testing.B) {
	b.Run("full", func(b *testing.B) { benchHeap(b, false) })
	b.Run("changed", func(b *testing.B) { benchHeap(b, true) })
}

func benchHeap(b *testing.B, changed bool) {
	for b.Loop() {
		all := benchObs(benchFlows)
		some := all[:benchActive]
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		a := New(Config{Start: t0})
		for i := range 3 {
			obs := all
			if changed && i > 0 {
				obs = some
			}
			a.Tick(conn.Snapshot{Time: at(float64(i + 1)), Obs: obs})
			if err := a.Each(false, func(*conn.Row) error { return nil }); err != nil {
				b.Fatal(err)
			}
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		heap := float64(after.HeapAlloc) - float64(before.HeapAlloc)
		b.ReportMetric(heap/(1<<20), "MiB")
		b.ReportMetric(heap/benchFlows, "B/flow")
		runtime.KeepAlive(a)
		runtime.KeepAlive(all)
	}
}
