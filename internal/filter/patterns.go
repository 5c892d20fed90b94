package filter

import (
	"container/list"
	"fmt"
	"reflect"
	"regexp"
	"regexp/syntax"

	"github.com/expr-lang/expr/ast"
)

// Regex is a compiled regular expression, the value of regex("...") in an
// expression. `x matches <computed pattern>` is rewritten to
// re_match(x, regex(<pattern>)) (computedPatterns), so that a pattern that
// is constant after all (repeat("a", 3), "^" + "x") is compiled once, at
// compile time (expr.ConstExpr("regex")), and a pattern that depends on the
// row goes through a small cache instead of being compiled for every row,
// as expr's own `matches` does. A literal pattern is left to expr, which
// compiles it once; checkLimits has bounded it.
type Regex struct {
	re *regexp.Regexp
}

// String returns the pattern.
func (r Regex) String() string { return r.re.String() }

// patternFix is what to do about a regular expression over its bounds.
const patternFix = "use a shorter regular expression with smaller repeat counts"

// compilePattern compiles a regular expression of at most maxPattern bytes
// whose program has at most maxPatternInsts instructions: a{1000}{1000}
// is short but big, and matching costs the program's size per byte.
func compilePattern(p string) (*regexp.Regexp, error) {
	if len(p) > maxPattern {
		return nil, fmt.Errorf("a regular expression of %d bytes, over the %d that --where allows", len(p), maxPattern)
	}
	insts, err := patternInsts(p)
	if err != nil {
		return nil, err // a *syntax.Error, which quotes the bad part
	}
	if insts > maxPatternInsts {
		return nil, fmt.Errorf("a regular expression compiling to %d instructions, over the %d that --where allows", insts, maxPatternInsts)
	}
	return regexp.Compile(p)
}

// patternInsts is the size of a regular expression's program: matching
// costs at most that many steps per byte of text.
func patternInsts(p string) (int, error) {
	re, err := syntax.Parse(p, syntax.Perl)
	if err != nil {
		return 0, err
	}
	prog, err := syntax.Compile(re.Simplify())
	if err != nil {
		return 0, err
	}
	return len(prog.Inst), nil
}

// patternCache keeps the last patternCacheSize computed regular
// expressions compiled, least recently used first out. A row's fields take
// few distinct values, so a pattern computed from them hits.
type patternCache struct {
	order *list.List // of *cached, most recent first
	byKey map[string]*list.Element
}

type cached struct {
	pattern string
	re      Regex
}

func newPatternCache() *patternCache {
	return &patternCache{order: list.New(), byKey: map[string]*list.Element{}}
}

// regex is regex() of the expression environment. It panics on a bad
// pattern, as cidr does, so that a constant one is a compile error with
// its position; at run time the VM turns the panic into Match's error.
func (c *patternCache) regex(v any) Regex {
	p, ok := v.(string)
	if !ok {
		panic(fmt.Errorf("matches: the pattern is %s, not a string", kindName(v)))
	}
	if e, ok := c.byKey[p]; ok {
		c.order.MoveToFront(e)
		return e.Value.(*cached).re
	}
	re, err := compilePattern(p)
	if err != nil {
		panic(err)
	}
	if c.order.Len() >= patternCacheSize {
		last := c.order.Back()
		c.order.Remove(last)
		delete(c.byKey, last.Value.(*cached).pattern)
	}
	r := Regex{re: re}
	c.byKey[p] = c.order.PushFront(&cached{pattern: p, re: r})
	return r
}

// fnReMatch is the function computedPatterns calls.
const fnReMatch = "re_match"

// reMatch implements re_match(s, regex): s matches the pattern.
func reMatch(params ...any) (any, error) {
	re := params[1].(Regex).re
	switch s := params[0].(type) {
	case string:
		return re.MatchString(s), nil
	case []byte:
		return re.Match(s), nil
	}
	return false, fmt.Errorf("matches: %T is not a string", params[0])
}

// computedPatterns rewrites `x matches <anything but a literal>` to
// re_match(x, regex(<pattern>)); see Regex. The pattern may be of a type
// known only at run time (an element of a list), which regex checks.
type computedPatterns struct{}

// Visit implements ast.Visitor.
func (computedPatterns) Visit(node *ast.Node) {
	n, ok := (*node).(*ast.BinaryNode)
	if !ok || n.Operator != "matches" {
		return
	}
	if _, literal := n.Right.(*ast.StringNode); literal {
		return
	}
	if t := n.Right.Type(); t != stringType && !unknownType(t) {
		return // expr reports the mismatch
	}
	re := call(n.Right, "regex", reflect.TypeFor[Regex](), n.Right)
	ast.Patch(node, call(n, fnReMatch, reflect.TypeFor[bool](), n.Left, re))
}
