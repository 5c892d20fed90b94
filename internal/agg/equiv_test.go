package agg

import (
	"cmp"
	"math/rand/v2"
	"net/netip"
	"slices"
	"testing"

	"github.com/tcptop/tcptop/internal/conn"
)

// compareRows is the documented order, written plainly over rows: the
// reference the incremental order is checked against. Rows of the random
// flows below never tie on it (their 4-tuples are unique).
func compareRows(x, y *conn.Row) int {
	if c := cmp.Compare(y.RateIn+y.RateOut, x.RateIn+x.RateOut); c != 0 {
		return c
	}
	if c := cmp.Compare(x.Proto, y.Proto); c != 0 {
		return c
	}
	if c := netip.AddrPortFrom(x.LocalAddr, uint16(x.LocalPort)).Compare(netip.AddrPortFrom(y.LocalAddr, uint16(y.LocalPort))); c != 0 {
		return c
	}
	if c := netip.AddrPortFrom(x.RemoteAddr, uint16(x.RemotePort)).Compare(netip.AddrPortFrom(y.RemoteAddr, uint16(y.RemotePort))); c != 0 {
		return c
	}
	return cmp.Compare(x.PID, y.PID)
}

// world is a random population of flows and the observations of one tick.
type world struct {
	rng   *rand.Rand
	live  []conn.Observation
	next  uint64
	gone  map[conn.FlowID]bool // closed or expired this tick
	news  int                  // expired this tick with a last row due
	quiet bool                 // ticks with few changes
}

func (w *world) flow() conn.Observation {
	w.next++
	addr := func() netip.Addr {
		if w.rng.IntN(3) == 0 {
			return netip.AddrFrom16([16]byte{0x20, 0x01, 15: byte(w.rng.IntN(4))})
		}
		return netip.AddrFrom4([4]byte{10, 0, 0, byte(w.rng.IntN(4))})
	}
	local := netip.AddrPortFrom(addr(), uint16(w.rng.IntN(3)))
	remote := netip.AddrPortFrom(addr(), uint16(w.next)) // unique 4-tuples
	o := conn.Observation{Local: local, Remote: remote, PID: uint32(w.rng.IntN(3)), State: "ESTABLISHED"}
	if w.rng.IntN(4) == 0 {
		o.Proto, o.State = conn.UDP, ""
		o.ID = conn.FlowID{Proto: conn.UDP, NetNS: uint32(w.rng.IntN(2)), Local: local, Remote: remote}
	} else {
		o.Proto = conn.TCP
		o.ID = conn.FlowID{Proto: conn.TCP, Cookie: w.next}
	}
	return o
}

// tick returns this tick's observations and applies them to the world.
func (w *world) tick() []conn.Observation {
	clear(w.gone)
	w.news = 0
	var out []conn.Observation
	fresh := map[conn.FlowID]bool{}
	for range w.rng.IntN(8) {
		o := w.flow()
		w.live = append(w.live, o)
		fresh[o.ID] = true
	}
	keep := w.live[:0]
	for _, o := range w.live {
		p := w.rng.IntN(100)
		if w.quiet {
			p = 50 + p/2
		}
		switch {
		case p < 10:
			o.BytesIn += uint64(w.rng.IntN(3)) * 100
			o.BytesOut += uint64(w.rng.IntN(2)) * 150
		case p < 13:
			o.PID = uint32(w.rng.IntN(3)) // may re-key
		case p < 15:
			o.PacketsIn++
		case p < 17:
			if o.Proto == conn.TCP {
				o.Closed = true
			} else {
				o.Expired = true
				if w.rng.IntN(2) == 0 {
					o.BytesIn++
					w.news++
				}
			}
		case p < 60 && !fresh[o.ID]:
			keep = append(keep, o) // not reported
			continue
		}
		out = append(out, o)
		if o.Closed || o.Expired {
			w.gone[o.ID] = true
			continue
		}
		keep = append(keep, o)
	}
	w.live = keep
	// Flows in any order; a source reports a flow once per snapshot.
	w.rng.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
	return out
}

