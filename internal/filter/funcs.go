package filter

import (
	"fmt"
	"net/netip"
	"time"
)

// CIDR is an IP prefix, the value of cidr("...") in an expression. It is a
// distinct type, rather than a string, so that `addr in cidr(...)` can be
// overloaded and a prefix is parsed once, at compile time.
type CIDR struct {
	prefix netip.Prefix
}

// String returns the prefix in canonical form, host bits cleared.
func (c CIDR) String() string { return c.prefix.String() }

// contains reports whether a lies in c.
func (c CIDR) contains(a netip.Addr) bool {
	return a.IsValid() && c.prefix.Contains(a.Unmap().WithZone(""))
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
// expression into a compile error that carries its position (errors.go
// shows the place); a returned error would lose it. At run time the VM
// turns the panic into an error from Match.
func mustParseCIDR(s string) CIDR {
	c, err := parseCIDR(s)
	if err != nil {
		panic(err)
	}
	return c
}

// parseAddr parses an address string, unmapping IPv4-mapped IPv6 and
// dropping any zone so that it compares with row addresses and prefixes.
func parseAddr(s string) (netip.Addr, bool) {
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Addr{}, false
	}
	return a.Unmap().WithZone(""), true
}

// The semantics of addresses and times in expressions. Both the expr VM
// (through the functions below) and the compiled closures (fast.go) call
// these, so the two paths cannot disagree.

// addrOf is an address argument: a row address as it is, a string parsed
// (one that does not parse is no address).
func addrOf(v any) (netip.Addr, bool) {
	switch x := v.(type) {
	case netip.Addr:
		return x.Unmap().WithZone(""), x.IsValid()
	case string:
		return parseAddr(x)
	}
	return netip.Addr{}, false
}

// addrEqual is addr == "text": equal as addresses, IPv4-mapped ones as the
// IPv4 they carry; a string that is not an address equals nothing.
func addrEqual(a netip.Addr, other netip.Addr, ok bool) bool {
	return ok && a.IsValid() && a.Unmap().WithZone("") == other
}

// addrText is an address where a string is expected: its text as the
// output shows it ("" for an unset one).
func addrText(a netip.Addr) string {
	if !a.IsValid() {
		return ""
	}
	return a.String()
}

// timeLayout is the timestamp as the output shows it.
const timeLayout = "2006-01-02T15:04:05.000000Z"

// timeText is a time where a string is expected: the output's text, which
// sorts as the time does.
func timeText(t time.Time) string { return t.UTC().Format(timeLayout) }

// Functions of the expression environment, in expr's calling convention.
// in_cidr, is_loopback and is_private take a row address or a string.

func inCIDR(params ...any) (any, error) {
	a, ok := addrOf(params[0])
	switch p := params[1].(type) {
	case CIDR:
		return ok && p.contains(a), nil
	case string:
		c, err := parseCIDR(p)
		if err != nil {
			return false, err
		}
		return ok && c.contains(a), nil
	}
	return false, fmt.Errorf("in_cidr: unexpected prefix type %T", params[1])
}

func isLoopback(params ...any) (any, error) {
	a, ok := addrOf(params[0])
	return ok && a.IsLoopback(), nil
}

func isPrivate(params ...any) (any, error) {
	a, ok := addrOf(params[0])
	return ok && a.IsPrivate(), nil
}

// addrEq implements addr == string (and, negated, !=).
func addrEq(params ...any) (any, error) {
	other, ok := addrOf(params[1])
	return addrEqual(params[0].(netip.Addr), other, ok), nil
}

// addrIn implements addr in [strings...]: addrEq against each element.
func addrIn(params ...any) (any, error) {
	a := params[0].(netip.Addr)
	for _, e := range params[1].([]any) {
		if other, ok := addrOf(e); addrEqual(a, other, ok) {
			return true, nil
		}
	}
	return false, nil
}

func addrTextFn(params ...any) (any, error) { return addrText(params[0].(netip.Addr)), nil }

func timeTextFn(params ...any) (any, error) { return timeText(params[0].(time.Time)), nil }
