package filter

import (
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/checker/nature"
)

// recheckCalls makes expr's final type check look inside every call.
//
// expr checks the tree once before each patcher and drops those errors,
// then checks it a last time. Its checker trusts a call whose type an
// earlier pass has set (so that patchers can type the calls they build),
// and so never looks at that call's arguments again: is_private(nope) or
// in_cidr(remote_addr.c, "10.0.0.0/8") were accepted, and every row then
// failed at run time. This patcher runs last and clears the type of every
// call, so the final pass derives it again from the function's signature:
// the same type the patchers set, since each one types a call as its
// function returns.
type recheckCalls struct{}

// Visit implements ast.Visitor.
func (recheckCalls) Visit(node *ast.Node) {
	if c, ok := (*node).(*ast.CallNode); ok {
		c.SetNature(nature.Nature{})
	}
}

// Reset and ShouldRepeat put recheckCalls among expr's repeatable patchers,
// which run after the others (the in operator's among them), so that it
// comes last whatever the order of options.
func (recheckCalls) Reset() {}

// ShouldRepeat implements expr's repeatable patcher: one pass is enough.
func (recheckCalls) ShouldRepeat() bool { return false }