// TestOrderMatchesFullSort drives random ticks (flows opening, moving,
// changing pid, closing, expiring, not reported) and checks that every
// tick's rows are exactly the live flows (plus those that closed) in the
// order a plain full sort gives, and that --changed rows are in the same
// order. Some stretches ask only for changed rows, long enough for the
// key order to be dropped and rebuilt.
func TestOrderMatchesFullSort(t *testing.T) {
	defer func(old int) { pendingFloor = old }(pendingFloor)
	pendingFloor = 16
	for seed := range uint64(20) {
		w := &world{rng: rand.New(rand.NewPCG(seed, 7)), gone: map[conn.FlowID]bool{}}
		a := New(Config{Start: t0})
		for tick := 1; tick <= 60; tick++ {
			w.quiet = tick%7 == 0
			a.Tick(conn.Snapshot{Time: at(float64(tick)), Obs: w.tick()})
			changed := rowsOf(t, a, true)
			checkSorted(t, seed, tick, "changed", changed)
			if tick%20 > 12 {
				continue // a stretch of --changed only
			}
			all := rowsOf(t, a, false)
			checkSorted(t, seed, tick, "all", all)
			if n := len(w.live) + countClosed(all) + w.news; len(all) != n {
				live := map[int]bool{}
				for _, o := range w.live {
					live[int(o.Remote.Port())] = true
				}
				for _, r := range all {
					if !live[r.RemotePort] && !r.Closed {
						t.Logf("not live: %+v", r)
					}
				}
				t.Fatalf("seed %d tick %d: %d rows, want %d live and closing", seed, tick, len(all), n)
			}
			if !isSubsequence(changed, all) {
				t.Fatalf("seed %d tick %d: changed rows are not in the order of all rows", seed, tick)
			}
		}
	}
}

func checkSorted(t *testing.T, seed uint64, tick int, what string, rows []conn.Row) {
	t.Helper()
	want := slices.Clone(rows)
	slices.SortStableFunc(want, func(x, y conn.Row) int { return compareRows(&x, &y) })
	if !slices.Equal(rows, want) {
		t.Fatalf("seed %d tick %d: %s rows not in full-sort order:\n got %v\nwant %v", seed, tick, what, ports(rows), ports(want))
	}
}

func ports(rows []conn.Row) []int {
	out := make([]int, len(rows))
	for i, r := range rows {
		out[i] = r.RemotePort
	}
	return out
}

func countClosed(rows []conn.Row) int {
	n := 0
	for _, r := range rows {
		if r.Closed {
			n++
		}
	}
	return n
}

// isSubsequence reports whether sub's rows appear in all in the same order.
func isSubsequence(sub, all []conn.Row) bool {
	i := 0
	for _, r := range all {
		if i < len(sub) && sub[i] == r {
			i++
		}
	}
	return i == len(sub)
}

// TestRelocationChangesNoRow drives the same random ticks into an
// aggregator that moves its flows into key order whenever they scatter
// and one that never does: every tick's rows, all and changed, are the
// same, value for value.
func TestRelocationChangesNoRow(t *testing.T) {
	defer func(pending, relocate int) { pendingFloor, relocateFloor = pending, relocate }(pendingFloor, relocateFloor)
	pendingFloor = 16
	relocations := 0
	for seed := range uint64(20) {
		w := &world{rng: rand.New(rand.NewPCG(seed, 11)), gone: map[conn.FlowID]bool{}}
		relocateFloor = 1
		moving := New(Config{Start: t0, CommunityID: true})
		relocateFloor = 1 << 30
		staying := New(Config{Start: t0, CommunityID: true})
		for tick := 1; tick <= 60; tick++ {
			w.quiet = tick%7 == 0
			obs := w.tick()
			moving.Tick(conn.Snapshot{Time: at(float64(tick)), Obs: slices.Clone(obs)})
			staying.Tick(conn.Snapshot{Time: at(float64(tick)), Obs: obs})
			for _, changed := range []bool{true, false} {
				if !changed && tick%20 > 12 {
					continue // a stretch of --changed only
				}
				got, want := rowsOf(t, moving, changed), rowsOf(t, staying, changed)
				if !slices.Equal(got, want) {
					t.Fatalf("seed %d tick %d (changed only %v): rows differ after %d relocations:\n got %+v\nwant %+v",
						seed, tick, changed, moving.keys.relocations, got, want)
				}
			}
		}
		if staying.keys.relocations != 0 {
			t.Fatalf("seed %d: the aggregator told not to relocate did, %d times", seed, staying.keys.relocations)
		}
		relocations += moving.keys.relocations
	}
	if relocations < 100 {
		t.Fatalf("%d relocations in 20 runs of 60 ticks: the test hardly exercises them", relocations)
	}
	t.Logf("%d relocations", relocations)
}
