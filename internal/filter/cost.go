package filter

import (
	"fmt"
	"math"
	"reflect"

	"github.com/expr-lang/expr/ast"
)

// The work an expression does per row, bounded at compile time. expr's VM
// counts the lists it builds against its budget, but not a loop's
// iterations, nor a constant list (folded, never built): all() nested
// over literal lists multiplied past any budget (three levels of 300
// elements, 1.7 s per row). cost walks the checked, optimized tree that
// runs and bounds, in steps, what one row can cost:
//
//	a node          1 per evaluation, plus the bytes of the string or the
//	                elements of the list it yields (building, copying or
//	                reading them is linear in them)
//	a closure       its body once per element of the list it loops over
//	matches         the text's bytes times the pattern's instructions
//	in, uniq, sort  the elements times what comparing one costs
//
// Sizes come from the literals where they are constant and from bounds
// elsewhere: a field's longest value (fieldBytes), maxString for what
// repeat, string() and + build, memoryBudget elements for a computed
// range or a split. An expression over maxCost is refused (exit 2); the
// fuzzer (FuzzCost) checks the bound against the steps measured per row.
const maxCost = 1_000_000

// Longest values of the row's string fields, in bytes. comm is 15 bytes
// from the kernel, each written as \xNN at worst; the names below are
// short words. Any other string (cgroup) is a path: PATH_MAX.
var fieldBytes = map[string]float64{
	"comm": 60, "proto": 8, "family": 8, "state": 16, "cc": 16, "limit": 8,
	"error": 32, "direction": 8, "container_id": 64, "community_id": 64,
}

const (
	pathBytes = 4096 // a string field not in fieldBytes
	addrBytes = 64   // an address as text, zone included
	timeBytes = 32   // timestamp as text (timeLayout)
	numBytes  = 32   // a number or other scalar as string() prints it
)

// shape bounds a value: the bytes of a string or the elements of a list
// or map, and the shape of each element (of a map: each key and value;
// nil for scalars).
type shape struct {
	n    float64
	elem *shape
}

var (
	scalar     = &shape{}
	anyString  = &shape{n: pathBytes}
	anyElement = &shape{n: pathBytes} // of a list of unknown origin
	anyList    = &shape{n: memoryBudget, elem: anyElement}
)

// costFix is what to do about an expression over maxCost.
const costFix = "loop over shorter lists, nest fewer all(), any(), count(), ... or match fewer patterns inside loops"

// checkCost bounds the steps of one evaluation of the tree of where. The
// error names the smallest part that goes over.
func checkCost(where string, root ast.Node) error {
	c := &costs{}
	total, _ := c.node(root)
	if c.over == nil && total <= maxCost {
		return nil
	}
	at, cost := root, total
	if c.over != nil {
		at, cost = c.over, c.overCost
	}
	from := at.Location().From
	line, col := position(where, from)
	return &Error{
		Message: fmt.Sprintf("this can cost %s steps per row, over the %d that --where allows", steps(cost), maxCost),
		Line:    line, Column: col + 1, Excerpt: excerpt(where, from), Fix: costFix,
	}
}

func steps(c float64) string {
	if c >= 1e15 {
		return "more than 10^15"
	}
	return fmt.Sprintf("%.0f", c)
}

// costs walks a tree; items holds the shape of # in each enclosing closure.
type costs struct {
	items    []*shape
	over     ast.Node // the first (so the smallest) node over maxCost
	overCost float64
}

// node returns the steps of one evaluation of n and the shape of its value.
func (c *costs) node(n ast.Node) (float64, *shape) {
	cost, sh := c.eval(n)
	cost += 1 + sh.n
	if cost > maxCost && c.over == nil {
		c.over, c.overCost = n, cost
	}
	return cost, sh
}

func (c *costs) eval(n ast.Node) (float64, *shape) {
	switch x := n.(type) {
	case *ast.IdentifierNode:
		return 0, identShape(x)
	case *ast.StringNode:
		return 0, &shape{n: float64(len(x.Value))}
	case *ast.BytesNode:
		return 0, &shape{n: float64(len(x.Value)), elem: scalar}
	case *ast.ConstantNode:
		return 0, valueShape(reflect.ValueOf(x.Value), 0)
	case *ast.PointerNode:
		if x.Name == "" && len(c.items) > 0 {
			return 0, c.items[len(c.items)-1]
		}
		return 0, scalar // #index
	case *ast.UnaryNode:
		cost, sh := c.node(x.Node)
		if x.Operator == "+" {
			return cost, sh // +"text" is the text
		}
		return cost, scalar
	case *ast.BinaryNode:
		return c.binary(x)
	case *ast.ChainNode:
		return c.node(x.Node)
	case *ast.MemberNode:
		return c.member(x)
	case *ast.SliceNode:
		cost, sh := c.node(x.Node)
		return cost + c.all(x.From, x.To), sh
	case *ast.CallNode:
		return c.call(x)
	case *ast.BuiltinNode:
		return c.builtin(x)
	case *ast.PredicateNode:
		return c.node(x.Node)
	case *ast.ConditionalNode:
		cond, _ := c.node(x.Cond)
		a, as := c.node(x.Exp1)
		b, bs := c.node(x.Exp2)
		return cond + math.Max(a, b), widest(as, bs)
	case *ast.ArrayNode:
		cost, elem := 0.0, (*shape)(nil)
		for _, e := range x.Nodes {
			ec, es := c.node(e)
			cost, elem = cost+ec, widest(elem, es)
		}
		return cost, &shape{n: float64(len(x.Nodes)), elem: elem}
	case *ast.MapNode:
		cost, elem := 0.0, (*shape)(nil)
		for _, p := range x.Pairs {
			pair := p.(*ast.PairNode)
			kc, ks := c.node(pair.Key)
			vc, vs := c.node(pair.Value)
			cost, elem = cost+kc+vc, widest(elem, widest(ks, vs)) // string() prints both
		}
		return cost, &shape{n: float64(len(x.Pairs)), elem: elem}
	case *ast.SequenceNode:
		cost, sh := 0.0, scalar
		for _, e := range x.Nodes {
			var ec float64
			ec, sh = c.node(e)
			cost += ec
		}
		return cost, sh
	}
	// Literals (numbers, booleans, nil) and whatever else is left: the
	// cost of its children and a scalar. Nodes that carry lists or
	// strings are all above.
	return 0, scalar
}

