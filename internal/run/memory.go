package run

import (
	"os"
	"runtime/debug"
	"runtime/metrics"
)

// memory keeps the Go heap near what is live: by default the garbage
// collector lets the heap grow to twice what the last collection kept,
// and at 100,000 flows (about 40 MiB live) that doubling is most of the
// peak. The soft limit follows what the runtime needs (the live heap, and
// its own memory: stacks, metadata, the unused part of its spans), with
// room for garbage, and is left alone when GOMEMLIMIT is set.
//
// The room is a sixteenth of the live heap, at least 2 MiB. A steady tick
// makes almost no garbage (a few kB), so a small room costs collections
// only in the first ticks, whose garbage (the owner lookup's, the first
// relocation's Community ID texts) grew the heap to 1.5 times live under
// the limit before, which set the all-rows peak. The runtime counts its
// own memory against the limit, so the room is above it: a limit of the
// live heap plus a fixed room left no room at all where that memory grew
// (with --listen), and the collections ran back to back
// (docs/performance.md, 2026-12-07 session 09:00).
type memory struct {
	on     bool
	sample []metrics.Sample
}

const minMemoryLimit = 32 << 20

// The runtime/metrics samples adjust reads, in this order.
var memorySamples = []string{
	"/gc/heap/live:bytes",
	"/memory/classes/total:bytes",
	"/memory/classes/heap/objects:bytes",  // live and garbage not yet swept
	"/memory/classes/heap/free:bytes",     // free, not yet returned
	"/memory/classes/heap/released:bytes", // returned to the system
}

func newMemory() *memory {
	m := &memory{on: os.Getenv("GOMEMLIMIT") == ""}
	for _, name := range memorySamples {
		m.sample = append(m.sample, metrics.Sample{Name: name})
	}
	m.adjust()
	return m
}

// adjust sets the soft limit to what the runtime needs plus the room, at
// least minMemoryLimit.
func (m *memory) adjust() {
	if !m.on {
		return
	}
	metrics.Read(m.sample)
	var v [5]int64
	for i, s := range m.sample {
		if s.Value.Kind() == metrics.KindUint64 {
			v[i] = int64(s.Value.Uint64())
		}
	}
	live, total, objects, free, released := v[0], v[1], v[2], v[3], v[4]
	own := max(0, total-objects-free-released)
	debug.SetMemoryLimit(max(minMemoryLimit, live+own+max(live/16, 2<<20)))
}
