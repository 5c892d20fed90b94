package filter

import (
	"fmt"
	"reflect"
	"strings"

	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/vm/runtime"
)

// The functions and rewrites that keep what an expression builds within
// the bounds of limits.go where expr's own would not.

// boundedRepeat is repeat() in --where: strings.Repeat that refuses to
// build more than maxString bytes. Like cidr it panics, so that a constant
// call fails at compile time with its position (expr.ConstExpr).
func boundedRepeat(s string, n int) string {
	switch {
	case n < 0:
		panic(fmt.Errorf("repeat(…, %d): the count must be 0 or more", n))
	case n > 0 && len(s) > maxString/n:
		panic(fmt.Errorf("repeat() would build %d bytes, over the %d that --where allows", uint64(len(s))*uint64(n), maxString))
	}
	return strings.Repeat(s, n)
}

// boundedString is string() in --where: expr's (the value formatted with
// %v), failing for a result over maxString bytes, as of a long list.
func boundedString(v any) string {
	s := fmt.Sprintf("%v", v)
	if len(s) > maxString {
		panic(fmt.Errorf("string() of a %s would be %d bytes, over the %d that --where allows", kindName(v), len(s), maxString))
	}
	return s
}

func kindName(v any) string {
	if v == nil {
		return "nil"
	}
	return reflect.TypeOf(v).Kind().String()
}

// intRanges rewrites `x in a..b`, for an integer x and literal bounds, to
// `x >= a and x <= b`, as expr's optimizer does for int but not for the
// int64 of most fields: otherwise the VM builds the list a..b for every
// row, against its budget.
type intRanges struct{}

// Visit implements ast.Visitor.
func (intRanges) Visit(node *ast.Node) {
	n, ok := (*node).(*ast.BinaryNode)
	if !ok || n.Operator != "in" || n.Left.Type() == nil {
		return
	}
	if !integerKind(n.Left.Type().Kind()) {
		return
	}
	r, ok := n.Right.(*ast.BinaryNode)
	if !ok || r.Operator != ".." {
		return
	}
	_, okFrom := constInt(r.Left)
	_, okTo := constInt(r.Right)
	if !okFrom || !okTo {
		return
	}
	between := &ast.BinaryNode{
		Operator: "and",
		Left:     &ast.BinaryNode{Operator: ">=", Left: n.Left, Right: r.Left},
		Right:    &ast.BinaryNode{Operator: "<=", Left: n.Left, Right: r.Right},
	}
	for _, b := range []ast.Node{between, between.Left, between.Right} {
		b.SetLocation(n.Location())
	}
	ast.Patch(node, between)
}

// boundedSplit is split() (or splitAfter(), after) in --where: expr's,
// failing rather than making more than memoryBudget strings, which the VM
// would not count against its budget.
func boundedSplit(after bool) func(params ...any) (any, error) {
	return func(params ...any) (any, error) {
		s, sep := params[0].(string), params[1].(string)
		n := -1
		if len(params) == 3 {
			n = params[2].(int)
		}
		parts := strings.Count(s, sep) + 1 // for sep "", one per character, plus one
		if n >= 0 {
			parts = min(parts, n)
		}
		if parts > memoryBudget {
			return nil, fmt.Errorf("split() would make %d strings, over the %d that --where allows", parts, memoryBudget)
		}
		if after {
			return strings.SplitAfterN(s, sep, n), nil
		}
		return strings.SplitN(s, sep, n), nil
	}
}

// boundedConcat is string + string in --where: it fails rather than build
// more than maxString bytes, so that a chain of + (each step copies what
// came before) costs at most its length times maxString. Like repeat it
// panics, for a compile error with a position when both are constant.
func boundedConcat(a, b string) string {
	if len(a)+len(b) > maxString {
		panic(concatTooLong(len(a) + len(b)))
	}
	return a + b
}

func concatTooLong(n int) error {
	return fmt.Errorf("+ would build a string of %d bytes, over the %d that --where allows", n, maxString)
}

// plus is + of operands whose type is known only at run time (elements
// of a list): expr's +, bounded for strings as boundedConcat.
func plus(params ...any) (any, error) {
	a, aok := params[0].(string)
	b, bok := params[1].(string)
	if aok && bok && len(a)+len(b) > maxString {
		return nil, concatTooLong(len(a) + len(b))
	}
	return runtime.Add(params[0], params[1]), nil
}

// Names of the functions boundedPlus calls.
const (
	fnConcat = "concat"
	fnPlus   = "plus"
)

// bounded puts the bounded functions where expr would use its own:
//
//	a + b          concat(a, b) when both are strings, plus(a, b) when
//	               either has a type known only at run time (which may be
//	               a string); numbers, times and durations keep expr's +
//	repeat(s, n)   repeat(s, int(n)) for an n of another integer type
//	               (int64 fields), as expr's repeat takes any integer
type bounded struct{}

// Visit implements ast.Visitor.
func (bounded) Visit(node *ast.Node) {
	switch n := (*node).(type) {
	case *ast.BinaryNode:
		if n.Operator != "+" {
			return
		}
		l, r := n.Left.Type(), n.Right.Type()
		switch {
		case l == stringType && r == stringType:
			ast.Patch(node, call(n, fnConcat, stringType, n.Left, n.Right))
		case unknownType(l) || unknownType(r):
			ast.Patch(node, call(n, fnPlus, anyType, n.Left, n.Right))
		}
	case *ast.CallNode:
		id, ok := n.Callee.(*ast.IdentifierNode)
		if !ok || id.Value != "repeat" || len(n.Arguments) != 2 {
			return
		}
		if t := n.Arguments[1].Type(); t != nil && t.Kind() != reflect.Int && integerKind(t.Kind()) {
			count := &ast.BuiltinNode{Name: "int", Arguments: []ast.Node{n.Arguments[1]}}
			count.SetLocation(n.Arguments[1].Location())
			count.SetType(reflect.TypeFor[int]())
			n.Arguments[1] = count
		}
	}
}

var anyType = reflect.TypeFor[any]()

func unknownType(t reflect.Type) bool { return t == nil || t.Kind() == reflect.Interface }

func integerKind(k reflect.Kind) bool {
	switch k {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return true
	}
	return false
}
