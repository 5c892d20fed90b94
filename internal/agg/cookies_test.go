package agg

import (
	"math/rand/v2"
	"testing"
)

// TestCookieIndex runs random inserts and deletes (churn that fills the
// table with tombs, growth past several sizes, shrinking back) and
// renumberings against a map, checking every cookie ever used after each
// step of a sample.
func TestCookieIndex(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 9))
	var flows slab
	var c cookieIndex
	want := map[uint64]uint32{}
	var cookies []uint64
	next := uint64(1)
	check := func(step int) {
		for _, k := range cookies {
			idx, ok := c.get(k, &flows)
			w, wok := want[k]
			if ok != wok || ok && idx != w {
				t.Fatalf("step %d: get(%d) = %d, %v; want %d, %v", step, k, idx, ok, w, wok)
			}
		}
		n := 0
		c.each(func(idx uint32) {
			if w, ok := want[flows.at(idx).id]; !ok || w != idx {
				t.Fatalf("step %d: each gave flow %d (cookie %d), not in the index", step, idx, flows.at(idx).id)
			}
			n++
		})
		if n != len(want) || c.n != len(want) {
			t.Fatalf("step %d: %d entries (each %d), want %d", step, c.n, n, len(want))
		}
	}
	for step := range 60_000 {
		grow := step < 20_000 || step >= 40_000 && step%2 == 0
		switch {
		case rng.IntN(4) != 0 && (grow || len(want) == 0) || len(want) < 3:
			idx := flows.alloc()
			cookie := next*3 + uint64(rng.IntN(2)) // a counter, with gaps
			next++
			flows.at(idx).id = cookie
			c.put(cookie, idx, &flows)
			want[cookie] = idx
			cookies = append(cookies, cookie)
		default:
			k := cookies[rng.IntN(len(cookies))]
			if idx, ok := want[k]; ok {
				c.del(k, &flows)
				delete(want, k)
				flows.freed = append(flows.freed, idx)
				*flows.at(idx) = flowState{}
			}
		}
		if step%5000 == 4999 { // renumber: reverse the live flows' indexes
			dest := make([]uint32, flows.n)
			for i := range dest {
				dest[i] = flows.n - 1 - uint32(i)
			}
			moved := make([]flowState, flows.n)
			for i := range moved {
				moved[dest[i]] = *flows.at(uint32(i))
			}
			for i := range moved {
				*flows.at(uint32(i)) = moved[i]
			}
			c.renumber(dest)
			for k, idx := range want {
				want[k] = dest[idx]
			}
			for i, idx := range flows.freed {
				flows.freed[i] = dest[idx]
			}
		}
		if step%997 == 0 || step%5000 == 4999 {
			check(step)
		}
	}
	check(-1)
	if used := c.used; used*8 > len(c.slots)*7 {
		t.Errorf("%d of %d slots used, over 7/8", used, len(c.slots))
	}
}
