package run

import (
	"math"
	"runtime/debug"
	"testing"
)

// TestMemoryLimit checks the soft limit: live plus twice the largest
// tick's allocations lately, at least 4 MiB and at most half of live
// above live, and 32 MiB in all, with the peak halved at each tick.
func TestMemoryLimit(t *testing.T) {
	const mib = 1 << 20
	for _, c := range []struct {
		name             string
		live, tick, peak uint64
		wantLimit        int64
		wantPeak         uint64
	}{
		{"small heap: the floor", 5 * mib, 1 * mib, 0, 32 * mib, 1 * mib},
		{"large table, little garbage: 4 MiB of room", 45 * mib, 1 * mib, 0, 49 * mib, 1 * mib},
		{"a tick's garbage twice", 45 * mib, 8 * mib, 0, 61 * mib, 8 * mib},
		{"a quiet tick after a busy one keeps half its peak", 45 * mib, 1 * mib, 16 * mib, 61 * mib, 8 * mib},
		{"a busier tick replaces the peak; room at most half of live", 40 * mib, 30 * mib, 16 * mib, 60 * mib, 30 * mib},
		{"the first tick: small live, much garbage", 2 * mib, 100 * mib, 0, 32 * mib, 100 * mib},
		{"nothing allocated, nothing before", 40 * mib, 0, 0, 44 * mib, 0},
	} {
		limit, peak := memoryLimit(c.live, c.tick, c.peak)
		if limit != c.wantLimit || peak != c.wantPeak {
			t.Errorf("%s: memoryLimit(%d, %d, %d) = %d, %d; want %d, %d", c.name,
				c.live/mib, c.tick/mib, c.peak/mib, limit, peak, c.wantLimit, c.wantPeak)
		}
	}
}

// TestMemoryAdjusts checks that adjust reads the runtime's figures and
// sets a limit from them, and stays away when GOMEMLIMIT is set.
func TestMemoryAdjusts(t *testing.T) {
	defer debug.SetMemoryLimit(math.MaxInt64) // as the test process had it
	t.Setenv("GOMEMLIMIT", "")
	m := newMemory()
	if !m.on || m.allocs == 0 {
		t.Fatalf("newMemory: on %v, allocs %d: want on, with the bytes allocated so far", m.on, m.allocs)
	}
	t.Setenv("GOMEMLIMIT", "1GiB")
	if newMemory().on {
		t.Error("with GOMEMLIMIT set, the limit is adjusted anyway")
	}
}
