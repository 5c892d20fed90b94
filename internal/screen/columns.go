package screen

import (
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/tcptop/tcptop/internal/emit"
	"github.com/tcptop/tcptop/internal/escape"
)

// The columns of the screen, in order on the line. A view shows some of
// them (flowColumns, procColumns), less those the person hid with f.
const (
	colProto = iota
	colLocal
	colRemote
	colPID
	colComm
	colFlows
	colState
	colRxRate
	colTxRate
	colRx
	colTx
	colRTT
	colPktRx
	colPktTx
	colRetrans
	colLost
	colCwnd
	colLimit
	colCC
	colError
	colDir
	colUID
	colContainer
	numColumns
)

// column is one column of the screen: a header, an alignment (numbers
// right, text left), how to write a row's cell, and optionally a shorter
// cell (fit takes it before cutting anything). An endpoint (host:port) is
// cut in its host, in the middle, and never in its port; other cells are
// cut at the end.
type column struct {
	name     string
	right    bool
	cell     func(b []byte, r *Row) []byte
	short    func(b []byte, r *Row) []byte
	endpoint bool
}

var columns = [numColumns]column{
	colProto: {name: "PROTO", cell: func(b []byte, r *Row) []byte { return appendName(b, r.Proto) }},
	colLocal: {name: "LOCAL", endpoint: true, cell: func(b []byte, r *Row) []byte {
		return emit.AppendHostPort(b, r.LocalAddr, r.LocalPort)
	}},
	colRemote: {name: "REMOTE", endpoint: true, cell: func(b []byte, r *Row) []byte {
		return emit.AppendHostPort(b, r.RemoteAddr, r.RemotePort)
	}},
	colPID: {name: "PID", right: true, cell: func(b []byte, r *Row) []byte {
		if r.PID == 0 {
			return append(b, '-')
		}
		return strconv.AppendInt(b, int64(r.PID), 10)
	}},
	colComm:  {name: "COMM", cell: func(b []byte, r *Row) []byte { return appendName(b, r.Comm) }},
	colFlows: {name: "FLOWS", right: true, cell: func(b []byte, r *Row) []byte { return strconv.AppendInt(b, int64(r.Flows), 10) }},
	colState: {name: "STATE", cell: func(b []byte, r *Row) []byte { return appendName(b, stateOf(r)) },
		short: func(b []byte, r *Row) []byte { return appendName(b, shortStates.Replace(stateOf(r))) }},
	colRxRate: {name: "RX/s", right: true, cell: func(b []byte, r *Row) []byte { return emit.AppendSize(b, r.RateIn, "") }},
	colTxRate: {name: "TX/s", right: true, cell: func(b []byte, r *Row) []byte { return emit.AppendSize(b, r.RateOut, "") }},
	colRx:     {name: "RX", right: true, cell: func(b []byte, r *Row) []byte { return emit.AppendSize(b, float64(r.BytesIn), "") }},
	colTx:     {name: "TX", right: true, cell: func(b []byte, r *Row) []byte { return emit.AppendSize(b, float64(r.BytesOut), "") }},
	colRTT: {name: "RTT", right: true, cell: tcpOnly(func(b []byte, r *Row) []byte {
		return emit.AppendRTT(b, r.RTTMicros)
	})},
	colPktRx:     {name: "PKT_RX", right: true, cell: func(b []byte, r *Row) []byte { return strconv.AppendInt(b, r.PacketsIn, 10) }},
	colPktTx:     {name: "PKT_TX", right: true, cell: func(b []byte, r *Row) []byte { return strconv.AppendInt(b, r.PacketsOut, 10) }},
	colRetrans:   {name: "RETRANS", right: true, cell: tcpOnly(func(b []byte, r *Row) []byte { return strconv.AppendInt(b, r.Retrans, 10) })},
	colLost:      {name: "LOST", right: true, cell: tcpOnly(func(b []byte, r *Row) []byte { return strconv.AppendInt(b, r.Lost, 10) })},
	colCwnd:      {name: "CWND", right: true, cell: tcpOnly(func(b []byte, r *Row) []byte { return strconv.AppendInt(b, r.Cwnd, 10) })},
	colLimit:     {name: "LIMIT", cell: func(b []byte, r *Row) []byte { return appendName(b, r.Limit) }},
	colCC:        {name: "CC", cell: func(b []byte, r *Row) []byte { return appendName(b, r.CC) }},
	colError:     {name: "ERROR", cell: func(b []byte, r *Row) []byte { return appendName(b, r.Error) }},
	colDir:       {name: "DIR", cell: func(b []byte, r *Row) []byte { return appendName(b, r.Direction) }},
	colUID:       {name: "UID", right: true, cell: func(b []byte, r *Row) []byte { return appendID(b, r.UID) }},
	colContainer: {name: "CONTAINER", cell: func(b []byte, r *Row) []byte { return appendName(b, shortID(r.ContainerID)) }},
}

