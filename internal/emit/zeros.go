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
// each. A run holds each column's usual value: 0, or the integer its
// schema says means none (connect_us and syn_retrans -1, which every
// connection older than tcptop has, next to the listeners' fields, 0 on
// every connection's row: seven columns, one append).
type zeroRun struct {
	n    int      // the columns from this one that are 64-bit numbers side by side
	want []uint64 // their usual values' bits
	text string   // their keys and usual values
	ends []int    // ends[j]: the length of text for the first j+1 of them
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
		v := usual(&cols[i])
		text := keys[i].key + strconv.FormatInt(v, 10)
		r.n, r.want, r.text, r.ends = 1, []uint64{uint64(v)}, text, []int{len(text)}
		if j := i + 1; j < len(cols) && runs[j].n > 0 && cols[j].off == cols[i].off+8 {
			r.n += runs[j].n
			r.want = append(r.want, runs[j].want...)
			r.text += runs[j].text
			for _, e := range runs[j].ends {
				r.ends = append(r.ends, r.ends[0]+e)
			}
		}
	}
	return runs
}

// usual is the value a run expects of a 64-bit column: the integer its
// schema's none tag names (uid -1, connect_us -1), else 0 (a float's is
// +0, whose bits are 0: -0 is written "-0").
func usual(c *column) int64 {
	if c.kind == kFloat {
		return 0
	}
	v, err := strconv.ParseInt(c.field.None, 10, 64)
	if err != nil {
		return 0
	}
	return v
}

// usualWords is how many of the 64-bit words at p, from the first, hold
// the values of want: numbers written as the run's text writes them.
func usualWords(p unsafe.Pointer, want []uint64) int {
	for i, w := range unsafe.Slice((*uint64)(p), len(want)) {
		if w != want[i] {
			return i
		}
	}
	return len(want)
}
