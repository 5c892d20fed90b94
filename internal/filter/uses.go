package filter

import (
	"github.com/expr-lang/expr/ast"
)

// Uses reports whether the expression may read the field called name: it
// names it, or reads the environment as a whole ($env). An empty Filter
// uses nothing. The CLI asks, to compute a field the expression needs
// before matching and the others only for rows that pass.
func (f *Filter) Uses(name string) bool {
	if f == nil || f.prog == nil {
		return false
	}
	v := &usesVisitor{name: name}
	root := f.prog.Node()
	ast.Walk(&root, v)
	return v.found
}

type usesVisitor struct {
	name  string
	found bool
}

func (v *usesVisitor) Visit(n *ast.Node) {
	if id, ok := (*n).(*ast.IdentifierNode); ok && (id.Value == v.name || id.Value == "$env") {
		v.found = true
	}
}
