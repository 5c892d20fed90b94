package run

import (
	"errors"
	"io"

	"github.com/tcptop/tcptop/internal/agg"
	"github.com/tcptop/tcptop/internal/conn"
	"github.com/tcptop/tcptop/internal/emit"
	"github.com/tcptop/tcptop/internal/group"
)

// sink is where a tick's rows go once they passed the filter: one kind
// per output shape, so the pipe treats them all alike. row may keep what
// it is given only by copying it: the aggregator reuses the row.
type sink interface {
	begin(tick emit.Tick) error
	// row takes one row; errEnough says no more are wanted this tick.
	row(r *conn.Row) error
	// flush writes what the tick collected and says how many records
	// the tick wrote, for the --stats record that follows them.
	flush() (written int64, err error)
	// end ends the tick's output.
	end() error
}

// newSink picks the sink for cfg, writing to w, and the writer of the
// --stats record if the format has one. With --group-by it groups; with
// --sort it ranks; otherwise rows pass as they come, the first --top.
func newSink(cfg *Config, w io.Writer) (sink, emit.StatsWriter, error) {
	o := emit.Options{Header: cfg.Header, Fields: cfg.Fields, Time: cfg.TimeFormat}
	if len(cfg.GroupBy) > 0 {
		g, err := group.New(cfg.GroupBy)
		if err != nil {
			return nil, nil, err
		}
		out, err := emit.NewGroups(cfg.Output, w, cfg.GroupBy, o)
		if err != nil {
			return nil, nil, err
		}
		stats, _ := out.(emit.StatsWriter)
		return &groupSink{grouper: g, out: out, top: cfg.Top}, stats, nil
	}
	out, err := emit.NewWith(cfg.Output, w, o)
	if err != nil {
		return nil, nil, err
	}
	stats, _ := out.(emit.StatsWriter)
	if !cfg.Order.IsZero() {
		return &rankSink{rank: agg.NewRanker(cfg.Order, cfg.Top), out: streamSink{w: out}}, stats, nil
	}
	return &streamSink{w: out, top: cfg.Top}, stats, nil
}

// streamSink passes rows to the writer as they come, in the
// aggregator's order, and stops after the first top (0: all).
type streamSink struct {
	w   emit.Writer
	top int
	n   int64 // rows written this tick
}

func (s *streamSink) begin(tick emit.Tick) error {
	s.n = 0
	return s.w.Begin(tick)
}

func (s *streamSink) row(r *conn.Row) error {
	if s.top > 0 && s.n >= int64(s.top) {
		return errEnough
	}
	s.n++
	return s.w.Row(r)
}

func (s *streamSink) flush() (int64, error) { return s.n, nil }
func (s *streamSink) end() error            { return s.w.End() }

// rankSink applies --sort: it keeps a copy of the tick's rows in a
// Ranker (at most --top) and writes them at the end of the tick.
type rankSink struct {
	rank *agg.Ranker
	out  streamSink
}

func (s *rankSink) begin(tick emit.Tick) error { return s.out.begin(tick) }

func (s *rankSink) row(r *conn.Row) error {
	s.rank.Add(r)
	return nil
}

func (s *rankSink) flush() (int64, error) {
	err := s.rank.Each(s.out.row)
	return s.out.n, err
}

func (s *rankSink) end() error { return s.out.end() }

// groupSink applies --group-by: it adds each row to its group and writes
// the first --top groups at the end of the tick, in the grouper's order.
type groupSink struct {
	grouper *group.Grouper
	out     emit.GroupWriter
	top     int
	written int64 // groups written this tick
}

func (s *groupSink) begin(tick emit.Tick) error {
	s.written = 0
	s.grouper.Begin()
	return s.out.Begin(tick)
}

func (s *groupSink) row(r *conn.Row) error {
	s.grouper.Add(r)
	return nil
}

func (s *groupSink) flush() (int64, error) {
	err := s.grouper.Each(func(g *conn.GroupRow) error {
		if s.top > 0 && s.written >= int64(s.top) {
			return errEnough
		}
		s.written++
		return s.out.Group(g)
	})
	if errors.Is(err, errEnough) {
		err = nil
	}
	return s.written, err
}

func (s *groupSink) end() error { return s.out.End() }
