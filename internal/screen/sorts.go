package screen

import (
	"cmp"
	"strings"

	"github.com/tcptop/tcptop/internal/conn"
)

// sortBy is one sort of the screen's s and S keys: a name, the columns
// it reads (marked in the header), its first direction, and the order of
// two rows, smallest first.
type sortBy struct {
	name string
	cols []int
	desc bool
	cmp  func(x, y *conn.Row) int
}

var sorts = []sortBy{
	{"rate", []int{colRxRate, colTxRate}, true, func(x, y *conn.Row) int {
		return cmp.Compare(x.RateIn+x.RateOut, y.RateIn+y.RateOut)
	}},
	{"rx/s", []int{colRxRate}, true, func(x, y *conn.Row) int { return cmp.Compare(x.RateIn, y.RateIn) }},
	{"tx/s", []int{colTxRate}, true, func(x, y *conn.Row) int { return cmp.Compare(x.RateOut, y.RateOut) }},
	{"rx", []int{colRx}, true, func(x, y *conn.Row) int { return cmp.Compare(x.BytesIn, y.BytesIn) }},
	{"tx", []int{colTx}, true, func(x, y *conn.Row) int { return cmp.Compare(x.BytesOut, y.BytesOut) }},
	{"packets", []int{colPktRx, colPktTx}, true, func(x, y *conn.Row) int {
		return cmp.Compare(x.PacketsIn+x.PacketsOut, y.PacketsIn+y.PacketsOut)
	}},
	{"rtt", []int{colRTT}, true, func(x, y *conn.Row) int { return cmp.Compare(x.RTTMicros, y.RTTMicros) }},
	{"pid", []int{colPID}, false, func(x, y *conn.Row) int { return cmp.Compare(x.PID, y.PID) }},
	{"comm", []int{colComm}, false, func(x, y *conn.Row) int { return strings.Compare(x.Comm, y.Comm) }},
	{"remote", []int{colRemote}, false, func(x, y *conn.Row) int {
		if c := x.RemoteAddr.Compare(y.RemoteAddr); c != 0 {
			return c
		}
		return cmp.Compare(x.RemotePort, y.RemotePort)
	}},
}
