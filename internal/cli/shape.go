package cli

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/tcptop/tcptop/internal/agg"
	"github.com/tcptop/tcptop/internal/filter"
)

// compileRows compiles what rows go through on their way out: -p and
// --where, and --sort. Its errors are usage errors.
func compileRows(opts *Options) (*filter.Filter, agg.Order, error) {
	flt, err := filter.Compile(opts.Where)
	if err == nil && len(opts.PIDs) > 0 {
		flt, err = filter.Compile(filterExpr(opts.Where, opts.PIDs))
	}
	if err != nil {
		return nil, agg.Order{}, usageError{Err: err}
	}
	order, err := agg.ParseOrder(opts.Sort)
	if err != nil {
		return nil, agg.Order{}, usageError{Err: fmt.Errorf("--sort: %w", err)}
	}
	return flt, order, nil
}

// filterExpr is the --where expression with -p folded in: pid in [...]
// and, if given, the expression, in parentheses of its own.
func filterExpr(where string, pids []int) string {
	if len(pids) == 0 {
		return where
	}
	ids := make([]string, len(pids))
	for i, p := range pids {
		ids[i] = strconv.Itoa(p)
	}
	in := "pid in [" + strings.Join(ids, ", ") + "]"
	if strings.TrimSpace(where) == "" {
		return in
	}
	return in + " && (" + where + "\n)" // a newline ends a trailing comment
}