// flowColumns are the columns of the flow view, procColumns those of the
// view by process (g): a process's flows summed.
var (
	flowColumns = []int{colProto, colLocal, colRemote, colPID, colComm, colState, colRxRate, colTxRate, colRx, colTx, colRTT,
		colPktRx, colPktTx, colRetrans, colLost, colCwnd, colLimit, colCC, colError, colDir, colUID, colContainer}
	procColumns = []int{colPID, colComm, colFlows, colRxRate, colTxRate, colRx, colTx, colPktRx, colPktTx}
)

// hiddenAtStart are the columns f shows only when asked.
var hiddenAtStart = []int{colRetrans, colLost, colCwnd, colLimit, colCC, colError, colDir, colUID, colContainer}

// stateOf is a row's state as the screen says it: CLOSED once closed.
func stateOf(r *Row) string {
	if r.Closed || r.Gone {
		return "CLOSED"
	}
	return r.State
}

// shortStates are the states as ss writes them where the name is long.
var shortStates = strings.NewReplacer("ESTABLISHED", "ESTAB")

// tcpOnly writes "-" for a UDP row, which has no such counter.
func tcpOnly(cell func(b []byte, r *Row) []byte) func(b []byte, r *Row) []byte {
	return func(b []byte, r *Row) []byte {
		if r.Proto == "udp" {
			return append(b, '-')
		}
		return cell(b, r)
	}
}

func appendID(b []byte, id int64) []byte {
	if id < 0 {
		return append(b, '-')
	}
	return strconv.AppendInt(b, id, 10)
}

// shortID is a container id as docker ps shows it: its first 12 digits.
func shortID(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
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

// cutEndpoint shortens host:port (or [host]:port) to at most n runes by
// cutting the host in the middle: the port stays whole, even if that
// takes more than n (fit never gives an endpoint less room than its
// port needs). A host with too little room is "…" alone.
func cutEndpoint(s string, n int) string {
	i := strings.LastIndexByte(s, ':')
	if i < 0 || utf8.RuneCountInString(s) <= n {
		return cut(s, n, true)
	}
	host, port := s[:i], s[i:]
	room := n - len(port)
	if room < minHost {
		return "…" + port
	}
	return cut(host, room, true) + port
}

// minHost is the least of a host worth showing ("1…1" tells nothing).
const minHost = 5

// leastEndpoint is the narrowest an endpoint can be cut: "…" and its port.
func leastEndpoint(s string) int {
	if i := strings.LastIndexByte(s, ':'); i >= 0 {
		return 1 + len(s) - i
	}
	return utf8.RuneCountInString(s)
}

// appendName appends a name escaped as in every output format
// (internal/escape), so a strange process name cannot move the cursor and
// reads as it does in the stream; "-" for an empty one. Unlike the
// stream's text, blanks stay blanks.
func appendName(b []byte, s string) []byte {
	if s == "" {
		return append(b, '-')
	}
	return escape.Append(b, s)
}
