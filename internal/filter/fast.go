package filter

import (
	"fmt"
	"net/netip"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"

	"github.com/tcptop/tcptop/internal/conn"
)

// The fast path: expr checks (and patches, and folds) an expression into
// a typed tree; compileFast turns the common subset of such trees into Go
// closures over *conn.Row, which run without boxing a value or walking a
// stack. The subset: fields, literals and folded constants, && || !,
// comparisons, + - * / on numbers, contains, startsWith, endsWith,
// matches a constant pattern, in a constant list, the address helpers
// and date("literal"). Anything else (%, which can fail at run time,
// + on strings, which fails past its bound (bounded.go), now(), closures
// over arrays, ...) makes the whole expression run on expr's VM instead. Both paths call the same functions for the address
// and time semantics (funcs.go), and a test runs a corpus of expressions
// through both.

// kind is the Go type a compiled node yields.
type kind uint8

const (
	kBool kind = iota + 1
	kInt
	kFloat
	kString
	kAddr
	kTime
)

// node is a compiled subexpression: one of the closures, by kind. A
// constant also keeps its value, so that callers can fold on it.
type node struct {
	kind kind
	b    func(*conn.Row) bool
	i    func(*conn.Row) int64
	f    func(*conn.Row) float64
	s    func(*conn.Row) string
	a    func(*conn.Row) netip.Addr
	t    func(*conn.Row) time.Time

	konst any // the value of a constant node, else nil
}

// unsupported says the fast path does not cover a node.
type unsupported struct{ what string }

func (u unsupported) Error() string { return "not compiled: " + u.what }

// compileFast compiles a checked tree into a predicate, or says why not.
func compileFast(n ast.Node) (func(*conn.Row) bool, error) {
	c, err := compileNode(n)
	if err != nil {
		return nil, err
	}
	if c.kind != kBool {
		return nil, unsupported{"a result that is not a boolean"}
	}
	return c.b, nil
}

func compileNode(n ast.Node) (node, error) {
	switch x := n.(type) {
	case *ast.IdentifierNode:
		return field(x.Value)
	case *ast.IntegerNode:
		return konst(int64(x.Value)), nil
	case *ast.FloatNode:
		return konst(x.Value), nil
	case *ast.StringNode:
		return konst(x.Value), nil
	case *ast.BoolNode:
		return konst(x.Value), nil
	case *ast.ConstantNode:
		return constant(x.Value)
	case *ast.UnaryNode:
		return unary(x)
	case *ast.BinaryNode:
		return binary(x)
	case *ast.CallNode:
		return callNode(x)
	case *ast.BuiltinNode:
		return builtin(x)
	}
	return node{}, unsupported{fmt.Sprintf("%T", n)}
}

// fields maps schema names to their compiled readers, built from
// conn.Fields when the package loads.
var fields = func() map[string]node {
	out := make(map[string]node, len(conn.Fields))
	for _, f := range conn.Fields {
		switch f.Type {
		case reflect.TypeFor[bool]():
			out[f.Name] = node{kind: kBool, b: conn.Getter[bool](f)}
		case reflect.TypeFor[int]():
			get := conn.Getter[int](f)
			out[f.Name] = node{kind: kInt, i: func(r *conn.Row) int64 { return int64(get(r)) }}
		case reflect.TypeFor[int64]():
			out[f.Name] = node{kind: kInt, i: conn.Getter[int64](f)}
		case reflect.TypeFor[float64]():
			out[f.Name] = node{kind: kFloat, f: conn.Getter[float64](f)}
		case reflect.TypeFor[string]():
			out[f.Name] = node{kind: kString, s: conn.Getter[string](f)}
		case reflect.TypeFor[netip.Addr]():
			out[f.Name] = node{kind: kAddr, a: conn.Getter[netip.Addr](f)}
		case reflect.TypeFor[time.Time]():
			out[f.Name] = node{kind: kTime, t: conn.Getter[time.Time](f)}
		}
	}
	return out
}()

