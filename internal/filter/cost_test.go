package filter

import (
	"fmt"
	"strings"
	"testing"
)

// nested is all() nested levels deep over a literal list of n zeros, the
// expression of issue 17: 1.7 s per row at 3 levels of 300, and 30 s
// without a row written at 4 levels of 440.
func nested(levels, n int) string {
	list := "[" + strings.TrimSuffix(strings.Repeat("0,", n), ",") + "]"
	return strings.Repeat("all("+list+",{", levels) + "pid>=0" + strings.Repeat("})", levels)
}

// TestCostRejected: expressions whose work per row multiplies past
// maxCost fail in Compile, on one line that names the part and the fix.
func TestCostRejected(t *testing.T) {
	for _, where := range []string{
		nested(4, 440),
		nested(3, 300),
		`all(1..9999, all(1..9999, true))`,
		`any(1..9999, any(1..pid, # > 0))`,
		`count(1..5000, string(1..9000) != "") > 0`,
		`any(split(cgroup, ""), any(split(cgroup, ""), # == "x"))`,
		`any(1..500, cgroup matches "[a-z]+x[0-9]+y")`,
		`any(1..9999, comm + comm + comm + comm matches "a" + comm)`,
		`len(uniq(1..800)) > 0`,
		`any(1..200, len(sort(split(repeat(comm, 20), ""))) > 0)`,
	} {
		_, err := Compile(where)
		if err == nil {
			t.Errorf("Compile(%.80q): no error", where)
			continue
		}
		checkOneLine(t, where, err, fmt.Sprintf("steps per row, over the %d that --where allows", maxCost))
		checkOneLine(t, where, err, "nest fewer all()")
	}
}

// TestCostAccepted: expressions of real use, and some that loop, stay
// within the bound, which is at least the steps they take on each row.
func TestCostAccepted(t *testing.T) {
	rows := append(fuzzRows(), longRow())
	for _, where := range []string{
		`comm == "curl" && rtt_us > 5000`,
		`cgroup matches "^/kubepods.*/[a-f0-9]{64}"`,
		`any(["curl", "wget", "nginx"], comm startsWith #)`,
		`count(1..9999, # % 2 == 0) == 4999`,
		nested(2, 300),
		`all(1..pid, # > 0)`,
		`any(split(comm, "-"), # == "nginx") || any(split(cgroup, ""), # == "@")`,
		`len(filter(split(repeat(comm, 9), ""), # != "a")) > 3`,
		`string(1..rtt_us) != "" || true`,
		`timestamp.Format("2006-01-02 Monday") contains "Mon"`,
		`upper(comm) + "/" + lower(state) == "CURL/established"`,
		`remote_addr in ["10.1.2.3", "fd12::1"] && local_addr startsWith "192."`,
		`len(uniq(split(comm, ""))) < 10 && sort(split(state, ""))[0] != "x"`,
	} {
		if _, err := Compile(where); err != nil {
			t.Errorf("Compile(%.80q): %v", where, err)
			continue
		}
		checkMeasured(t, where, rows)
	}
}

// FuzzCost generates expressions from bytes (loops nested over literal
// lists, ranges and splits; string functions; patterns), compiles each,
// and for those accepted checks that the steps measured on each row
// (meter_test.go) are within the bound, and the bound within maxCost.
func FuzzCost(f *testing.F) {
	for _, seed := range []string{
		"\x00\x05\x10\x00\x05\x10\x00\x05\x10",
		"\x00\xff\xff\x00\xff\xff\x01",
		"\x00\x03\x40\x02\x07\x00\x03\x02",
		"\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a",
		"\x00\x04\x01\x00\x04\x01\x03\x05",
		"\x00\x06\x00\x06\x00\x06\x00\x06\x01\x01",
		"\x03\x00\x01\x00\x02\x00\x0b\x09",
	} {
		f.Add([]byte(seed))
	}
	rows := append(fuzzRows(), longRow())
	f.Fuzz(func(t *testing.T, data []byte) {
		g := &gen{data: data}
		where := g.boolean(0, "")
		if _, err := Compile(where); err != nil {
			checkFuzzError(t, where, err)
			return
		}
		checkMeasured(t, where, rows)
	})
}

// gen writes an expression from fuzz bytes; past the end it reads zeros,
// which end the recursion.
type gen struct {
	data []byte
	pos  int
}

func (g *gen) next() int {
	if g.pos >= len(g.data) {
		return 0
	}
	b := g.data[g.pos]
	g.pos++
	return int(b)
}

