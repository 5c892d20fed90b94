package filter

import (
	"reflect"
	"strings"
	"testing"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/compiler"
	"github.com/expr-lang/expr/conf"
	"github.com/expr-lang/expr/file"
	"github.com/expr-lang/expr/parser"
	"github.com/expr-lang/expr/vm"

	"github.com/tcptop/tcptop/internal/conn"
)

// The meter measures, on a row, the steps cost.go bounds: it compiles the
// tree that runs with each evaluated node wrapped in a call that counts 1
// plus the bytes or elements of the value the node yields. A closure's
// body is counted at each iteration, a list at each evaluation, as they
// happen. It leaves out the extra work of matches, in, sort and uniq (the
// bound counts those from the same sizes) and the callee of a method.

const fnMeter = "meter__"

// meter is an expression compiled with counting calls.
type meter struct {
	prog  *vm.Program
	env   env
	bound float64 // checkCost's, of the tree that runs
	steps float64
}

// newMeter compiles where as Compile does, then recompiles its optimized
// tree with every node counted. It returns nil if Compile refuses where.
func newMeter(t testing.TB, where string) *meter {
	t.Helper()
	f, err := Compile(where)
	if err != nil || f.prog == nil {
		return nil
	}
	m := &meter{env: f.env}
	count := func(params ...any) (any, error) {
		m.steps += 1 + float64(valueLen(params[0]))
		return params[0], nil
	}
	cfg := conf.CreateNew()
	for _, op := range append(options(f.env), expr.Function(fnMeter, count, new(func(any) any))) {
		op(cfg)
	}
	root := f.prog.Node()
	m.bound, _ = (&costs{}).node(root)
	(&meterer{done: map[ast.Node]ast.Node{}}).wrap(&root)
	prog, err := compiler.Compile(&parser.Tree{Node: root, Source: file.NewSource(where)}, cfg)
	if err != nil {
		t.Fatalf("%q: compiling the metered tree: %v", where, err)
	}
	m.prog = prog
	return m
}

// run returns the steps of matching r.
func (m *meter) run(r *conn.Row) float64 {
	m.steps = 0
	m.env.Row = r
	var machine vm.VM
	machine.MemoryBudget = memoryBudget
	_, _ = machine.Run(m.prog, &m.env) // a row may fail, as in Match
	return m.steps
}

func valueLen(v any) int {
	switch reflect.ValueOf(v).Kind() {
	case reflect.String, reflect.Slice, reflect.Array, reflect.Map:
		return reflect.ValueOf(v).Len()
	}
	return 0
}

var meterFuncType = reflect.TypeFor[func(any) any]()

// meterer wraps nodes in counting calls. A node may be shared (a < b < c
// is a < b && b < c, with one b): it is wrapped once, both places.
type meterer struct{ done map[ast.Node]ast.Node }

// wrap wraps *n and what it evaluates in counting calls.
func (m *meterer) wrap(n *ast.Node) {
	if w, ok := m.done[*n]; ok {
		*n = w
		return
	}
	orig := *n
	defer func() { m.done[orig] = *n }()
	switch x := (*n).(type) {
	case *ast.PredicateNode:
		m.wrap(&x.Node)
		return // a closure is not a value
	case *ast.UnaryNode:
		m.wrap(&x.Node)
	case *ast.BinaryNode:
		m.wrap(&x.Left)
		m.wrap(&x.Right)
	case *ast.SliceNode:
		m.wrap(&x.Node)
		m.all(&x.From, &x.To)
	case *ast.CallNode:
		for i := range x.Arguments {
			m.wrap(&x.Arguments[i])
		}
	case *ast.BuiltinNode:
		for i := range x.Arguments {
			m.wrap(&x.Arguments[i])
		}
		m.all(&x.Map)
	case *ast.ConditionalNode:
		m.all(&x.Cond, &x.Exp1, &x.Exp2)
	case *ast.ArrayNode:
		for i := range x.Nodes {
			m.wrap(&x.Nodes[i])
		}
	case *ast.MapNode:
		for _, p := range x.Pairs {
			m.wrap(&p.(*ast.PairNode).Value)
		}
	case *ast.MemberNode:
		m.wrap(&x.Node)
	case *ast.ChainNode:
		return // optional chaining jumps to the chain's end: leave it whole
	}
	t := (*n).Type()
	if t == nil {
		return
	}
	callee := &ast.IdentifierNode{Value: fnMeter}
	callee.SetType(meterFuncType)
	call := &ast.CallNode{Callee: callee, Arguments: []ast.Node{*n}}
	call.SetType(t)
	call.SetLocation((*n).Location())
	*n = call
}

func (m *meterer) all(nodes ...*ast.Node) {
	for _, n := range nodes {
		if *n != nil {
			m.wrap(n)
		}
	}
}

// longRow has every string field at the longest checkCost assumes.
func longRow() *conn.Row {
	r := row("10.1.2.3")
	long := func(name string) string {
		n, ok := fieldBytes[name]
		if !ok {
			n = pathBytes
		}
		return strings.Repeat("/ab", int(n)/3+1)[:int(n)]
	}
	r.Comm, r.Proto, r.Family, r.State, r.CC = long("comm"), long("proto"), long("family"), long("state"), long("cc")
	r.Limit, r.Error, r.Direction = long("limit"), long("error"), long("direction")
	r.Cgroup, r.ContainerID, r.CommunityID = long("cgroup"), long("container_id"), long("community_id")
	return r
}

// checkMeasured fails if an accepted expression's bound is over maxCost or
// under the steps it takes on one of the rows.
func checkMeasured(t *testing.T, where string, rows []*conn.Row) {
	t.Helper()
	m := newMeter(t, where)
	if m == nil {
		return
	}
	bound := m.bound
	if bound > maxCost {
		t.Fatalf("%q: accepted with a bound of %.0f steps, over %d", where, bound, maxCost)
	}
	for _, r := range rows {
		if got := m.run(r); got > bound {
			t.Fatalf("%.200q: %.0f steps on a row (comm %.20q), over its bound of %.0f", where, got, r.Comm, bound)
		}
	}
}
