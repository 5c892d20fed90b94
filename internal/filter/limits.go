package filter

import (
	"errors"
	"fmt"
	"regexp/syntax"
	"strings"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/conf"
	"github.com/expr-lang/expr/parser"

	"github.com/tcptop/tcptop/internal/escape"
)

// Bounds on what a --where expression may cost. A row holds a few dozen
// short values, so no sensible expression comes near them; they make every
// expression's memory and time per row bounded by its length, and those
// that would run away fail at compile time where the values are constant
// (docs/design.md, "bad input", has the reasoning and the measurements):
//
//   - the text and expr's node count are bounded (and so the parser's
//     depth of nesting);
//   - expr's VM counts the elements of the ranges and lists it builds
//     against a budget per row; the steps of loops, nested or not, are
//     bounded at compile time (cost.go);
//   - the builtins that build a value from a value in a loop or share one
//     (let, map, reduce, join, toJSON, ...) are not offered: without them a
//     string or list can only grow by the size of the expression;
//   - repeat(), string(), split() and string + are ours (bounded.go): they
//     fail rather than build more than maxString bytes or memoryBudget
//     strings; a time's Format takes only a literal layout;
//   - a regular expression is at most maxPattern bytes and compiles to at
//     most maxPatternInsts instructions, is compiled once when it is a
//     constant, and through a small cache (patterns.go) when computed.
const (
	maxExprLen       = 8 << 10 // bytes of expression text
	maxNodes         = 2000    // expr's parser node limit (its default is 10,000)
	memoryBudget     = 10000   // expr's VM budget per row (its default is 1,000,000)
	maxString        = 1 << 10 // bytes a repeat(), string() or + may build
	maxPattern       = 1 << 10 // bytes of a regular expression
	maxPatternInsts  = 10000   // instructions of a compiled regular expression
	patternCacheSize = 16      // computed regular expressions kept compiled
)

// builtins lists the expr builtins --where offers: those that test,
// measure, pick or shrink values. The rest build values without a bound
// on their size; expr builtins added by a later version are left out until
// someone looks at them.
var builtins = map[string]bool{
	// predicates, which read a list and yield a verdict, a count or an element
	"all": true, "none": true, "any": true, "one": true, "filter": true, "count": true, "sum": true,
	"find": true, "findIndex": true, "findLast": true, "findLastIndex": true,
	// numbers
	"len": true, "abs": true, "ceil": true, "floor": true, "round": true, "int": true, "float": true,
	"max": true, "min": true, "mean": true, "median": true,
	"bitand": true, "bitor": true, "bitxor": true, "bitnand": true, "bitnot": true,
	"bitshl": true, "bitshr": true, "bitushr": true,
	// strings (upper and lower may grow a string by a fixed factor, not in a loop)
	"trim": true, "trimPrefix": true, "trimSuffix": true, "upper": true, "lower": true,
	"split": true, "splitAfter": true, "indexOf": true, "lastIndexOf": true,
	"hasPrefix": true, "hasSuffix": true,
	// times
	"now": true, "duration": true, "date": true, "timezone": true,
	// lists and maps
	"first": true, "last": true, "get": true, "take": true, "reverse": true, "uniq": true,
	"sort": true, "keys": true, "values": true, "type": true,
}

// builderHint says what to write instead of a builtin that is not offered.
func builderHint(name string) string {
	switch name {
	case "map", "reduce", "groupBy", "sortBy":
		return "test the elements with any(), all(), count() or filter() instead"
	}
	return "compare the parts instead, with ==, contains, startsWith or matches"
}

// checkLimits rejects, before expr compiles anything, an expression that
// is too long or uses what --where does not offer: a constant range too
// big for the budget (except as `x in a..b`, which intRanges turns into
// two comparisons), a literal regular expression over its bounds, let, a
// builtin not in builtins, a time Format of a computed layout.
func checkLimits(where string, opts []expr.Option) error {
	if len(where) > maxExprLen {
		return &Error{
			Message: fmt.Sprintf("the expression is %d bytes long", len(where)),
			Fix:     fmt.Sprintf("the limit is %d: write a shorter one", maxExprLen),
		}
	}
	cfg := conf.CreateNew()
	for _, op := range opts {
		op(cfg)
	}
	tree, err := parser.ParseWithConfig(where, cfg)
	if err != nil {
		return err // expr reports it the same way when it compiles
	}
	v := &limits{inRange: map[ast.Node]bool{}, sortDepth: map[ast.Node]int{}}
	ast.Walk(&tree.Node, v)
	for _, r := range v.ranges {
		if !v.inRange[r] {
			v.fail(r, fmt.Sprintf("the range %s is too big", r), fmt.Sprintf("at most %d elements; to test a value, write x in a..b", memoryBudget))
		}
	}
	if v.err == nil {
		return nil
	}
	e := v.err
	line, col := position(where, e.from)
	return &Error{Message: clip(escape.Line(e.msg), maxMessage), Line: line, Column: col + 1, Excerpt: excerpt(where, e.from), Fix: e.fix}
}