func field(name string) (node, error) {
	if n, ok := fields[name]; ok {
		return n, nil
	}
	return node{}, unsupported{"name " + name}
}

// konst is a constant of a kind the fast path computes with.
func konst(v any) node {
	switch x := v.(type) {
	case bool:
		return node{kind: kBool, b: func(*conn.Row) bool { return x }, konst: x}
	case int64:
		return node{kind: kInt, i: func(*conn.Row) int64 { return x }, konst: x}
	case float64:
		return node{kind: kFloat, f: func(*conn.Row) float64 { return x }, konst: x}
	case string:
		return node{kind: kString, s: func(*conn.Row) string { return x }, konst: x}
	case time.Time:
		return node{kind: kTime, t: func(*conn.Row) time.Time { return x }, konst: x}
	}
	panic(fmt.Sprintf("filter: konst of %T", v))
}

// constant is a value expr folded at compile time. Lists and prefixes
// have no kind of their own: they are only operands of in and in_cidr,
// which read konst.
func constant(v any) (node, error) {
	switch x := v.(type) {
	case bool, float64, string, time.Time:
		return konst(x), nil
	case int:
		return konst(int64(x)), nil
	case CIDR, Regex, []any, map[string]struct{}, map[int]struct{}:
		return node{konst: x}, nil
	}
	return node{}, unsupported{fmt.Sprintf("constant %T", v)}
}

func unary(x *ast.UnaryNode) (node, error) {
	c, err := compileNode(x.Node)
	if err != nil {
		return node{}, err
	}
	switch {
	case (x.Operator == "!" || x.Operator == "not") && c.kind == kBool:
		return node{kind: kBool, b: func(r *conn.Row) bool { return !c.b(r) }}, nil
	case x.Operator == "-" && c.kind == kInt:
		return node{kind: kInt, i: func(r *conn.Row) int64 { return -c.i(r) }}, nil
	case x.Operator == "-" && c.kind == kFloat:
		return node{kind: kFloat, f: func(r *conn.Row) float64 { return -c.f(r) }}, nil
	case x.Operator == "+" && (c.kind == kInt || c.kind == kFloat):
		return c, nil
	}
	return node{}, unsupported{"unary " + x.Operator}
}

// asFloat reads a number as a float64, as expr mixes int and float.
func asFloat(c node) func(*conn.Row) float64 {
	if c.kind == kFloat {
		return c.f
	}
	return func(r *conn.Row) float64 { return float64(c.i(r)) }
}

func isNumber(c node) bool { return c.kind == kInt || c.kind == kFloat }

func binary(x *ast.BinaryNode) (node, error) {
	l, err := compileNode(x.Left)
	if err != nil {
		return node{}, err
	}
	if x.Operator == "in" {
		return in(l, x.Right)
	}
	r, err := compileNode(x.Right)
	if err != nil {
		return node{}, err
	}
	switch x.Operator {
	case "&&", "and", "||", "or":
		return logic(x.Operator, l, r)
	case "==", "!=", "<", ">", "<=", ">=":
		return compare(x.Operator, l, r)
	case "+", "-", "*", "/":
		return arith(x.Operator, l, r)
	case "contains", "startsWith", "endsWith", "matches":
		return stringOp(x.Operator, l, r)
	}
	return node{}, unsupported{"operator " + x.Operator}
}

func logic(op string, l, r node) (node, error) {
	if l.kind != kBool || r.kind != kBool {
		return node{}, unsupported{op + " of non-booleans"}
	}
	lb, rb := l.b, r.b
	if op == "&&" || op == "and" {
		return node{kind: kBool, b: func(row *conn.Row) bool { return lb(row) && rb(row) }}, nil
	}
	return node{kind: kBool, b: func(row *conn.Row) bool { return lb(row) || rb(row) }}, nil
}

