package run

import (
	"os"
	"runtime/debug"
	"runtime/metrics"
)

// memory keeps the Go heap near what is live: by default the garbage
// collector lets the heap grow to twice what the last collection kept,
// and at 100,000 flows (40-odd MiB live with the source's indexes) that
// doubling is most of the peak. The soft limit is the live heap plus
// room for what the ticks allocate (twice the largest tick's allocations
// lately: a collection about every other tick), at least 4 MiB and at
// most half the live heap (what it was before, 2026-12-06): the flows'
// tables are long-lived and hold no pointers, so a collection costs
// little, and the garbage of a steady tick does not grow with them. It
// is left alone when GOMEMLIMIT is set.
type memory struct {
	on     bool
	sample []metrics.Sample // the live heap; the bytes allocated so far
	allocs uint64           // sample[1] at the last adjust
	peak   uint64           // the largest tick's allocations, decaying
}

const (
	minMemoryLimit = 32 << 20 // small hosts: no collection before this
	minRoom        = 4 << 20  // room above live at least
)

func newMemory() *memory {
	m := &memory{on: os.Getenv("GOMEMLIMIT") == "", sample: []metrics.Sample{
		{Name: "/gc/heap/live:bytes"}, {Name: "/gc/heap/allocs:bytes"}}}
	m.adjust()
	return m
}

// adjust sets the soft limit after a tick, from the live heap and what
// that tick allocated.
func (m *memory) adjust() {
	if !m.on {
		return
	}
	metrics.Read(m.sample)
	live, allocs := sampleUint(m.sample[0]), sampleUint(m.sample[1])
	var limit int64
	limit, m.peak = memoryLimit(live, allocs-min(m.allocs, allocs), m.peak)
	m.allocs = allocs
	debug.SetMemoryLimit(limit)
}

// memoryLimit is the soft limit for a live heap after a tick that
// allocated tick bytes, with peak the largest tick's allocations before
// (halved at each tick, so that the first tick's sweep of every socket
// stops counting within a few); it returns the limit and the new peak.
func memoryLimit(live, tick, peak uint64) (limit int64, newPeak uint64) {
	newPeak = max(tick, peak/2)
	room := min(max(2*newPeak, minRoom), max(live/2, minRoom))
	return int64(max(minMemoryLimit, live+room)), newPeak
}

func sampleUint(s metrics.Sample) uint64 {
	if s.Value.Kind() == metrics.KindUint64 {
		return s.Value.Uint64()
	}
	return 0
}
