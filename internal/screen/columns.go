package screen

import (
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/tcptop/tcptop/internal/conn"
	"github.com/tcptop/tcptop/internal/emit"
	"github.com/tcptop/tcptop/internal/escape"
)

// column is one column of the screen: the schema field it shows ("" for
// FLOWS, the view by process's own), a header, an alignment (numbers
// right, text left), how to write a row's cell, and optionally a shorter
// cell (fit takes it before cutting anything). An endpoint (host:port) is
// cut in its host, in the middle, and never in its port; other cells are
// cut at the end. Hidden columns are shown only when chosen with f.
type column struct {
	field    string
	name     string
	right    bool
	hidden   bool
	cell     func(b []byte, r *Row) []byte
	short    func(b []byte, r *Row) []byte
	endpoint bool
}

// columns are the screen's columns, in order on the line: the fields with
// a screen tag (conn/columns.go) in its order, their cells as the tags
// say, and FLOWS after COMM. A view shows some of them (flowColumns,
// procColumns), less those the person hid with f.
var columns = screenColumns()

func screenColumns() []column {
	style := emit.CellStyle{Text: appendName} // rates without "/s": the headers say it
	var out []column
	for _, f := range conn.Layout(conn.Fields, conn.ScreenView) {
		v := f.Screen
		cell := emit.Cell(f, v, style)
		c := column{field: f.Name, name: v.Header, right: f.Right(), hidden: v.Hidden, endpoint: v.Port != "",
			cell: func(b []byte, r *Row) []byte { return cell(b, &r.Row) }}
		if f.Name == "state" { // CLOSED once closed; ESTAB, as ss says, where room is short
			c.cell = func(b []byte, r *Row) []byte { return appendName(b, stateOf(r)) }
			c.short = func(b []byte, r *Row) []byte { return appendName(b, shortStates.Replace(stateOf(r))) }
		}
		out = append(out, c)
		if f.Name == "comm" {
			out = append(out, column{name: "FLOWS", right: true,
				cell: func(b []byte, r *Row) []byte { return strconv.AppendInt(b, int64(r.Flows), 10) }})
		}
	}
	if len(out) > len(chooserKeys) {
		panic("screen: more columns than chooser keys")
	}
	return out
}

// colOf is the column of a field ("" for FLOWS).
func colOf(field string) int {
	i := slices.IndexFunc(columns, func(c column) bool { return c.field == field })
	if i < 0 {
		panic("screen: no column for field " + field)
	}
	return i
}

// The columns that sorts and fitting name.
var (
	colProto   = colOf("proto")
	colLocal   = colOf("local_addr")
	colRemote  = colOf("remote_addr")
	colPID     = colOf("pid")
	colComm    = colOf("comm")
	colFlows   = colOf("")
	colState   = colOf("state")
	colRxRate  = colOf("rate_in")
	colTxRate  = colOf("rate_out")
	colRx      = colOf("bytes_in")
	colTx      = colOf("bytes_out")
	colRTT     = colOf("rtt_us")
	colPktRx   = colOf("packets_in")
	colPktTx   = colOf("packets_out")
	colRetrans = colOf("retrans")
)

// flowColumns are the columns of the flow view: all but FLOWS.
// procColumns are those of the view by process (g), a process's flows
// summed: its keys (pid, comm), FLOWS, and the fields it sums.
var (
	flowColumns = columnsWhere(func(c column) bool { return c.field != "" })
	procColumns = columnsWhere(func(c column) bool {
		return c.field == "" || c.field == "pid" || c.field == "comm" || slices.Contains(conn.GroupSums, c.field)
	})
)

// hiddenAtStart are the columns f shows only when asked.
var hiddenAtStart = columnsWhere(func(c column) bool { return c.hidden })

func columnsWhere(keep func(c column) bool) []int {
	var out []int
	for j, c := range columns {
		if keep(c) {
			out = append(out, j)
		}
	}
	return out
}

// stateOf is a row's state as the screen says it: CLOSED once closed.
func stateOf(r *Row) string {
	if r.Closed || r.Gone {
		return "CLOSED"
	}
	return r.State
}

// shortStates are the states as ss writes them where the name is long.
var shortStates = strings.NewReplacer("ESTABLISHED", "ESTAB")

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
