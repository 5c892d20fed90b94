package filter

import (
	"net/netip"
	"reflect"
	"time"

	"github.com/expr-lang/expr/ast"
)

var (
	addrType   = reflect.TypeFor[netip.Addr]()
	timeType   = reflect.TypeFor[time.Time]()
	stringType = reflect.TypeFor[string]()
)

// Names of the functions the typedValues patcher calls. Users do not need
// them, but they are ordinary functions of the environment.
const (
	fnAddrEq   = "addr_eq"
	fnAddrIn   = "addr_in"
	fnAddrText = "addr_text"
	fnTimeText = "time_text"
)

// stringBuiltins are expr builtins that take strings: an address or time
// passed to one is passed as its text.
var stringBuiltins = map[string]bool{
	"len": true, "upper": true, "lower": true, "trim": true, "trimPrefix": true, "trimSuffix": true,
	"split": true, "splitAfter": true, "replace": true, "repeat": true, "indexOf": true,
	"lastIndexOf": true, "hasPrefix": true, "hasSuffix": true,
}

// typedValues lets expressions written for text addresses and times keep
// working on the typed row. It rewrites the checked tree (types are known
// to the visitor) before the final check:
//
//	addr == "x", "x" == addr    addr_eq(addr, "x"): equal as addresses
//	addr != "x"                 !addr_eq(addr, "x")
//	addr in ["x", "y"]          addr_in(addr, ["x", "y"])
//	addr or time OP string      addr_text(addr) OP string, for every other
//	                            operator (<, +, startsWith, matches, ...)
//	upper(addr), len(time), ... the same, for builtins that take strings
//
// where addr is local_addr or remote_addr (or any address-typed
// expression) and time is timestamp. Comparisons of two addresses, of two
// times, and address helpers (in cidr(), is_private(), ...) are left as
// they are: they work on the typed values.
type typedValues struct{}

// Visit implements ast.Visitor.
func (typedValues) Visit(node *ast.Node) {
	switch n := (*node).(type) {
	case *ast.BinaryNode:
		patchBinary(node, n)
	case *ast.BuiltinNode:
		if stringBuiltins[n.Name] {
			for i := range n.Arguments {
				asText(&n.Arguments[i])
			}
		}
	case *ast.CallNode:
		// repeat is ours (bounded.go), a function rather than a builtin.
		if id, ok := n.Callee.(*ast.IdentifierNode); ok && stringBuiltins[id.Value] {
			for i := range n.Arguments {
				asText(&n.Arguments[i])
			}
		}
	}
}

func patchBinary(node *ast.Node, n *ast.BinaryNode) {
	l, r := n.Left.Type(), n.Right.Type()
	switch {
	case (n.Operator == "==" || n.Operator == "!=") && (l == addrType && r == stringType || l == stringType && r == addrType):
		addr, text := n.Left, n.Right
		if r == addrType {
			addr, text = text, addr
		}
		var eq ast.Node = call(n, fnAddrEq, reflect.TypeFor[bool](), addr, text)
		if n.Operator == "!=" {
			eq = &ast.UnaryNode{Operator: "!", Node: eq}
			eq.SetLocation(n.Location())
			eq.SetType(reflect.TypeFor[bool]())
		}
		ast.Patch(node, eq)
	case n.Operator == "in" && l == addrType && isArray(n.Right):
		ast.Patch(node, call(n, fnAddrIn, reflect.TypeFor[bool](), n.Left, n.Right))
	case n.Operator == "in" && l == timeType && isArray(n.Right):
		asText(&n.Left)
	case n.Operator == "in":
		// addr in cidr(...) is the in_cidr operator; leave the rest to expr.
	case (l == addrType || l == timeType) && r == stringType:
		asText(&n.Left)
	case l == stringType && (r == addrType || r == timeType):
		asText(&n.Right)
	}
}

func isArray(n ast.Node) bool {
	t := n.Type()
	return t != nil && (t.Kind() == reflect.Slice || t.Kind() == reflect.Array)
}

// asText wraps an address or time in its text form.
func asText(arg *ast.Node) {
	switch (*arg).Type() {
	case addrType:
		*arg = call(*arg, fnAddrText, stringType, *arg)
	case timeType:
		*arg = call(*arg, fnTimeText, stringType, *arg)
	}
}

// call builds fn(args...) at the location of at.
func call(at ast.Node, fn string, t reflect.Type, args ...ast.Node) *ast.CallNode {
	callee := &ast.IdentifierNode{Value: fn}
	callee.SetLocation(at.Location())
	c := &ast.CallNode{Callee: callee, Arguments: args}
	c.SetLocation(at.Location())
	if t != nil {
		c.SetType(t)
	}
	return c
}

// literalPrefix rewrites in_cidr(x, "literal") to in_cidr(x, cidr("literal")),
// so that expr.ConstExpr parses and validates the literal at compile time,
// exactly as for the `in cidr(...)` form.
type literalPrefix struct{}

// Visit implements ast.Visitor.
func (literalPrefix) Visit(node *ast.Node) {
	c, ok := (*node).(*ast.CallNode)
	if !ok || len(c.Arguments) != 2 {
		return
	}
	if id, ok := c.Callee.(*ast.IdentifierNode); !ok || id.Value != "in_cidr" {
		return
	}
	lit, ok := c.Arguments[1].(*ast.StringNode)
	if !ok {
		return
	}
	c.Arguments[1] = call(lit, "cidr", nil, lit)
}