func compare(op string, l, r node) (node, error) {
	eq := op == "==" || op == "!="
	switch {
	case l.kind == kInt && r.kind == kInt:
		return order(op, l.i, r.i), nil
	case isNumber(l) && isNumber(r):
		return order(op, asFloat(l), asFloat(r)), nil
	case l.kind == kString && r.kind == kString:
		return order(op, l.s, r.s), nil
	case l.kind == kBool && r.kind == kBool && eq:
		lb, rb := l.b, r.b
		return equality(op, func(row *conn.Row) bool { return lb(row) == rb(row) }), nil
	case l.kind == kAddr && r.kind == kAddr && eq:
		la, ra := l.a, r.a
		return equality(op, func(row *conn.Row) bool { return la(row) == ra(row) }), nil
	case l.kind == kTime && r.kind == kTime:
		lt, rt := l.t, r.t
		switch op {
		case "<":
			return node{kind: kBool, b: func(row *conn.Row) bool { return lt(row).Before(rt(row)) }}, nil
		case ">":
			return node{kind: kBool, b: func(row *conn.Row) bool { return lt(row).After(rt(row)) }}, nil
		case "<=":
			return node{kind: kBool, b: func(row *conn.Row) bool { return !lt(row).After(rt(row)) }}, nil
		case ">=":
			return node{kind: kBool, b: func(row *conn.Row) bool { return !lt(row).Before(rt(row)) }}, nil
		}
		return equality(op, func(row *conn.Row) bool { return lt(row).Equal(rt(row)) }), nil
	}
	return node{}, unsupported{op + " of these operands"}
}

// order compares two operands of one ordered type with Go's operators,
// as expr's runtime does (so NaN is neither less, equal nor greater).
func order[T int64 | float64 | string](op string, l, r func(*conn.Row) T) node {
	var b func(*conn.Row) bool
	switch op {
	case "<":
		b = func(row *conn.Row) bool { return l(row) < r(row) }
	case ">":
		b = func(row *conn.Row) bool { return l(row) > r(row) }
	case "<=":
		b = func(row *conn.Row) bool { return l(row) <= r(row) }
	case ">=":
		b = func(row *conn.Row) bool { return l(row) >= r(row) }
	case "==":
		b = func(row *conn.Row) bool { return l(row) == r(row) }
	default:
		b = func(row *conn.Row) bool { return l(row) != r(row) }
	}
	return node{kind: kBool, b: b}
}

func equality(op string, eq func(*conn.Row) bool) node {
	if op == "!=" {
		return node{kind: kBool, b: func(r *conn.Row) bool { return !eq(r) }}
	}
	return node{kind: kBool, b: eq}
}

func arith(op string, l, r node) (node, error) {
	switch {
	case !isNumber(l) || !isNumber(r):
		return node{}, unsupported{op + " of these operands"}
	case op == "/":
		lf, rf := asFloat(l), asFloat(r)
		return node{kind: kFloat, f: func(row *conn.Row) float64 { return lf(row) / rf(row) }}, nil
	case l.kind == kInt && r.kind == kInt:
		return node{kind: kInt, i: arithOf(op, l.i, r.i)}, nil
	}
	return node{kind: kFloat, f: arithOf(op, asFloat(l), asFloat(r))}, nil
}

// arithOf is l op r for +, - and *, with Go's operators (integers wrap
// as expr's do).
func arithOf[T int64 | float64](op string, l, r func(*conn.Row) T) func(*conn.Row) T {
	switch op {
	case "+":
		return func(row *conn.Row) T { return l(row) + r(row) }
	case "-":
		return func(row *conn.Row) T { return l(row) - r(row) }
	}
	return func(row *conn.Row) T { return l(row) * r(row) }
}

