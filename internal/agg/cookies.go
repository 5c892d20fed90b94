package agg

import "math/bits"

// cookieIndex finds a TCP flow by its socket cookie: an open-addressing
// table of flow indexes, whose cookies are the flows' own (flowState.id),
// so a slot is 5 bytes (the index and 8 bits of the cookie's hash) where
// a Go map[uint64]uint32 took about 23 at the same load: 0.6 MiB instead
// of 2.25 at 100,000 flows (docs/design.md, 2026-12-07 session 20:03).
// Linear probing, at most 7/8 full counting the slots of deleted entries;
// a lookup reads a flow's state only where the hash bits match, one time
// in 256 for another flow's.
type cookieIndex struct {
	slots []uint32 // flow index + 1; 0 empty, tomb deleted
	tags  []uint8  // 8 bits of the cookie's hash, below those of its place
	n     int      // entries
	used  int      // entries and tombs
	shift uint     // 64 - log2(len(slots))
}

const tomb = ^uint32(0)

// place is where cookie's probe starts, and its tag.
func (c *cookieIndex) place(cookie uint64) (int, uint8) {
	h := cookie * 0x9e3779b97f4a7c15 // Fibonacci hashing: cookies are a counter
	return int(h >> c.shift), uint8(h >> (c.shift - 8))
}

// get returns the index of the flow whose cookie is cookie.
func (c *cookieIndex) get(cookie uint64, flows *slab) (uint32, bool) {
	if c.n == 0 {
		return 0, false
	}
	mask := len(c.slots) - 1
	for i, tag := c.place(cookie); ; i = (i + 1) & mask {
		switch s := c.slots[i]; {
		case s == 0:
			return 0, false
		case s != tomb && c.tags[i] == tag && flows.at(s-1).id == cookie:
			return s - 1, true
		}
	}
}

// put adds flow idx under cookie, which the index does not hold (the
// caller looked it up).
func (c *cookieIndex) put(cookie uint64, idx uint32, flows *slab) {
	if (c.used+1)*8 > len(c.slots)*7 {
		c.resize(c.n+1, flows)
	}
	mask := len(c.slots) - 1
	i, tag := c.place(cookie)
	for c.slots[i] != 0 && c.slots[i] != tomb {
		i = (i + 1) & mask
	}
	if c.slots[i] == 0 {
		c.used++
	}
	c.slots[i], c.tags[i] = idx+1, tag
	c.n++
}

// del removes cookie's flow, whose state still holds cookie.
func (c *cookieIndex) del(cookie uint64, flows *slab) {
	mask := len(c.slots) - 1
	for i, tag := c.place(cookie); c.slots[i] != 0; i = (i + 1) & mask {
		if s := c.slots[i]; s != tomb && c.tags[i] == tag && flows.at(s-1).id == cookie {
			c.slots[i] = tomb
			c.n--
			return
		}
	}
}

// resize makes room for n entries and drops the tombs: the smallest size
// they fill at most 7/8 of, twice that if they would fill more than 13/16
// (so that at least a sixteenth of it is free for the inserts before the
// next resize: a table kept just under 7/8 full by churn would otherwise
// be rebuilt every few inserts).
func (c *cookieIndex) resize(n int, flows *slab) {
	size := max(8, 1<<bits.Len(uint((n*8+6)/7-1)))
	if 16*n > 13*size {
		size *= 2
	}
	old := c.slots
	c.slots, c.tags = make([]uint32, size), make([]uint8, size)
	c.shift = uint(64 - bits.TrailingZeros(uint(size)))
	c.n, c.used = 0, 0
	for _, s := range old {
		if s != 0 && s != tomb {
			c.put(flows.at(s-1).id, s-1, flows)
		}
	}
}

// each calls fn with every flow's index.
func (c *cookieIndex) each(fn func(uint32)) {
	for _, s := range c.slots {
		if s != 0 && s != tomb {
			fn(s - 1)
		}
	}
}

// renumber moves every flow to index dest[idx] (relocateIfScattered).
func (c *cookieIndex) renumber(dest []uint32) {
	for i, s := range c.slots {
		if s != 0 && s != tomb {
			c.slots[i] = dest[s-1] + 1
		}
	}
}
