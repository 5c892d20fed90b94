package run

import (
	stdjson "encoding/json"
	"io"
	"math/rand/v2"
	"net/netip"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/goccy/go-json"

	"github.com/tcptop/tcptop/internal/agg"
	"github.com/tcptop/tcptop/internal/conn"
	"github.com/tcptop/tcptop/internal/emit"
	"github.com/tcptop/tcptop/internal/filter"
)

// pipelineFlows is the scale of the cost targets: 100,000 sockets, 1% of
// them active in each tick.
const pipelineFlows = 100_000

// benchPipeline runs ticks of the per-tick pipeline (agg → filter → emit)
// at 100,000 flows with 1% active, from the snapshots the source will give
// (changed flows only), writing NDJSON to io.Discard, and reports the cost
// per flow known and the heap the pipeline keeps live (the snapshots,
// which the source owns, not counted).
func benchPipeline(b *testing.B, where string, changed bool, out emit.Writer) {
	flt, err := filter.Compile(where)
	if err != nil {
		b.Fatal(err)
	}
	start := time.Date(2026, 11, 26, 5, 0, 0, 0, time.UTC)
	obs := make([]conn.Observation, pipelineFlows)
	for i := range obs {
		obs[i] = conn.Observation{ID: conn.FlowID{Proto: conn.TCP, Cookie: uint64(i + 1)}, Proto: conn.TCP,
			Local:  netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)}), 443),
			Remote: netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 1, byte(i >> 16), byte(i >> 8)}), uint16(i)),
			PID:    uint32(1000 + i%64), Comm: "nginx", State: "ESTABLISHED", RTTMicros: uint64(i % 9000),
			BytesIn: uint64(i) << 10, BytesOut: uint64(i) << 8, PacketsIn: uint64(i), PacketsOut: uint64(i)}
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	log := newLogger(io.Discard)
	p := &pipe{flt: flt, sink: &streamSink{w: out}, log: log}
	t := &ticker{cfg: &Config{Changed: changed}, pipe: p, log: log,
		agg: agg.New(agg.Config{Start: start, CommunityID: true})} // the default output has community_id
	now := start.Add(time.Second)
	// The first snapshot comes in the order the kernel lists sockets (its
	// hash tables'), not in the rows' order.
	first := slices.Clone(obs)
	rand.New(rand.NewPCG(1, 2)).Shuffle(len(first), func(i, j int) { first[i], first[j] = first[j], first[i] })
	observe(t.agg, now, first)
	if err := t.write(emit.Tick{N: 1, Time: now}); err != nil {
		b.Fatal(err)
	}
	active := make([]conn.Observation, pipelineFlows/100)
	next := 0
	b.ReportAllocs()
	for b.Loop() {
		now = now.Add(time.Second)
		for i := range active {
			o := &obs[(next+i*101)%pipelineFlows]
			o.BytesIn += uint64(i%1000+1) << 4
			o.PacketsIn++
			active[i] = *o
		}
		next++
		observe(t.agg, now, active)
		if err := t.write(emit.Tick{N: int64(next), Time: now}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/pipelineFlows, "ns/flow")
	runtime.GC()
	runtime.ReadMemStats(&after)
	b.ReportMetric(float64(int64(after.HeapAlloc)-int64(before.HeapAlloc))/(1<<20), "live-MiB")
	runtime.KeepAlive(t)
	runtime.KeepAlive(obs)
}

// observe hands the aggregator one read of the kernel, as the source's
// Read does: obs, read at now.
func observe(a *agg.Aggregator, now time.Time, obs []conn.Observation) {
	a.Begin()
	for i := range obs {
		a.Observe(&obs[i])
	}
	a.End(now)
}

// BenchmarkPipeline100k is the userspace cost of one tick at 100,000
// flows: every row as NDJSON (ndjson), the same through the benchmark
// --where (where), only changed rows (changed); and baselines measured in
// the same run: the same rows through the output stdout gets, whose
// goroutine writes them (stdout), the aggregator handing rows to a no-op (agg), and
// encoding/json (stdjson) and goccy/go-json (goccy) writing the typed rows
// (their text for times differs, so only their cost compares).
func BenchmarkPipeline100k(b *testing.B) {
	const where = `proto == "tcp" && rtt_us > 5000 && remote_addr in cidr("10.0.0.0/8")`
	ndjson := func() emit.Writer { w, _ := emit.New("ndjson", io.Discard, false); return w }
	b.Run("ndjson", func(b *testing.B) { benchPipeline(b, "", false, ndjson()) })
	b.Run("stdout", func(b *testing.B) {
		sink := newOutput(io.Discard)
		w, _ := emit.New("ndjson", sink, false)
		benchPipeline(b, "", false, &drainedAtEnd{Writer: w, sink: sink})
	})
	b.Run("where", func(b *testing.B) { benchPipeline(b, where, false, ndjson()) })
	b.Run("changed", func(b *testing.B) { benchPipeline(b, "", true, ndjson()) })
	b.Run("agg", func(b *testing.B) { benchPipeline(b, "", false, discardRows{}) })
	b.Run("stdjson", func(b *testing.B) { benchPipeline(b, "", false, &encoderRows{enc: stdjson.NewEncoder(io.Discard)}) })
	b.Run("goccy", func(b *testing.B) { benchPipeline(b, "", false, &encoderRows{enc: json.NewEncoder(io.Discard)}) })
}

// drainedAtEnd ends a tick once the output has written all of it, as the
// tick loop's next tick would wait.
type drainedAtEnd struct {
	emit.Writer
	sink *output
}

func (d *drainedAtEnd) End() error {
	if err := d.Writer.End(); err != nil {
		return err
	}
	return d.sink.wait()
}

// discardRows is a writer that writes nothing.
type discardRows struct{}

func (discardRows) Begin(emit.Tick) error { return nil }
func (discardRows) Row(*conn.Row) error   { return nil }
func (discardRows) End() error            { return nil }

// encoderRows writes rows with a JSON encoder.
type encoderRows struct {
	enc interface{ Encode(any) error }
}

func (s *encoderRows) Begin(emit.Tick) error { return nil }
func (s *encoderRows) Row(r *conn.Row) error { return s.enc.Encode(r) }
func (s *encoderRows) End() error            { return nil }
