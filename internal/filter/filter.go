// Package filter compiles a --where expression once, against the type of
// conn.Row, and matches rows against it. The variables of an expression are
// the schema names (the `expr` tags of conn.Row: proto, rtt_us,
// remote_addr, ...), so a typo, a type mismatch or a non-boolean result is
// reported by Compile, on one line with the place, before anything is
// attached to the kernel (errors.go). What an expression may cost is
// bounded: its memory (limits.go) and its steps per row (cost.go).
//
// Besides expr's operators and builtins, expressions can use these address
// helpers on the address fields (local_addr, remote_addr):
//
//	cidr("10.0.0.0/8")                  a prefix; a bare address is one host
//	remote_addr in cidr("fd00::/8")     prefix membership
//	in_cidr(remote_addr, "10.0.0.0/8")  the same, as a function
//	is_loopback(remote_addr)            127.0.0.0/8 or ::1
//	is_private(remote_addr)             10/8, 172.16/12, 192.168/16 or fc00::/7
//
// A constant prefix is parsed once, at compile time, so a malformed one is
// a compile error. IPv4-mapped IPv6 addresses (::ffff:a.b.c.d) compare as
// the IPv4 address they carry, an IPv6 zone is ignored, and an address
// string that does not parse matches nothing.
//
// Rows are typed: local_addr and remote_addr are addresses, timestamp a
// time. Expressions written for text keep working (typed.go):
//
//	remote_addr == "10.0.0.1"        equal as addresses (so ::ffff:10.0.0.1 too)
//	remote_addr in ["10.0.0.1", ...] the same, against each
//	local_addr startsWith "10."      elsewhere an address is its text
//	remote_addr matches "^fd"        (+, <, contains, endsWith, upper(), len(), ...)
//	timestamp > date("2026-11-26T05:00:00Z")   times compare as times
//	timestamp >= "2026-11-26T05:47"  or as their text, which sorts as they do
//	now() - timestamp < duration("1m"), timestamp.Hour() == 5
//
// The common subset of expressions is compiled into Go closures over the
// row (fast.go); the rest runs on expr's VM, with the same results.
package filter

import (
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/vm"

	"github.com/tcptop/tcptop/internal/conn"
)

// Filter is a compiled --where expression. Expressions in the common
// subset (fast.go) run as Go closures over the row; the rest run on expr's
// VM, one reused across calls to Match so that matching a row does not
// allocate a new evaluation stack. It is not safe for concurrent use.
type Filter struct {
	prog     *vm.Program          // nil: match everything
	fast     func(*conn.Row) bool // the compiled closures, if they cover the expression (fast.go)
	vm       vm.VM
	env      env
	where    string        // the expression, for run-time errors
	patterns *patternCache // computed regular expressions (patterns.go)
}

// env is the expression environment: the row's fields, promoted from the
// embedded pointer so that their names are Row's expr tags, plus the
// functions expr.ConstExpr evaluates at compile time when their arguments
// are constant (it only evaluates functions of the environment): cidr,
// regex, and our bounded repeat and string, which replace expr's builtins
// of those names (bounded.go). The pointer lets Match point at the
// caller's row instead of copying it.
type env struct {
	*conn.Row `expr:"-"`

	CIDR   func(string) CIDR           `expr:"cidr"`
	Regex  func(any) Regex             `expr:"regex"`
	Repeat func(string, int) string    `expr:"repeat"`
	String func(any) string            `expr:"string"`
	Concat func(string, string) string `expr:"concat"`
}