// boolean is a condition; item is the type of # ("num", "str" or "").
func (g *gen) boolean(depth int, item string) string {
	if depth > 5 {
		return g.leaf(item)
	}
	switch g.next() % 6 {
	case 0:
		list, elem := g.list(depth)
		loop := []string{"all", "any", "none", "one"}[g.next()%4]
		return fmt.Sprintf("%s(%s, %s)", loop, list, g.boolean(depth+1, elem))
	case 1:
		list, elem := g.list(depth)
		return fmt.Sprintf("count(%s, %s) >= %d", list, g.boolean(depth+1, elem), g.next())
	case 2:
		return fmt.Sprintf("(%s %s %s)", g.boolean(depth+1, item), []string{"&&", "||"}[g.next()%2], g.boolean(depth+1, item))
	case 3:
		return fmt.Sprintf("%s matches %q", g.text(depth, item), []string{"a", "^/x[0-9]+$", "(a|b)*c", "[a-f0-9]{64}", `\pL{30}`}[g.next()%5])
	case 4:
		return fmt.Sprintf("len(%s) %s %d", g.text(depth, item), []string{">", "<"}[g.next()%2], g.next())
	}
	list, _ := g.list(depth)
	return fmt.Sprintf("len(%s) >= %d", list, g.next())
}

func (g *gen) leaf(item string) string {
	switch item {
	case "num":
		return "# >= pid"
	case "str":
		return `# != comm`
	}
	return "pid >= 0"
}

// list is a list expression and the type of its elements.
func (g *gen) list(depth int) (string, string) {
	n := g.next()*g.next() + g.next()
	switch g.next() % 8 {
	case 0:
		return "[" + strings.TrimSuffix(strings.Repeat("0,", min(n, 3000)), ",") + "]", "num"
	case 1:
		return fmt.Sprintf("1..%d", n), "num"
	case 2:
		return "1..pid", "num"
	case 3:
		return fmt.Sprintf("split(%s, %q)", g.text(depth, ""), []string{"", "/", "a"}[n%3]), "str"
	case 4:
		inner, elem := g.list(depth + 1)
		return fmt.Sprintf("%s(%s)", []string{"sort", "uniq", "reverse"}[n%3], inner), elem
	case 5:
		inner, elem := g.list(depth + 1)
		return fmt.Sprintf("filter(%s, %s)", inner, g.boolean(depth+1, elem)), elem
	case 6:
		return `["a", "bb", comm, cgroup]`, "str"
	}
	return fmt.Sprintf("take(1..%d, %d)", n, g.next()), "num"
}

// text is a string expression.
func (g *gen) text(depth int, item string) string {
	if item == "str" && g.next()%2 == 0 {
		return "#"
	}
	switch g.next() % 7 {
	case 0:
		return "comm"
	case 1:
		return "cgroup"
	case 2:
		return fmt.Sprintf("repeat(%s, %d)", g.text(depth+1, item), g.next())
	case 3:
		return fmt.Sprintf("upper(%s)", g.text(depth+1, item))
	case 4:
		return fmt.Sprintf("(%s + %s)", g.text(depth+1, item), g.text(depth+1, item))
	case 5:
		list, _ := g.list(depth + 1)
		return fmt.Sprintf("string(%s)", list)
	}
	return "state"
}

// BenchmarkCost matches a row against a simple expression and against
// the costliest accepted ones of each kind: the ratio of their times per
// row is the price of the bound; their absolute times go in the README.
func BenchmarkCost(b *testing.B) {
	r := longRow()
	for _, bc := range []struct{ name, where string }{
		{"simple", `comm == "curl" && rtt_us > 5000`},
		{"simple-vm", `comm + "x" == "curlx" && rtt_us % 2 == 0`},
		{"loops-2-deep", nested(2, 446)},
		{"loops-3-deep", nested(3, 58)},
		{"ranges-2-deep", `count(1..9999, count(1..13, # % 7 == 0) > 0) > 0`},
		{"pattern", `cgroup matches "` + strings.Repeat("[a-z/]", 170) + `"`},
		{"pattern-backtracking", `cgroup matches "` + strings.Repeat("(a|b|/)*", 30) + `c"`},
		{"patterns-in-loop", `any(1..16, cgroup matches "a.b.c.d.e(f|g)")`},
		{"uniq", `len(uniq(1..705)) > 0`},
	} {
		f, err := Compile(bc.where)
		if err != nil {
			b.Fatalf("%s: %v", bc.name, err)
		}
		bound, _ := (&costs{}).node(f.prog.Node())
		b.Run(bc.name, func(b *testing.B) {
			for b.Loop() {
				_, _ = f.Match(r)
			}
			b.ReportMetric(bound, "steps")
		})
	}
}
