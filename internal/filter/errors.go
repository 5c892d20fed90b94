package filter

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"unicode/utf8"

	"github.com/expr-lang/expr/file"

	"github.com/tcptop/tcptop/internal/conn"
	"github.com/tcptop/tcptop/internal/escape"
)

// Error is a --where expression that does not compile, or that failed on a
// row, as one line: what is wrong, where (line:column, as expr counts
// them), a short excerpt of the expression around that place, and what to
// do about it when there is something to say. expr's own errors are
// several lines (the expression, then a caret line); a log line or a
// terminal wants one, and an expression of 100 KB must not be echoed whole.
type Error struct {
	Message string // what is wrong, shortened if it quotes a long input
	Line    int    // 1-based; 0 when the error has no position
	Column  int    // 1-based, in characters
	Excerpt string // the expression around the position, » before it
	Fix     string // what to do, or ""
}

// Error implements error:
//
//	unknown name rtt at 1:1 in `»rtt > 5000`: did you mean rtt_us? (tcptop --fields lists them)
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.Message)
	if e.Line > 0 {
		fmt.Fprintf(&b, " at %d:%d", e.Line, e.Column)
		if e.Excerpt != "" {
			fmt.Fprintf(&b, " in `%s`", e.Excerpt)
		}
	}
	if e.Fix != "" {
		b.WriteString(": ")
		b.WriteString(e.Fix)
	}
	return b.String()
}

// How much of the expression and of a message an Error shows, in
// characters: enough to find the place, never the whole of a long input.
const (
	excerptBefore = 40
	excerptAfter  = 20
	maxMessage    = 160
)

// oneLine turns an error from expr (a *file.Error, bound to the source or
// not) or from this package into an *Error for the expression src.
func oneLine(src string, err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	out := &Error{Message: err.Error()}
	var fe *file.Error
	if errors.As(err, &fe) {
		out.Message = fe.Message
		if fe.Snippet != "" { // bound to the expression: it has a place
			line, col := position(src, fe.From)
			out.Line, out.Column = line, col+1
			out.Excerpt = excerpt(src, fe.From)
		}
	}
	out.Message = clip(escape.Line(strings.TrimSpace(out.Message)), maxMessage)
	out.Fix = fixFor(out.Message)
	return out
}

// position is the 1-based line and 0-based column (in runes) of the rune
// at offset from (as file.Location counts) in src.
func position(src string, from int) (line, col int) {
	line = 1
	n := 0
	for _, r := range src {
		if n == from {
			break
		}
		if r == '\n' {
			line, col = line+1, 0
		} else {
			col++
		}
		n++
	}
	return line, col
}

// excerpt is the line of src holding rune offset from, cut to at most
// excerptBefore characters before that place and excerptAfter from it
// (… marks a cut), with » inserted at the place. The characters are
// counted as printed: a byte that prints as \xNN counts four, so an
// expression of such bytes cannot make the error long. Each piece keeps
// its bytes (an invalid one prints as itself, \xNN, not as U+FFFD).
func excerpt(src string, from int) string {
	pieces := printedPieces(src)
	from = min(max(from, 0), len(pieces))
	start, end := from, from
	for start > 0 && pieces[start-1] != "\n" {
		start--
	}
	for end < len(pieces) && pieces[end] != "\n" {
		end++
	}
	before, after := pieces[start:from], pieces[from:end]
	if width(before)+width(after) <= excerptBefore+excerptAfter { // short enough to show whole
		return strings.Join(before, "") + "»" + strings.Join(after, "")
	}
	var b strings.Builder
	if width(before) > excerptBefore {
		n := len(before)
		for w := 0; n > 0 && w+utf8.RuneCountInString(before[n-1]) <= excerptBefore-1; n-- {
			w += utf8.RuneCountInString(before[n-1])
		}
		before = before[n:]
		b.WriteString("…")
	}
	b.WriteString(strings.Join(before, ""))
	b.WriteString("»")
	cut := width(after) > excerptAfter
	if cut {
		n := 0
		for w := 0; n < len(after) && w+utf8.RuneCountInString(after[n]) <= excerptAfter-1; n++ {
			w += utf8.RuneCountInString(after[n])
		}
		after = after[:n]
	}
	b.WriteString(strings.Join(after, ""))
	if cut {
		b.WriteString("…")
	}
	return b.String()
}