// Compile compiles a --where expression once against conn.Row. The empty
// (or all-blank) string matches everything. Unknown names, syntax errors,
// type errors, a non-boolean result, a malformed constant cidr("...") or
// regular expression, and whatever is over the bounds of limits.go are all
// reported here, as an *Error: one line with the position and an excerpt.
func Compile(where string) (*Filter, error) {
	if strings.TrimSpace(where) == "" {
		return &Filter{}, nil
	}
	patterns := newPatternCache()
	e := env{CIDR: mustParseCIDR, Regex: patterns.regex, Repeat: boundedRepeat, String: boundedString, Concat: boundedConcat}
	opts := options(e)
	if err := checkLimits(where, opts); err != nil {
		return nil, fmt.Errorf("invalid --where expression: %w", oneLine(where, err))
	}
	prog, err := expr.Compile(where, opts...)
	if err != nil {
		return nil, fmt.Errorf("invalid --where expression: %w", oneLine(where, err))
	}
	if err := checkCost(where, prog.Node()); err != nil {
		return nil, fmt.Errorf("invalid --where expression: %w", err)
	}
	f := &Filter{prog: prog, env: e, where: where, patterns: patterns}
	f.vm.MemoryBudget = memoryBudget
	f.fast, _ = compileFast(prog.Node())
	return f, nil
}

func options(e env) []expr.Option {
	return []expr.Option{
		expr.Env(e),
		expr.AsBool(),
		expr.Function("in_cidr", inCIDR,
			new(func(netip.Addr, CIDR) bool),
			new(func(netip.Addr, string) bool),
			new(func(string, CIDR) bool),
			new(func(string, string) bool)),
		expr.Function("is_loopback", isLoopback, new(func(netip.Addr) bool), new(func(string) bool)),
		expr.Function("is_private", isPrivate, new(func(netip.Addr) bool), new(func(string) bool)),
		expr.Function(fnAddrEq, addrEq, new(func(netip.Addr, string) bool)),
		expr.Function(fnAddrIn, addrIn, new(func(netip.Addr, []any) bool)),
		expr.Function(fnAddrText, addrTextFn, new(func(netip.Addr) string)),
		expr.Function(fnTimeText, timeTextFn, new(func(time.Time) string)),
		expr.Function(fnReMatch, reMatch, new(func(string, Regex) bool), new(func([]byte, Regex) bool)),
		expr.Function(fnPlus, plus, new(func(any, any) any)),
		expr.Function("split", boundedSplit(false), new(func(string, string) []string), new(func(string, string, int) []string)),
		expr.Function("splitAfter", boundedSplit(true), new(func(string, string) []string), new(func(string, string, int) []string)),
		expr.MaxNodes(maxNodes),
		// addr in cidr("10.0.0.0/8") becomes in_cidr(addr, <constant CIDR>).
		expr.Operator("in", "in_cidr"),
		// Addresses and times where strings are expected: see typedValues.
		expr.Patch(typedValues{}),
		// in_cidr(addr, "10.0.0.0/8") becomes in_cidr(addr, cidr("10.0.0.0/8")),
		// so the literal is checked and parsed at compile time too.
		expr.Patch(literalPrefix{}),
		// x in 1..1000000 becomes x >= 1 and x <= 1000000.
		expr.Patch(intRanges{}),
		// x matches <computed> becomes re_match(x, regex(<computed>)).
		expr.Patch(computedPatterns{}),
		// string + string becomes concat(...), bounded (bounded.go).
		expr.Patch(bounded{}),
		// Last: the final check looks inside every call (recheck.go).
		expr.Patch(recheckCalls{}),
		expr.ConstExpr("cidr"),
		expr.ConstExpr("regex"),
		expr.ConstExpr("repeat"),
		expr.ConstExpr("string"),
		expr.ConstExpr("concat"),
	}
}

// Match reports whether r satisfies the expression. An error means the
// expression failed at run time (for example an integer modulo by zero,
// cidr() of a non-constant string that is not a prefix, or a list over the
// budget of limits.go); it is an *Error. A nil or empty Filter matches
// every row.
func (f *Filter) Match(r *conn.Row) (bool, error) {
	if f == nil || f.prog == nil {
		return true, nil
	}
	if f.fast != nil {
		return f.fast(r), nil
	}
	f.env.Row = r
	out, err := f.vm.Run(f.prog, &f.env)
	f.env.Row = nil // do not keep the caller's row alive
	if err != nil {
		return false, oneLine(f.where, err)
	}
	// AsBool lets through expressions whose type is unknown until run time
	// (such as an element of a mixed array), so check rather than assert.
	b, ok := out.(bool)
	if !ok {
		return false, fmt.Errorf("--where expression returned %T, not a boolean", out)
	}
	return b, nil
}
