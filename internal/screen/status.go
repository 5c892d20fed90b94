package screen

import (
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/tcptop/tcptop/internal/emit"
)

// item is one part of a summary or status line; when the line is too
// wide, the items of lowest rank go first.
type item struct {
	text string
	rank int
}

// dropped marks where fitItems left items out.
const dropped = "…"

// fitItems joins items with two blanks, leaving out the lowest ranked
// until the line fits, with one "…" where the last of them was, and cuts
// what still does not fit.
func fitItems(items []item, width int) string {
	kept := make([]bool, len(items))
	for i, it := range items {
		kept[i] = it.text != ""
	}
	for {
		var parts []string
		lowest, n, mark := -1, 0, -1
		for i, it := range items {
			if !kept[i] {
				if it.text != "" {
					mark = len(parts)
				}
				continue
			}
			parts = append(parts, it.text)
			n++
			if lowest < 0 || it.rank < items[lowest].rank {
				lowest = i
			}
		}
		if mark >= 0 {
			parts = slices.Insert(parts, mark, dropped)
		}
		line := strings.Join(parts, "  ")
		if utf8.RuneCountInString(line) <= width || n <= 1 {
			return cut(line, width, false)
		}
		kept[lowest] = false
	}
}

// summaryItems: the time, the interval, rows shown of all, TCP and UDP,
// total rates, opens and closes, kernel-side drops.
func summaryItems(f *Frame, shown int) []item {
	if f.Time.IsZero() {
		return []item{{"tcptop", 1}, {"every " + interval(f.Interval), 2}}
	}
	what := "shown "
	if f.Procs {
		what = "processes "
	}
	return []item{
		{"tcptop", 1},
		{f.Time.Format(time.TimeOnly), 6},
		{"every " + interval(f.Interval), 3},
		{what + strconv.Itoa(shown) + "/" + strconv.Itoa(f.Total), 9},
		{"tcp " + strconv.Itoa(f.TCP) + " udp " + strconv.Itoa(f.UDP), 7},
		{"in " + rate(f.RateIn) + " out " + rate(f.RateOut), 10},
		{"opened " + strconv.Itoa(f.Opened) + " closed " + strconv.Itoa(f.Closed), 5},
		{f.Drops, 8},
	}
}

// keysHelp ends the status line, whatever its width.
const keysHelp = "? keys  q quit"

// statusLine is the sort, the filter, TCP or UDP only, the view by
// process, pause, and how to get help; while a filter is typed, its
// prompt.
func statusLine(f *Frame, width int) string {
	if f.Editing {
		return editLine(f.Edit, width)
	}
	items := []item{{"sort " + f.Sort, 7}}
	if f.Filter != "" {
		items = append(items, item{"where " + oneLine(f.Filter), 6})
	}
	if f.Proto != "" {
		items = append(items, item{strings.ToUpper(f.Proto) + " only", 9})
	}
	if f.Procs {
		items = append(items, item{"by process", 9})
	}
	if f.Paused {
		items = append(items, item{"PAUSED", 10})
	}
	return fitItems(append(items, item{keysHelp, 11}), width)
}

// editLine is the prompt of the filter being typed, its end in view, and
// what the keys do where there is room.
func editLine(text string, width int) string {
	const prompt, cursor, hint = "where> ", "_", "  Enter apply  Esc cancel"
	line := prompt + text + cursor
	if n := utf8.RuneCountInString(line); n > width {
		r := []rune(text + cursor)
		keep := max(width-utf8.RuneCountInString(prompt)-1, 0)
		line = prompt + "…" + string(r[max(len(r)-keep, 0):])
	} else if n+len(hint) <= width {
		line += hint
	}
	return cut(line, width, false)
}

// chooserLines are the column chooser: each column with its key, shown
// [x] or hidden [ ], as many to a line as fit.
func chooserLines(choices []Choice, width int) []Line {
	const cell = 16
	lines := textLines("Columns: a key shows or hides one; f or Enter closes this.", width)
	per := max(width/cell, 1)
	var b strings.Builder
	for i, c := range choices {
		mark := "[ ]"
		if c.On {
			mark = "[x]"
		}
		s := string(c.Key) + " " + mark + " " + c.Name
		if (i+1)%per != 0 && i+1 < len(choices) {
			s += strings.Repeat(" ", max(cell-utf8.RuneCountInString(s), 1))
		}
		b.WriteString(s)
		if (i+1)%per == 0 || i+1 == len(choices) {
			lines = append(lines, Line{Text: cut(b.String(), width, false)})
			b.Reset()
		}
	}
	return lines
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

func rate(v float64) string { return string(emit.AppendSize(nil, v, "/s")) }

// interval writes 1s, 500ms, 1m30s without the zero units Duration.String
// adds ("1m0s").
func interval(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

func emptyText(f *Frame) string {
	what, again := "connections", ""
	if f.Proto != "" {
		what = strings.ToUpper(f.Proto) + " connections"
		again = " (press " + f.Proto[:1] + " again for all)"
	}
	if f.Filter != "" {
		return "No " + what + " match the filter in this tick" + again + "."
	}
	if f.Proto != "" {
		return "No " + what + " in this tick" + again + "."
	}
	return "No connections in this tick: tcptop is watching and shows them as they come."
}

// textLines splits text into lines cut to width.
func textLines(text string, width int) []Line {
	var out []Line
	for l := range strings.SplitSeq(text, "\n") {
		out = append(out, Line{Text: cut(l, width, false)})
	}
	return out
}