// printedPieces splits src into its characters as expr counts them (an
// invalid byte is one), each as printed on stderr (escape.Line); a
// newline is the piece "\n".
func printedPieces(src string) []string {
	var pieces []string
	for i := 0; i < len(src); {
		_, size := utf8.DecodeRuneInString(src[i:])
		if src[i] == '\n' {
			pieces = append(pieces, "\n")
		} else {
			pieces = append(pieces, escape.Line(src[i:i+size]))
		}
		i += size
	}
	return pieces
}

// width is the number of characters pieces print as.
func width(pieces []string) int {
	n := 0
	for _, p := range pieces {
		n += utf8.RuneCountInString(p)
	}
	return n
}

// clip shortens s to at most n characters, keeping its start and end.
func clip(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	head := n * 2 / 3
	return string(r[:head]) + "…" + string(r[len(r)-(n-head-1):])
}

// fixFor says what to do about the errors that have a usual cause.
func fixFor(msg string) string {
	switch {
	case strings.HasPrefix(msg, "unknown name "):
		name := strings.TrimPrefix(msg, "unknown name ")
		if looksLikeValue(name) {
			return fmt.Sprintf(`quote a string value: %q, as in proto == "tcp"`, name)
		}
		if s := suggest(name); s != "" {
			return "did you mean " + s + "? (tcptop --fields lists the names)"
		}
		return `tcptop --fields lists the names; quote a string value, as in proto == "tcp"`
	case strings.Contains(msg, "mismatched types"), strings.HasPrefix(msg, "cannot use "):
		return "compare a field with a value of its type (tcptop --fields lists the types)"
	case strings.HasPrefix(msg, "expected bool"):
		return "the expression must be true or false for a row, as in rtt_us > 5000"
	case strings.Contains(msg, "exceeds maximum allowed nodes"):
		return fmt.Sprintf("at most %d names, values and operators: write a shorter expression", maxNodes)
	case strings.HasPrefix(msg, "unexpected token"), strings.HasPrefix(msg, "unterminated"),
		strings.HasPrefix(msg, "literal not terminated"):
		return `check the syntax at the marker: strings take "quotes", && and || join conditions`
	}
	return ""
}

// suggest returns the schema name or function closest to an unknown name,
// or "" if none is close: a Go field name of conn.Row (RTTMicros) gives
// its schema name, anything else the nearest name by edit distance, ties
// going to the longer common prefix, then to schema order.
func suggest(name string) string {
	rowType := reflect.TypeFor[conn.Row]()
	for _, f := range conn.Fields {
		if strings.EqualFold(rowType.Field(f.Index).Name, name) {
			return f.Name
		}
	}
	candidates := append(conn.FieldNames(), functionNames...)
	lower := strings.ToLower(name)
	best, bestDist, bestPrefix := "", 0, 0
	for _, c := range candidates {
		d, p := levenshtein(lower, c), commonPrefix(lower, c)
		if best == "" || d < bestDist || d == bestDist && p > bestPrefix {
			best, bestDist, bestPrefix = c, d, p
		}
	}
	if bestDist > max(len(lower), len(best))/2 {
		return ""
	}
	return best
}

// looksLikeValue says whether an unknown name is rather a value written
// without quotes: a protocol, a family, or a state (upper case).
func looksLikeValue(name string) bool {
	switch name {
	case "tcp", "udp", "ipv4", "ipv6":
		return true
	}
	return len(name) > 1 && strings.ToUpper(name) == name && strings.ToLower(name) != name
}

// functionNames are the functions --where offers, for suggestions.
var functionNames = []string{"cidr", "in_cidr", "is_loopback", "is_private"}

func commonPrefix(a, b string) int {
	n := 0
	for n < len(a) && n < len(b) && a[n] == b[n] {
		n++
	}
	return n
}

// levenshtein is the edit distance between a and b, in bytes (names are
// ASCII). Long inputs are cut: a name of 100 KB is no typo.
func levenshtein(a, b string) int {
	const most = 64
	a, b = a[:min(len(a), most)], b[:min(len(b), most)]
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
