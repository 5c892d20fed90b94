package screen

import "slices"

// fitStep is one way to make the columns narrower: drop columns, take a
// column's short cells, or cut a column down to at most a width (only as
// far as needed; to 0: as narrow as it goes, for an endpoint its port
// alone). fitSteps are tried in order until the line fits.
type fitStep struct {
	drop  []int
	col   int
	to    int
	short bool
}

// ipv4Width is the widest IPv4 endpoint, 255.255.255.255:65535.
const ipv4Width = 21

// fitSteps, least important first: the packet counters, the byte totals,
// the middle of long IPv6 addresses, ESTABLISHED as ESTAB, the middle of
// any address, long names, the local host (its port stays), the
// protocol (a UDP row still shows "-" as its state), the columns added
// with f (the last first), the round-trip time, the pid, the local end,
// the remote host, and at last the state. The rates, the name and the
// remote port stay the longest: they are what a person looks at a top for,
// and the state and the round-trip time stay on an 80-column terminal. No
// step cuts a port.
var fitSteps = slices.Concat([]fitStep{
	{drop: []int{colPktRx, colPktTx}},
	{drop: []int{colRx, colTx}},
	{col: colLocal, to: 27},
	{col: colRemote, to: 27},
	{col: colState, short: true},
	{col: colLocal, to: ipv4Width},
	{col: colRemote, to: ipv4Width},
	{col: colComm, to: 12},
	{col: colLocal},
	{drop: []int{colProto}},
}, dropHidden(), []fitStep{
	{drop: []int{colRTT}},
	{col: colComm, to: 8},
	{drop: []int{colPID}},
	{drop: []int{colLocal}},
	{col: colRemote, to: 15},
	{col: colComm, to: 6},
	{col: colRemote},
	{drop: []int{colState}},
})

// dropHidden drops the columns f shows, one at a time, the last first.
func dropHidden() []fitStep {
	var out []fitStep
	for _, c := range slices.Backward(hiddenAtStart) {
		out = append(out, fitStep{drop: []int{c}})
	}
	return out
}

// columnGap separates columns.
const columnGap = " "

// widths are what fit works on: per column, the width its cells and
// header want (-1 for a column not shown), that with its short cells, and
// the narrowest it can be cut to.
type widths struct {
	natural, short, least []int
}

// newWidths are widths for every column, none shown yet.
func newWidths() widths {
	in := widths{make([]int, len(columns)), make([]int, len(columns)), make([]int, len(columns))}
	for j := range in.natural {
		in.natural[j] = -1
	}
	return in
}

// fit returns the width of each column, -1 for a dropped one, and which
// take their short cells, so that a line is at most width runes. If even
// the last step is too wide, the lines are cut.
func fit(in widths, width int) (w []int, short []bool) {
	w, short = slices.Clone(in.natural), make([]bool, len(columns))
	total := func() int {
		n, cols := 0, 0
		for _, x := range w {
			if x >= 0 {
				n += x
				cols++
			}
		}
		return n + max(cols-1, 0)*len(columnGap)
	}
	for _, s := range fitSteps {
		excess := total() - width
		if excess <= 0 {
			break
		}
		switch {
		case s.drop != nil:
			for _, c := range s.drop {
				w[c] = -1
			}
		case w[s.col] < 0:
		case s.short:
			short[s.col] = true
			w[s.col] = min(w[s.col], in.short[s.col])
		default:
			to := max(s.to, in.least[s.col])
			if w[s.col] > to {
				w[s.col] = max(to, w[s.col]-excess)
			}
		}
	}
	return w, short
}
