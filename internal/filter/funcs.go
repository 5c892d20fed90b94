package filter

import (
	"fmt"
	"net/netip"

	"github.com/expr-lang/expr/ast"
)

// CIDR is an IP prefix, the value of cidr("...") in an expression. It is a
// distinct type, rather than a string, so that `addr in cidr(...)` can be
// overloaded and a prefix is parsed once, at compile time.
type CIDR struct {
	prefix netip.Prefix
}

// String returns the prefix in canonical form, host bits cleared.
func (c CIDR) String() string { return c.prefix.String() }

// Contains reports whether addr, an IP address string, lies in c.
func (c CIDR) Contains(addr string) bool {
	a, ok := parseAddr(addr)
	return ok && c.prefix.Contains(a)
}

// parseCIDR accepts "addr/bits" or a bare address (a /32 or /128). An
// IPv4-mapped IPv6 prefix of at least 96 bits is turned into the IPv4
// prefix it denotes, since addresses are compared unmapped.
func parseCIDR(s string) (CIDR, error) {
	p, err := netip.ParsePrefix(s)
	if err != nil {
		a, aerr := netip.ParseAddr(s)
		if aerr != nil || a.Zone() != "" {
			return CIDR{}, fmt.Errorf("cidr(%q): not an IP prefix like \"10.0.0.0/8\" or \"fd00::/8\"", s)
		}
		p = netip.PrefixFrom(a, a.BitLen())
	}
	if a := p.Addr(); a.Is4In6() && p.Bits() >= 96 {
		p = netip.PrefixFrom(a.Unmap(), p.Bits()-96)
	}
	return CIDR{prefix: p.Masked()}, nil
}

// mustParseCIDR is the cidr() of the expression environment. It panics
// rather than returning an error because expr turns a panic in a constant
// expression into a compile error that carries its position (and so the
// caret line); a returned error would lose it. At run time the VM turns the
// panic into an error from Match.
func mustParseCIDR(s string) CIDR {
	c, err := parseCIDR(s)
	if err != nil {
		panic(err)
	}
	return c
}

// parseAddr parses an address string, unmapping IPv4-mapped IPv6 and
// dropping any zone so that it compares with plain prefixes.
func parseAddr(s string) (netip.Addr, bool) {
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Addr{}, false
	}
	return a.Unmap().WithZone(""), true
}

// inCIDR implements in_cidr(addr, prefix) for a CIDR (the operator form
// and constant strings, rewritten by literalPrefix) or, for a computed
// string, by parsing it on every call.
func inCIDR(params ...any) (any, error) {
	addr, _ := params[0].(string)
	switch p := params[1].(type) {
	case CIDR:
		return p.Contains(addr), nil
	case string:
		c, err := parseCIDR(p)
		if err != nil {
			return false, err
		}
		return c.Contains(addr), nil
	}
	return false, fmt.Errorf("in_cidr: unexpected prefix type %T", params[1])
}

func isLoopback(params ...any) (any, error) {
	s, _ := params[0].(string)
	a, ok := parseAddr(s)
	return ok && a.IsLoopback(), nil
}

func isPrivate(params ...any) (any, error) {
	s, _ := params[0].(string)
	a, ok := parseAddr(s)
	return ok && a.IsPrivate(), nil
}

// literalPrefix rewrites in_cidr(x, "literal") to in_cidr(x, cidr("literal")),
// so that expr.ConstExpr parses and validates the literal at compile time,
// exactly as for the `in cidr(...)` form.
type literalPrefix struct{}

// Visit implements ast.Visitor.
func (literalPrefix) Visit(node *ast.Node) {
	call, ok := (*node).(*ast.CallNode)
	if !ok || len(call.Arguments) != 2 {
		return
	}
	if id, ok := call.Callee.(*ast.IdentifierNode); !ok || id.Value != "in_cidr" {
		return
	}
	lit, ok := call.Arguments[1].(*ast.StringNode)
	if !ok {
		return
	}
	callee := &ast.IdentifierNode{Value: "cidr"}
	callee.SetLocation(lit.Location())
	wrapped := &ast.CallNode{Callee: callee, Arguments: []ast.Node{lit}}
	wrapped.SetLocation(lit.Location())
	call.Arguments[1] = wrapped
}
