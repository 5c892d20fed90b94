package filter

import (
	"math"
	"reflect"
	"unicode/utf8"

	"github.com/expr-lang/expr/ast"
)

// The cost of calls: expr's builtins, the functions of the environment
// (funcs.go, bounded.go, patterns.go) and methods (timestamp.Format).

func (c *costs) call(x *ast.CallNode) (float64, *shape) {
	cost, args := c.args(x.Arguments)
	name := ""
	switch callee := x.Callee.(type) {
	case *ast.IdentifierNode:
		name = callee.Value
	case *ast.MemberNode:
		cc, _ := c.node(callee.Node)
		cost += cc
		name = "." // a method: of a time, a duration, a location
	}
	extra, sh := c.function(name, x.Arguments, args, x.Type())
	return cost + extra, sh
}

func (c *costs) builtin(x *ast.BuiltinNode) (float64, *shape) {
	if !hasClosure(x) {
		cost, args := c.args(x.Arguments)
		extra, sh := c.function(x.Name, x.Arguments, args, x.Type())
		return cost + extra, sh
	}
	// A loop: the list once, then each closure once per element, with #
	// an element. Other arguments (a count()'s threshold) once.
	cost, list := c.node(x.Arguments[0])
	item := elemOf(list)
	c.items = append(c.items, item)
	body := 0.0
	for _, a := range x.Arguments[1:] {
		ac, _ := c.node(a)
		if _, ok := a.(*ast.PredicateNode); ok {
			body += ac
		} else {
			cost += ac
		}
	}
	if x.Map != nil { // filter() and map() folded into one loop
		mc, _ := c.node(x.Map)
		body += mc
	}
	c.items = c.items[:len(c.items)-1]
	cost += list.n * body
	switch x.Name {
	case "filter":
		return cost, list
	case "find", "findLast":
		return cost, item
	}
	return cost, scalar
}

func hasClosure(x *ast.BuiltinNode) bool {
	if x.Map != nil {
		return true
	}
	for _, a := range x.Arguments {
		if _, ok := a.(*ast.PredicateNode); ok {
			return true
		}
	}
	return false
}

func (c *costs) args(nodes []ast.Node) (float64, []*shape) {
	cost, shapes := 0.0, make([]*shape, len(nodes))
	for i, a := range nodes {
		var ac float64
		ac, shapes[i] = c.node(a)
		cost += ac
	}
	return cost, shapes
}

// function is the work of a call beyond reading its arguments (the
// elements and bytes of its result are counted by node), and the shape of
// what it returns.
func (c *costs) function(name string, nodes []ast.Node, args []*shape, out reflect.Type) (float64, *shape) {
	arg := func(i int) *shape {
		if i < len(args) {
			return args[i]
		}
		return scalar
	}
	a := arg(0)
	switch name {
	case "sort", "median":
		return a.n * math.Log2(a.n+2) * (1 + elemOf(a).n), a
	case "uniq":
		// Each element compared with those kept, by reflection: twice
		// the time of a step (BenchmarkCost).
		return 2 * a.n * a.n * (1 + elemOf(a).n), a
	case "reverse", "take":
		return 0, a
	case "keys":
		return 0, &shape{n: a.n, elem: anyElement}
	case "values":
		return 0, &shape{n: a.n, elem: elemOf(a)}
	case "first", "last", "get":
		return 0, elemOf(a)
	case "upper", "lower":
		return 0, &shape{n: 3 * a.n} // an invalid byte becomes U+FFFD
	case "trim", "trimPrefix", "trimSuffix":
		return 0, a
	case "split", "splitAfter":
		return 0, splitShape(a, nodes[1])
	case "type":
		return 0, &shape{n: numBytes}
	case "repeat":
		return maxString, &shape{n: maxString}
	case "string":
		printed := printedBytes(a, 0)
		return printed, &shape{n: math.Min(printed, maxString)}
	case fnConcat, fnPlus:
		return 0, &shape{n: math.Min(a.n+arg(1).n, maxString)}
	case "regex":
		return maxPatternInsts, scalar // compiling, at worst
	case fnReMatch:
		return a.n * literalInsts(nodes[1]), scalar
	case fnAddrIn:
		b := arg(1)
		return b.n * (1 + elemOf(b).n), scalar
	case fnAddrText:
		return 0, &shape{n: addrBytes}
	case fnTimeText:
		return 0, &shape{n: timeBytes}
	case ".":
		// Format and String of a time or duration: each byte of a layout
		// writes at most a few (Wednesday, September, .000000000), String
		// about 60 (with the monotonic clock's reading).
		if out != nil && out.Kind() == reflect.String {
			return 0, &shape{n: 10*a.n + 128}
		}
		return 0, scalar
	}
	// The rest read their arguments once (counted) and return a scalar,
	// or are unknown here: a string or list of the widest bounds.
	switch {
	case out == nil || out.Kind() == reflect.Interface:
		return 0, anyElement
	case out.Kind() == reflect.String:
		return 0, anyString
	case out.Kind() == reflect.Slice || out.Kind() == reflect.Map:
		return 0, anyList
	}
	return 0, scalar
}

// printedBytes bounds what fmt's %v writes for a value of shape s.
func printedBytes(s *shape, depth int) float64 {
	if s.elem == nil || depth > maxNodes {
		return math.Max(s.n, numBytes)
	}
	return 2 + s.n*(1+2*printedBytes(s.elem, depth+1)) // a map's key and value
}

// splitShape bounds the parts of a string of shape s split at sep: with a
// literal separator of k bytes at most n/k+1 of them (one a rune, at most
// 4 bytes, for ""), and never more than split makes.
func splitShape(s *shape, sep ast.Node) *shape {
	parts, elem := s.n+1, s
	if lit, ok := sep.(*ast.StringNode); ok {
		if k := len(lit.Value); k > 0 {
			parts = s.n/float64(k) + 1
		} else {
			elem = &shape{n: math.Min(s.n, utf8.UTFMax)}
		}
	}
	return &shape{n: math.Min(parts, memoryBudget), elem: elem}
}