func stringOp(op string, l, r node) (node, error) {
	if l.kind != kString || r.kind != kString {
		return node{}, unsupported{op + " of these operands"}
	}
	ls, rs := l.s, r.s
	switch op {
	case "contains":
		return node{kind: kBool, b: func(row *conn.Row) bool { return strings.Contains(ls(row), rs(row)) }}, nil
	case "startsWith":
		return node{kind: kBool, b: func(row *conn.Row) bool { return strings.HasPrefix(ls(row), rs(row)) }}, nil
	case "endsWith":
		return node{kind: kBool, b: func(row *conn.Row) bool { return strings.HasSuffix(ls(row), rs(row)) }}, nil
	}
	pattern, ok := r.konst.(string)
	if !ok {
		return node{}, unsupported{"matches of a computed pattern"}
	}
	re, err := regexp.Compile(pattern)
	if err != nil {
		return node{}, unsupported{"matches of a bad pattern"}
	}
	return node{kind: kBool, b: func(row *conn.Row) bool { return re.MatchString(ls(row)) }}, nil
}

// in is x in a constant list, as folded by expr: a set of strings or of
// ints, or a list of numbers or of strings.
func in(l node, right ast.Node) (node, error) {
	r, err := compileNode(right)
	if err != nil {
		return node{}, err
	}
	switch set := r.konst.(type) {
	case map[string]struct{}:
		if l.kind == kString {
			ls := l.s
			return node{kind: kBool, b: func(row *conn.Row) bool { _, ok := set[ls(row)]; return ok }}, nil
		}
	case map[int]struct{}:
		if l.kind == kInt {
			li := l.i
			return node{kind: kBool, b: func(row *conn.Row) bool { _, ok := set[int(li(row))]; return ok }}, nil
		}
	case []any:
		return inList(l, set)
	}
	return node{}, unsupported{"in of this list"}
}

// inList is x in [...]: numbers equal as numbers, strings as strings, as
// expr's runtime compares them; a list mixing kinds is left to expr.
func inList(l node, list []any) (node, error) {
	var nums []float64
	var strs []string
	for _, e := range list {
		switch v := e.(type) {
		case int:
			nums = append(nums, float64(v))
		case float64:
			nums = append(nums, v)
		case string:
			strs = append(strs, v)
		default:
			return node{}, unsupported{fmt.Sprintf("in a list of %T", e)}
		}
	}
	switch {
	case l.kind == kInt && len(strs) == 0 && allInts(list):
		ints := make([]int64, len(list))
		for i, e := range list {
			ints[i] = int64(e.(int))
		}
		return member(l.i, ints), nil
	case isNumber(l) && len(strs) == 0:
		return member(asFloat(l), nums), nil
	case l.kind == kString && len(nums) == 0:
		return member(l.s, strs), nil
	}
	return node{}, unsupported{"in a list of another kind"}
}

// member is get(row) in list.
func member[T comparable](get func(*conn.Row) T, list []T) node {
	return node{kind: kBool, b: func(row *conn.Row) bool { return slices.Contains(list, get(row)) }}
}

func allInts(list []any) bool {
	for _, e := range list {
		if _, ok := e.(int); !ok {
			return false
		}
	}
	return true
}

