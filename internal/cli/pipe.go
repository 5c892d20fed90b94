package cli

import (
	"io"
	"slices"

	"github.com/tcptop/tcptop/internal/conn"
	"github.com/tcptop/tcptop/internal/emit"
	"github.com/tcptop/tcptop/internal/filter"
	"github.com/tcptop/tcptop/internal/group"
)

// pipe takes each row the aggregator hands out through the rest of the
// tick: --where, then either the writer or the groups of --group-by,
// whose rows are written at the end of the tick; then the --stats record.
// It counts the records it writes.
type pipe struct {
	flt       *filter.Filter
	log       logger
	filterErr bool // a --where failure was reported

	out     emit.Writer      // rows; nil with --group-by
	grouper *group.Grouper   // with --group-by
	groups  emit.GroupWriter // with --group-by
	stats   emit.StatsWriter // --stats in NDJSON; nil otherwise

	written    int64  // records written this tick
	timeFormat string // for --stats on stderr
}

// newPipe builds the writer (of rows or groups) for the options. A bad
// field name or format is a usage error.
func newPipe(opts *Options, flt *filter.Filter, w io.Writer, header bool, log logger) (*pipe, error) {
	o := emit.Options{Header: header, Fields: opts.Fields, Time: opts.TimeFormat}
	p := &pipe{flt: flt, log: log, timeFormat: opts.TimeFormat}
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
		if p.out, err = emit.NewWith(opts.Output, w, o); err != nil {
			return nil, usageError{err}
		}
		p.stats, _ = p.out.(emit.StatsWriter)
	}
	if !opts.Stats || opts.Output != "ndjson" {
		p.stats = nil
	}
	return p, nil
}

// begin starts a tick.
func (p *pipe) begin(tick emit.Tick) error {
	p.written = 0
	if p.grouper != nil {
		p.grouper.Begin()
		return p.groups.Begin(tick)
	}
	return p.out.Begin(tick)
}

// row takes one row of the aggregator's. An expression that fails at run
// time (say, a division by zero) drops the row and is reported once.
func (p *pipe) row(r *conn.Row) error {
	ok, err := p.flt.Match(r)
	if err != nil && !p.filterErr {
		p.filterErr = true
		p.log.printf("--where failed on a row, treating as false: %v", err)
	}
	if !ok {
		return nil
	}
	if p.grouper != nil {
		p.grouper.Add(r)
		return nil
	}
	p.written++
	return p.out.Row(r)
}

// end writes the groups, if grouping, then the --stats record, and ends
// the tick. stats makes the record, given the records written; nil when
// --stats is off.
func (p *pipe) end(stats func(written int64) *conn.Stats) error {
	if p.grouper != nil {
		err := p.grouper.Each(func(g *conn.GroupRow) error {
			p.written++
			return p.groups.Group(g)
		})
		if err != nil {
			return err
		}
	}
	if stats != nil {
		s := stats(p.written)
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
