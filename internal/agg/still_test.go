package agg

import (
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/tcptop/tcptop/internal/conn"
)

// TestStillObservationsTouchNothing: a source that reports every live flow
// each tick (the table read of an all-rows tick) gives the rows, all and
// changed, of one that reports only the flows that may have changed, and
// the aggregator keeps no touch for the flows whose observation changed
// nothing: as many as the other keeps.
func TestStillObservationsTouchNothing(t *testing.T) {
	for seed := range uint64(10) {
		w := &world{rng: rand.New(rand.NewPCG(seed, 9)), gone: map[conn.FlowID]bool{}}
		some, every := New(Config{Start: t0}), New(Config{Start: t0})
		for tick := 1; tick <= 40; tick++ {
			w.quiet = tick%5 == 0
			obs := w.tick()
			told := map[conn.FlowID]bool{}
			for _, o := range obs {
				told[o.ID] = true
			}
			all := append([]conn.Observation(nil), obs...)
			for _, o := range w.live {
				if !told[o.ID] {
					all = append(all, o) // as it was last reported: unchanged
				}
			}
			some.Tick(conn.Snapshot{Time: at(float64(tick)), Obs: obs})
			every.Tick(conn.Snapshot{Time: at(float64(tick)), Obs: all})
			for _, changed := range []bool{false, true} {
				if got, want := rowsOf(t, every, changed), rowsOf(t, some, changed); !reflect.DeepEqual(got, want) {
					t.Fatalf("seed %d tick %d changed=%v: every flow reported gives\n%+v\nsome give\n%+v", seed, tick, changed, got, want)
				}
			}
			if got, want := every.touched.len(), some.touched.len(); got != want || len(all) > len(obs) && got >= len(all) {
				t.Fatalf("seed %d tick %d: %d touches of %d observations, want %d", seed, tick, got, len(all), want)
			}
		}
	}
}

// TestQueuedFlowKeepsItsTouch: a flow with data queued that is read again
// without moving keeps its touch, since its limit is measured over the
// interval between the reads: here rwnd for the whole of it, where its
// lifetime times alone would say cwnd.
func TestQueuedFlowKeepsItsTouch(t *testing.T) {
	a := New(Config{Start: t0})
	o := tcp(1).addrs("10.0.0.1:1", "10.0.0.9:80").diag(1000, [3]uint32{5000, 100, 0}, 10000, 0).Observation
	a.Tick(conn.Snapshot{Time: at(1), Obs: []conn.Observation{o}})
	o.Diag.Chrono[1] += 250
	o.Diag.ChronoJiffies += 250
	a.Tick(conn.Snapshot{Time: at(2), Obs: []conn.Observation{o}})
	if a.touched.len() != 1 {
		t.Fatalf("%d touches, want 1", a.touched.len())
	}
	if rows := rowsOf(t, a, false); len(rows) != 1 || rows[0].Limit != limitRwnd {
		t.Fatalf("rows %+v, want one with limit rwnd", rows)
	}
}

// TestDeltasAcrossTheWrap: retrans and lost are kept unwrapped, their
// previous values in a touch by the low 32 bits only; a tick in which the
// kernel's 32-bit counters wrapped still gets the deltas it moved.
func TestDeltasAcrossTheWrap(t *testing.T) {
	a := New(Config{Start: t0})
	o := tcp(1).addrs("10.0.0.1:1", "10.0.0.9:80").partial().Observation // older than tcptop
	o.Retrans, o.Diag.Lost = 1<<32-5, 1<<32-2
	a.Tick(conn.Snapshot{Time: at(1), Obs: []conn.Observation{o}})
	o.Retrans, o.Diag.Lost = 3, 1
	a.Tick(conn.Snapshot{Time: at(2), Obs: []conn.Observation{o}})
	rows := rowsOf(t, a, false)
	if len(rows) != 1 || rows[0].RetransDelta != 8 || rows[0].Lost != 3 || rows[0].Retrans != 1<<32+3 {
		t.Fatalf("rows %+v, want retrans 2^32+3, retrans_delta 8 and lost 3", rows)
	}
}