// limits is the visitor of checkLimits; it keeps the first violation.
type limits struct {
	err       *violation
	ranges    []ast.Node        // constant ranges over the budget
	inRange   map[ast.Node]bool // ranges that are the right side of in
	sortDepth map[ast.Node]int  // sort() calls nested in each, itself included
}

// maxSortDepth bounds sort() inside sort(): expr's checker checks a sort's
// argument several times over, so compiling takes about six times longer
// per level (nine levels took 2 s, 4 KB of them 70 s), and sorting a
// sorted list again gains nothing.
const maxSortDepth = 2

type violation struct {
	from     int // rune offset in the expression
	msg, fix string
}

func (v *limits) fail(n ast.Node, msg, fix string) {
	if v.err == nil {
		v.err = &violation{from: n.Location().From, msg: msg, fix: fix}
	}
}

// Visit implements ast.Visitor.
func (v *limits) Visit(node *ast.Node) {
	switch n := (*node).(type) {
	case *ast.VariableDeclaratorNode:
		v.fail(n, "let is not supported in --where", "write the value out where it is used")
	case *ast.BuiltinNode:
		if !builtins[n.Name] {
			v.fail(n, n.Name+"() is not supported in --where", builderHint(n.Name))
		}
		if n.Name == "sort" {
			v.sort(n)
		}
	case *ast.BinaryNode:
		v.binary(n)
	case *ast.CallNode:
		m, ok := n.Callee.(*ast.MemberNode)
		if !ok {
			return
		}
		if name, ok := m.Property.(*ast.StringNode); ok && strings.HasSuffix(name.Value, "Format") {
			for _, a := range n.Arguments {
				if _, ok := a.(*ast.StringNode); !ok {
					v.fail(n, name.Value+" of a computed layout is not supported in --where", `write the layout as a literal, as in timestamp.Format("15:04")`)
				}
			}
		}
	}
}

func (v *limits) binary(n *ast.BinaryNode) {
	switch n.Operator {
	case "..":
		from, okFrom := constInt(n.Left)
		to, okTo := constInt(n.Right)
		if okFrom && okTo && to-from+1 >= memoryBudget { // the VM fails at the budget
			v.ranges = append(v.ranges, n)
		}
	case "in":
		v.inRange[n.Right] = true
	case "matches":
		if s, ok := n.Right.(*ast.StringNode); ok {
			if _, err := compilePattern(s.Value); err != nil {
				fix := patternFix
				if errors.As(err, new(*syntax.Error)) {
					fix = "" // the message says what is wrong
				}
				v.fail(n.Right, err.Error(), fix)
			}
		}
	}
}

// constInt is the value of an integer literal, negative or not.
func constInt(n ast.Node) (int, bool) {
	switch x := n.(type) {
	case *ast.IntegerNode:
		return x.Value, true
	case *ast.UnaryNode:
		if i, ok := x.Node.(*ast.IntegerNode); ok && x.Operator == "-" {
			return -i.Value, true
		}
	}
	return 0, false
}

// sort records how deep sort() calls nest in n (its arguments were
// visited first) and refuses more than maxSortDepth.
func (v *limits) sort(n *ast.BuiltinNode) {
	inner := &deepestSort{depths: v.sortDepth}
	for i := range n.Arguments {
		ast.Walk(&n.Arguments[i], inner)
	}
	v.sortDepth[n] = inner.max + 1
	if inner.max+1 > maxSortDepth {
		v.fail(n, fmt.Sprintf("sort() inside sort() more than %d deep", maxSortDepth), "sort once, at the outside")
	}
}

// deepestSort finds the deepest nesting of sort() recorded in a subtree.
type deepestSort struct {
	depths map[ast.Node]int
	max    int
}

// Visit implements ast.Visitor.
func (d *deepestSort) Visit(node *ast.Node) { d.max = max(d.max, d.depths[*node]) }
