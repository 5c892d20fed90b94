package agg

// touchList holds a tick's touch entries in chunks, like slab: the first
// tick touches every flow (100,000 entries, 8 MB at the scale
// docs/performance.md measures), and a slice grown by append would copy
// them at each doubling, holding the old array and the new at once at the
// peak of that tick.
type touchList struct {
	chunks [][]touch
	n      uint32
}

const touchChunkBits = 10 // 1,024 entries, 64 KiB per chunk

func (l *touchList) len() int { return int(l.n) }

func (l *touchList) at(i uint32) *touch {
	return &l.chunks[i>>touchChunkBits][i&(1<<touchChunkBits-1)]
}

// add appends t and returns its slot and entry.
func (l *touchList) add(t touch) (uint32, *touch) {
	if int(l.n>>touchChunkBits) == len(l.chunks) {
		l.chunks = append(l.chunks, make([]touch, 1<<touchChunkBits))
	}
	i := l.n
	l.n++
	p := l.at(i)
	*p = t
	return i, p
}

// pop removes the last entry added.
func (l *touchList) pop() { l.n-- }

// reset empties the list for the next tick. Chunks beyond twice what this
// tick used are dropped: a tick that touched every flow (the first) must
// not keep its room for the ticks after, which touch a few.
func (l *touchList) reset() {
	used := int(l.n+1<<touchChunkBits-1) >> touchChunkBits
	if keep := max(2*used, 4); len(l.chunks) > keep {
		clear(l.chunks[keep:])
		l.chunks = l.chunks[:keep]
	}
	l.n = 0
}
