// Package screen is tcptop's live screen for a person at a terminal: one
// screen redrawn in place each tick, as top, iftop and nethogs do. It has
// three parts:
//
//   - Layout (layout.go, status.go, columns.go, fit.go) is pure: a Frame
//     (the rows to show and what the summary says) and the terminal's
//     size in, the lines of the screen out. It never wraps a line:
//     columns are dropped or shortened to fit the width (fit.go says in
//     which order), rows are cut to fit the height.
//   - Model (model.go, keys.go, sorts.go) is the state between ticks,
//     also pure: the rows of the latest tick, closed connections kept for
//     a few ticks, the sort column and direction, pause, TCP/UDP only,
//     the typed filter, the columns shown, the view by process, help;
//     keys (documented once, in keyDocs) change it and it makes the Frame.
//   - Terminal and Screen (term.go, screen.go) are the terminal I/O: raw
//     mode, the alternate screen, one write per frame, keys, resizes, and
//     the terminal restored as it was on every way out.
package screen

import (
	"time"

	"github.com/tcptop/tcptop/internal/conn"
)

// Frame is everything one drawing of the screen shows.
type Frame struct {
	Time     time.Time     // when the tick's counters were read; zero before the first tick
	Interval time.Duration // time between ticks

	Rows  []Row // the rows to show, best first: at least as many as fit
	Total int   // rows in the list (Rows may hold fewer): "shown/total"
	Cols  []int // the columns to show, in order, before fitting the width

	// Counts of the tick's live rows (those --where, -p and the typed
	// filter let through, whatever t or u shows).
	TCP, UDP        int
	RateIn, RateOut float64 // bytes per second, summed
	Opened, Closed  int     // flows new in this tick, and flows that closed in it

	Drops       string    // kernel-side drops, "" if none
	Filter      string    // the --where expression (with -p folded in, and the typed filter), "" if none
	Message     string    // the latest warning, "" if none
	MessageTime time.Time // when it came

	Sort    string // the sort as the status line says it: "rate▼", or --sort's text
	SortCol []int  // the columns the sort reads, marked in the header
	Desc    bool   // largest first
	Proto   string // "tcp" or "udp" when only those are shown, else ""
	Procs   bool   // a row per process
	Names   bool   // REMOTE shows remote_name where a row has one
	Paused  bool
	Help    bool // show the keys instead of the rows

	Editing bool     // a filter is being typed: the status line is its prompt
	Edit    string   // what has been typed
	Choices []Choice // the column chooser, shown instead of the rows; nil if closed
}

// Choice is a column in the column chooser: the key that shows or hides
// it, its name, and whether it is shown.
type Choice struct {
	Key  byte
	Name string
	On   bool
}

// Row is one row of the screen: the flow's row as the tick had it, and
// whether it closed in an earlier tick (it stays on the screen, marked,
// for a few ticks); or in the view by process, a process's flows summed.
type Row struct {
	conn.Row
	Gone   bool
	Flows  int  // in the view by process: the process's flows
	opened bool // new in its tick, for the summary's count of opens
}

// Style is how a line is drawn, where colours are allowed.
type Style uint8

// Styles of lines.
const (
	Plain Style = iota
	Bold        // the column header
	Dim         // a closed connection
)

// Line is one line of the screen: its text, at most the screen's width in
// runes, and its style.
type Line struct {
	Text  string
	Style Style
}
