package run

import (
	"errors"
	"io"
	"slices"

	"github.com/tcptop/tcptop/internal/conn"
	"github.com/tcptop/tcptop/internal/emit"
	"github.com/tcptop/tcptop/internal/filter"
	"github.com/tcptop/tcptop/internal/metrics"
)

// pipe takes each row the aggregator hands out through the rest of the
// tick: --where, then the sink (the stream writer, the ranker of --sort,
// the grouper of --group-by, or the live screen); then the --stats
// record.
type pipe struct {
	flt       *filter.Filter
	log       Logger
	filterErr bool // a --where failure was reported

	sink       sink
	metrics    *metrics.Sink    // --listen; nil without
	stats      emit.StatsWriter // --stats in NDJSON; nil otherwise
	timeFormat string           // for --stats on stderr
}

// newPipe builds the sink of the rows (or groups) for cfg, writing to
// w. A bad field name or format is a usage error.
func newPipe(cfg *Config, w io.Writer, log Logger) (*pipe, error) {
	p := &pipe{flt: cfg.Filter, log: log, timeFormat: cfg.TimeFormat}
	var err error
	p.sink, p.stats, err = newSink(cfg, w)
	if err != nil {
		return nil, UsageError{err}
	}
	if !cfg.Stats || cfg.Output != "ndjson" {
		p.stats = nil
	}
	return p, nil
}

// toScreen sends the rows to the live screen, which sorts and cuts to
// --top itself.
func (p *pipe) toScreen(w emit.Writer) {
	p.sink = &streamSink{w: w}
	p.stats = nil
}

// errEnough stops a tick's rows once --top of them are written.
var errEnough = errors.New("--top rows written")

// begin starts a tick.
func (p *pipe) begin(tick emit.Tick) error { return p.sink.begin(tick) }

// row takes one row of the aggregator's; errEnough says no more are
// wanted. An expression that fails at run time (say, a division by zero)
// drops the row and is reported once.
func (p *pipe) row(r *conn.Row) error {
	ok, err := p.flt.Match(r)
	if err != nil && !p.filterErr {
		p.filterErr = true
		p.log.Printf("--where failed on a row, treating as false: %v", err)
	}
	if !ok {
		return nil
	}
	if p.metrics != nil && r.State != conn.StateListen {
		p.metrics.Row(r) // the metrics count connections: a listener is none
	}
	err = p.sink.row(r)
	if errors.Is(err, errEnough) && p.metrics != nil {
		return nil // --top has its rows; the metrics count every row
	}
	return err
}

// end writes what the tick collected (sorted rows, or the groups), then
// the --stats record, and ends the tick. stats makes the record, given
// the records written; nil for none.
func (p *pipe) end(stats func(written int64) *conn.Stats) error {
	written, err := p.sink.flush()
	if err != nil {
		return err
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
	return p.sink.end()
}

// needsCommunityID says whether rows must carry community_id: the output
// has it (every field does, by default), a group key is it, or --where
// reads it. Without, the aggregator keeps no digest per flow.
func needsCommunityID(cfg *Config) bool {
	const name = "community_id"
	if len(cfg.GroupBy) > 0 {
		return slices.Contains(cfg.GroupBy, name) || cfg.Filter.Uses(name)
	}
	return cfg.Fields == nil || slices.Contains(cfg.Fields, name) || cfg.Filter.Uses(name)
}