// callNode compiles the functions of the environment.
func callNode(x *ast.CallNode) (node, error) {
	id, ok := x.Callee.(*ast.IdentifierNode)
	if !ok {
		return node{}, unsupported{"a computed callee"}
	}
	args := make([]node, len(x.Arguments))
	for i, a := range x.Arguments {
		var err error
		if args[i], err = compileNode(a); err != nil {
			return node{}, err
		}
	}
	switch {
	case id.Value == "in_cidr" && len(args) == 2:
		c, ok := args[1].konst.(CIDR)
		if !ok {
			return node{}, unsupported{"in_cidr of a computed prefix"}
		}
		get, err := addrArg(args[0])
		if err != nil {
			return node{}, err
		}
		return node{kind: kBool, b: func(r *conn.Row) bool { a, ok := get(r); return ok && c.contains(a) }}, nil
	case (id.Value == "is_loopback" || id.Value == "is_private") && len(args) == 1:
		get, err := addrArg(args[0])
		if err != nil {
			return node{}, err
		}
		if id.Value == "is_loopback" {
			return node{kind: kBool, b: func(r *conn.Row) bool { a, ok := get(r); return ok && a.IsLoopback() }}, nil
		}
		return node{kind: kBool, b: func(r *conn.Row) bool { a, ok := get(r); return ok && a.IsPrivate() }}, nil
	case id.Value == fnAddrEq && len(args) == 2 && args[0].kind == kAddr && args[1].kind == kString:
		return addrEqNode(args[0], args[1]), nil
	case id.Value == fnAddrIn && len(args) == 2 && args[0].kind == kAddr:
		list, ok := args[1].konst.([]any)
		if !ok {
			return node{}, unsupported{"addr_in of a computed list"}
		}
		return addrInNode(args[0], list), nil
	case id.Value == fnAddrText && len(args) == 1 && args[0].kind == kAddr:
		a := args[0].a
		return node{kind: kString, s: func(r *conn.Row) string { return addrText(a(r)) }}, nil
	case id.Value == fnReMatch && len(args) == 2 && args[0].kind == kString:
		re, ok := args[1].konst.(Regex)
		if !ok {
			return node{}, unsupported{"matches of a computed pattern"}
		}
		s := args[0].s
		return node{kind: kBool, b: func(r *conn.Row) bool { return re.re.MatchString(s(r)) }}, nil
	case id.Value == fnTimeText && len(args) == 1 && args[0].kind == kTime:
		t := args[0].t
		return node{kind: kString, s: func(r *conn.Row) string { return timeText(t(r)) }}, nil
	}
	return node{}, unsupported{"function " + id.Value}
}

// addrArg reads an address argument: a row address, or a string parsed
// as one (addrOf).
func addrArg(c node) (func(*conn.Row) (netip.Addr, bool), error) {
	switch c.kind {
	case kAddr:
		get := c.a
		return func(r *conn.Row) (netip.Addr, bool) { return addrOf(get(r)) }, nil
	case kString:
		if s, ok := c.konst.(string); ok {
			a, ok := addrOf(s)
			return func(*conn.Row) (netip.Addr, bool) { return a, ok }, nil
		}
		get := c.s
		return func(r *conn.Row) (netip.Addr, bool) { return addrOf(get(r)) }, nil
	}
	return nil, unsupported{"an address argument of another kind"}
}

func addrEqNode(a, s node) node {
	get := a.a
	if text, ok := s.konst.(string); ok {
		other, ok := addrOf(text)
		return node{kind: kBool, b: func(r *conn.Row) bool { return addrEqual(get(r), other, ok) }}
	}
	gets := s.s
	return node{kind: kBool, b: func(r *conn.Row) bool { other, ok := addrOf(gets(r)); return addrEqual(get(r), other, ok) }}
}

func addrInNode(a node, list []any) node {
	var addrs []netip.Addr
	for _, e := range list {
		if other, ok := addrOf(e); ok {
			addrs = append(addrs, other)
		}
	}
	get := a.a
	return node{kind: kBool, b: func(r *conn.Row) bool {
		x := get(r)
		for _, other := range addrs {
			if addrEqual(x, other, true) {
				return true
			}
		}
		return false
	}}
}

// builtin compiles date() of literals, by letting expr evaluate it once.
func builtin(x *ast.BuiltinNode) (node, error) {
	if x.Name != "date" {
		return node{}, unsupported{"builtin " + x.Name}
	}
	for _, a := range x.Arguments {
		if _, ok := a.(*ast.StringNode); !ok {
			return node{}, unsupported{"date of a computed value"}
		}
	}
	v, err := expr.Eval(x.String(), nil)
	if err != nil {
		return node{}, unsupported{"date that fails"}
	}
	t, ok := v.(time.Time)
	if !ok {
		return node{}, unsupported{"date of another type"}
	}
	return konst(t), nil
}
