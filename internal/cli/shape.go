package cli

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/tcptop/tcptop/internal/agg"
	"github.com/tcptop/tcptop/internal/conn"
	"github.com/tcptop/tcptop/internal/emit"
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
		return nil, agg.Order{}, usageError{err}
	}
	order, err := agg.ParseOrder(opts.Sort)
	if err != nil {
		return nil, agg.Order{}, usageError{fmt.Errorf("--sort: %w", err)}
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

// errEnough stops a tick's rows once --top of them are written.
var errEnough = errors.New("--top rows written")

// shaper applies --sort and --top to the rows that passed the filter. With
// --sort it collects the tick's rows in a Ranker (a copy of each, at most
// --top) and writes them at the end of the tick; with --top alone it
// passes rows as they come and stops after the first N of the
// aggregator's order; with neither it passes every row.
type shaper struct {
	out  emit.Writer
	rank *agg.Ranker // nil without --sort
	top  int
	n    int
}

func newShaper(out emit.Writer, order agg.Order, top int) *shaper {
	s := &shaper{out: out, top: top}
	if !order.IsZero() {
		s.rank = agg.NewRanker(order, top)
	}
	return s
}

// row takes one row of the tick; errEnough says no more are wanted.
func (s *shaper) row(r *conn.Row) error {
	if s.rank != nil {
		s.rank.Add(r)
		return nil
	}
	if s.top > 0 && s.n >= s.top {
		return errEnough
	}
	s.n++
	return s.out.Row(r)
}

// end writes what the tick collected and readies the next tick.
func (s *shaper) end() error {
	s.n = 0
	if s.rank != nil {
		return s.rank.Each(s.out.Row)
	}
	return nil
}
