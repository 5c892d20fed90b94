package screen

import (
	"strconv"
	"unicode"
	"unicode/utf8"

	"github.com/tcptop/tcptop/internal/emit"
)

// The columns of the screen, in order on the line.
const (
	colProto = iota
	colLocal
	colRemote
	colPID
	colComm
	colState
	colRxRate
	colTxRate
	colRx
	colTx
	colRTT
	colPktRx
	colPktTx
	numColumns
)

// column is one column of the screen: a header, an alignment (numbers
// right, text left), how to write a row's cell, and how a cell too long
// for the column is cut (addresses in the middle, which keeps the port,
// names at the end).
type column struct {
	name   string
	right  bool
	cell   func(b []byte, r *Row) []byte
	middle bool
}

var columns = [numColumns]column{
	colProto: {name: "PROTO", cell: func(b []byte, r *Row) []byte { return appendName(b, r.Proto) }},
	colLocal: {name: "LOCAL", middle: true, cell: func(b []byte, r *Row) []byte {
		return emit.AppendHostPort(b, r.LocalAddr, r.LocalPort)
	}},
	colRemote: {name: "REMOTE", middle: true, cell: func(b []byte, r *Row) []byte {
		return emit.AppendHostPort(b, r.RemoteAddr, r.RemotePort)
	}},
	colPID: {name: "PID", right: true, cell: func(b []byte, r *Row) []byte {
		if r.PID == 0 {
			return append(b, '-')
		}
		return strconv.AppendInt(b, int64(r.PID), 10)
	}},
	colComm: {name: "COMM", cell: func(b []byte, r *Row) []byte { return appendName(b, r.Comm) }},
	colState: {name: "STATE", cell: func(b []byte, r *Row) []byte {
		if r.Closed || r.Gone {
			return append(b, "CLOSED"...)
		}
		return appendName(b, r.State)
	}},
	colRxRate: {name: "RX/s", right: true, cell: func(b []byte, r *Row) []byte { return emit.AppendSize(b, r.RateIn, "") }},
	colTxRate: {name: "TX/s", right: true, cell: func(b []byte, r *Row) []byte { return emit.AppendSize(b, r.RateOut, "") }},
	colRx:     {name: "RX", right: true, cell: func(b []byte, r *Row) []byte { return emit.AppendSize(b, float64(r.BytesIn), "") }},
	colTx:     {name: "TX", right: true, cell: func(b []byte, r *Row) []byte { return emit.AppendSize(b, float64(r.BytesOut), "") }},
	colRTT: {name: "RTT", right: true, cell: func(b []byte, r *Row) []byte {
		if r.Proto == "udp" {
			return append(b, '-')
		}
		return emit.AppendRTT(b, r.RTTMicros)
	}},
	colPktRx: {name: "PKT_RX", right: true, cell: func(b []byte, r *Row) []byte { return strconv.AppendInt(b, r.PacketsIn, 10) }},
	colPktTx: {name: "PKT_TX", right: true, cell: func(b []byte, r *Row) []byte { return strconv.AppendInt(b, r.PacketsOut, 10) }},
}

// fitStep is one way to make the columns narrower: drop columns, or cut
// one down to at most a width (only as far as needed). fitSteps are tried
// in order, least important first, until the line fits: the packet
// counters, the middle of long IPv6 addresses, the round-trip time, the
// byte totals, the state, the middle of any address, long names, the
// protocol and the pid. The rates, the name and the remote end stay whole
// the longest: they are what a person looks at a top for.
type fitStep struct {
	drop []int
	col  int
	to   int
}

// ipv4Width is the widest IPv4 endpoint, 255.255.255.255:65535.
const ipv4Width = 21

var fitSteps = []fitStep{
	{drop: []int{colPktRx, colPktTx}},
	{col: colLocal, to: 27},
	{col: colRemote, to: 27},
	{drop: []int{colRTT}},
	{drop: []int{colRx, colTx}},
	{col: colLocal, to: ipv4Width},
	{col: colRemote, to: ipv4Width},
	{drop: []int{colState}},
	{col: colLocal, to: 15},
	{col: colRemote, to: 15},
	{col: colComm, to: 10},
	{drop: []int{colProto}},
	{drop: []int{colPID}},
	{col: colComm, to: 6},
	{col: colLocal, to: 9},
	{col: colRemote, to: 9},
}

// columnGap separates columns.
const columnGap = " "

// fit returns the width of each column, -1 for a dropped one, so that a
// line is at most width runes; natural are the widths the cells and
// headers want. If even the last step is too wide the lines are cut.
func fit(natural [numColumns]int, width int) [numColumns]int {
	w := natural
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
		for _, c := range s.drop {
			w[c] = -1
		}
		if s.drop == nil && w[s.col] > s.to {
			w[s.col] = max(s.to, w[s.col]-excess)
		}
	}
	return w
}

// cut shortens s to at most n runes, marking the cut with "…": in the
// middle or at the end.
func cut(s string, n int, middle bool) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	switch {
	case n <= 0:
		return ""
	case n == 1:
		return "…"
	}
	r := []rune(s)
	if !middle {
		return string(r[:n-1]) + "…"
	}
	left := (n - 1) / 2
	right := n - 1 - left
	return string(r[:left]) + "…" + string(r[len(r)-right:])
}

// appendName appends a name as a person reads it: control characters and
// invalid UTF-8 as '?', so a strange process name cannot move the cursor;
// "-" for an empty one. Unlike the stream's text, blanks stay blanks.
func appendName(b []byte, s string) []byte {
	if s == "" {
		return append(b, '-')
	}
	for _, r := range s {
		if r == utf8.RuneError || unicode.IsControl(r) {
			r = '?'
		}
		b = utf8.AppendRune(b, r)
	}
	return b
}