// all is the steps of evaluating each of the nodes once (nil ones skipped).
func (c *costs) all(nodes ...ast.Node) float64 {
	cost := 0.0
	for _, n := range nodes {
		if n != nil {
			nc, _ := c.node(n)
			cost += nc
		}
	}
	return cost
}

func identShape(x *ast.IdentifierNode) *shape {
	t := x.Type()
	switch {
	case unknownType(t):
		return anyString // a field by its Go name (Comm) is fetched by name
	case t.Kind() != reflect.String:
		return scalar
	}
	if b, ok := fieldBytes[x.Value]; ok {
		return &shape{n: b}
	}
	return anyString
}

// valueShape is the shape of a constant: its length, and the widest of
// its elements (a constant list is at most maxNodes deep).
func valueShape(v reflect.Value, depth int) *shape {
	if !v.IsValid() || depth > maxNodes {
		return scalar
	}
	switch v.Kind() {
	case reflect.Interface, reflect.Pointer:
		if v.IsNil() {
			return scalar
		}
		return valueShape(v.Elem(), depth+1)
	case reflect.String:
		return &shape{n: float64(v.Len())}
	case reflect.Slice, reflect.Array:
		var elem *shape
		for i := range v.Len() {
			elem = widest(elem, valueShape(v.Index(i), depth+1))
		}
		return &shape{n: float64(v.Len()), elem: elem}
	case reflect.Map:
		var elem *shape
		for it := v.MapRange(); it.Next(); {
			elem = widest(elem, widest(valueShape(it.Key(), depth+1), valueShape(it.Value(), depth+1)))
		}
		return &shape{n: float64(v.Len()), elem: elem}
	}
	return scalar
}

// widest bounds a value that may have either shape.
func widest(a, b *shape) *shape {
	switch {
	case a == nil:
		return b
	case b == nil:
		return a
	}
	var elem *shape
	if a.elem != nil || b.elem != nil {
		elem = widest(a.elem, b.elem)
	}
	return &shape{n: math.Max(a.n, b.n), elem: elem}
}

// elemOf is the shape of an element of a list of shape s.
func elemOf(s *shape) *shape {
	if s.elem != nil {
		return s.elem
	}
	if s.n > 0 {
		return anyElement
	}
	return scalar
}

func (c *costs) binary(x *ast.BinaryNode) (float64, *shape) {
	lc, ls := c.node(x.Left)
	rc, rs := c.node(x.Right)
	cost := lc + rc
	switch x.Operator {
	case "in":
		// Each element compared with the left side: a map (an optimized
		// constant list, a map literal) hashes it once.
		if isMap(x.Right) {
			return cost + ls.n, scalar
		}
		return cost + rs.n*(1+ls.n+elemOf(rs).n), scalar
	case "matches":
		return cost + ls.n*literalInsts(x.Right), scalar
	case "..":
		from, okFrom := constInt(x.Left)
		to, okTo := constInt(x.Right)
		if okFrom && okTo {
			return cost, &shape{n: math.Max(0, float64(to-from+1)), elem: scalar}
		}
		return cost, &shape{n: memoryBudget, elem: scalar}
	}
	return cost, scalar
}

func (c *costs) member(x *ast.MemberNode) (float64, *shape) {
	cost, sh := c.node(x.Node)
	pc, _ := c.node(x.Property)
	cost += pc
	if t := x.Type(); t != nil && t.Kind() == reflect.Func {
		return cost, scalar // a method; the call bounds what it returns
	}
	return cost, elemOf(sh)
}

func isMap(n ast.Node) bool {
	if k, ok := n.(*ast.ConstantNode); ok {
		return reflect.ValueOf(k.Value).Kind() == reflect.Map
	}
	t := n.Type()
	return t != nil && t.Kind() == reflect.Map
}

// literalInsts is the size of the program of a pattern: a literal's or a
// constant one's own, else the most --where compiles.
func literalInsts(n ast.Node) float64 {
	var p string
	switch x := n.(type) {
	case *ast.StringNode:
		p = x.Value
	case *ast.ConstantNode:
		r, ok := x.Value.(Regex)
		if !ok {
			return maxPatternInsts
		}
		p = r.String()
	default:
		return maxPatternInsts
	}
	if insts, err := patternInsts(p); err == nil {
		return float64(insts)
	}
	return maxPatternInsts
}
