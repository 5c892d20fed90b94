package cli

import (
	"errors"
	"io"
	"slices"

	"github.com/tcptop/tcptop/internal/agg"
	"github.com/tcptop/tcptop/internal/conn"
	"github.com/tcptop/tcptop/internal/emit"
	"github.com/tcptop/tcptop/internal/filter"
	"github.com/tcptop/tcptop/internal/group"
	"github.com/tcptop/tcptop/internal/metrics"
)

// pipe takes each row the aggregator hands out through the rest of the
// tick: --where, then either --sort and --top on the way to the writer,
// or the groups of --group-by, whose rows are written at the end of the
// tick (the first --top of them); then the --stats record. It counts the
// records it writes.
type pipe struct {
	flt       *filter.Filter
	log       logger
	filterErr bool // a --where failure was reported

	out     *countRows       // rows; nil with --group-by
	shape   *shaper          // --sort and --top, on the way to out
	grouper *group.Grouper   // with --group-by
	groups  emit.GroupWriter // with --group-by
	top     int              // --top, for groups
	stats   emit.StatsWriter // --stats in NDJSON; nil otherwise
	metrics *metrics.Sink    // --listen; nil without

	written    int64  // grouped rows written this tick
	timeFormat string // for --stats on stderr
}

// newPipe builds the writer (of rows or groups) for the options. A bad
// field name or format is a usage error.
func newPipe(opts *Options, flt *filter.Filter, order agg.Order, w io.Writer, header bool, log logger) (*pipe, error) {
	o := emit.Options{Header: header, Fields: opts.Fields, Time: opts.TimeFormat}
	p := &pipe{flt: flt, log: log, top: opts.Top, timeFormat: opts.TimeFormat}
	var err error
	if len(opts.GroupBy) > 0 {
		if p.grouper, err = group.New(opts.GroupBy); err != nil {
			return nil, usageError{err}
		}
		if p.groups, err = emit.NewGroups(opts.Output, w, opts.GroupBy, o); err != nil {
			return nil, usageError{err}
		}
		p.stats, _ = p.groups.(emit.StatsWriter)
	} else {
		out, err := emit.NewWith(opts.Output, w, o)
		if err != nil {
			return nil, usageError{err}
		}
		p.stats, _ = out.(emit.StatsWriter)
		p.out = &countRows{Writer: out}
		p.shape = newShaper(p.out, order, opts.Top)
	}
	if !opts.Stats || opts.Output != "ndjson" {
		p.stats = nil
	}
	return p, nil
}

// toScreen sends the rows to the live screen, which sorts and cuts to
// --top itself.
func (p *pipe) toScreen(w emit.Writer) {
	p.out = &countRows{Writer: w}
	p.shape = newShaper(p.out, agg.Order{}, 0)
	p.stats = nil
}

// countRows counts the rows it passes on.
type countRows struct {
	emit.Writer
	n int64
}

func (c *countRows) Row(r *conn.Row) error {
	c.n++
	return c.Writer.Row(r)
}

// begin starts a tick.
func (p *pipe) begin(tick emit.Tick) error {
	if p.grouper != nil {
		p.written = 0
		p.grouper.Begin()
		return p.groups.Begin(tick)
	}
	p.out.n = 0
	return p.out.Begin(tick)
}

// row takes one row of the aggregator's; errEnough says no more are
// wanted. An expression that fails at run time (say, a division by zero)
// drops the row and is reported once.
func (p *pipe) row(r *conn.Row) error {
	ok, err := p.flt.Match(r)
	if err != nil && !p.filterErr {
		p.filterErr = true
		p.log.printf("--where failed on a row, treating as false: %v", err)
	}
	if !ok {
		return nil
	}
	if p.metrics != nil {
		p.metrics.Row(r)
	}
	if p.grouper != nil {
		p.grouper.Add(r)
		return nil
	}
	err = p.shape.row(r)
	if errors.Is(err, errEnough) && p.metrics != nil {
		return nil // --top has its rows; the metrics count every row
	}
	return err
}

// end writes what the tick collected (sorted rows, or the groups), then
// the --stats record, and ends the tick. stats makes the record, given
// the records written; nil for none.
func (p *pipe) end(stats func(written int64) *conn.Stats) error {
	var written int64
	if p.grouper != nil {
		err := p.grouper.Each(func(g *conn.GroupRow) error {
			if p.top > 0 && p.written >= int64(p.top) {
				return errEnough
			}
			p.written++
			return p.groups.Group(g)
		})
		if err != nil && !errors.Is(err, errEnough) {
			return err
		}
		written = p.written
	} else {
		if err := p.shape.end(); err != nil {
			return err
		}
		written = p.out.n
	}
	if stats != nil {
		s := stats(written)
		if p.stats != nil {
			if err := p.stats.Stats(s); err != nil {
				return err
			}
		} else {
			p.log.stats(s, p.timeFormat)
		}
	}
	if p.grouper != nil {
		return p.groups.End()
	}
	return p.out.End()
}

// needsCommunityID says whether rows must carry community_id: the output
// has it (every field does, by default), a group key is it, or --where
// reads it. Without, the aggregator keeps no digest per flow.
func needsCommunityID(opts *Options, flt *filter.Filter) bool {
	const name = "community_id"
	if len(opts.GroupBy) > 0 {
		return slices.Contains(opts.GroupBy, name) || flt.Uses(name)
	}
	return opts.Fields == nil || slices.Contains(opts.Fields, name) || flt.Uses(name)
}
