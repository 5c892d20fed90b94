package emit

import (
	"strconv"
	"unsafe"
)

// zeroRun is what the NDJSON writer knows of the 64-bit numbers (integers
// and floats) that follow a column, in the record and in the line alike:
// most of a row's counters of the tick (deltas, rates, retrans and lost,
// resets) are 0 on an idle flow, which most rows of a busy host are, and
// a run of them is one append of its text instead of a pass of the loop
// each.
type zeroRun struct {
	n    int    // the columns from this one that are 64-bit numbers side by side
	text string // their keys and zeros
	ends []int  // ends[j]: the length of text for the first j+1 of them
}

// zeroRuns gives each column of cols its run (n 0 for a column of another
// kind, or an int narrower than 64 bits), with keys the text before each
// column's value.
func zeroRuns(cols []column, keys []ndjsonKey) []zeroRun {
	wide := func(c *column) bool {
		return c.kind == kInt64 || c.kind == kFloat || c.kind == kInt && strconv.IntSize == 64
	}
	runs := make([]zeroRun, len(cols))
	for i := len(cols) - 1; i >= 0; i-- {
		if !wide(&cols[i]) {
			continue
		}
		r := &runs[i]
		r.n, r.text, r.ends = 1, keys[i].key+"0", []int{len(keys[i].key) + 1}
		if j := i + 1; j < len(cols) && runs[j].n > 0 && cols[j].off == cols[i].off+8 {
			r.n += runs[j].n
			r.text += runs[j].text
			for _, e := range runs[j].ends {
				r.ends = append(r.ends, r.ends[0]+e)
			}
		}
	}
	return runs
}

// zeroWords is how many of the n 64-bit words at p, from the first, are
// 0: numbers written "0" (an integer 0, or a float +0; -0 is not 0 bits).
func zeroWords(p unsafe.Pointer, n int) int {
	for i, w := range unsafe.Slice((*uint64)(p), n) {
		if w != 0 {
			return i
		}
	}
	return n
}
