// Package metrics keeps Prometheus series of tcptop's rows and serves
// them (--listen): counters of bytes, packets, connections, retransmits
// and lost segments, and an RTT histogram, per label set of row fields
// (the --group-by keys), and tcptop's own health.
//
// It is fed each tick's rows as they pass --where, closed TCP records and
// the last rows of expiring UDP flows included, and adds their deltas
// (bytes_in_delta, ...), never their totals: a counter never goes
// backwards, and a connection that closes or a flow that expires leaves
// its bytes in its label set's counters. The number of label sets is
// bounded (--max-series): rows of label sets past it are counted in one
// series whose labels are all "other", and counted as such. It keeps one
// entry per label set and a few ticks' new connections, not the flows.
package metrics

import (
	"fmt"
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tcptop/tcptop/internal/conn"
)

// Config is what the sink counts by.
type Config struct {
	// Labels are the row fields that label the flow series, each a field
	// --group-by accepts; DefaultLabels if empty.
	Labels []string
	// MaxSeries is the most label sets the flow series get, the other
	// series included (at least 1).
	MaxSeries int
	// Warn is told once when the label sets reach MaxSeries.
	Warn func(format string, args ...any)
}

// Sink counts rows into series. Row and EndTick are called by the tick
// loop, one after another; Collect by the HTTP server, at any time. The
// tick loop adds to each series' live counts without a lock, and EndTick
// copies the series that moved into what a scrape reads, under mu: a
// scrape sees whole ticks, never some of a tick's rows.
type Sink struct {
	// The tick loop's own.
	labels  []label
	max     int
	warn    func(string, ...any)
	warned  bool
	index   map[string]*series
	all     []*series // in order of creation, other last once it exists
	other   *series
	key     []byte
	opens   *openings
	dirty   []*series // the series whose live counts moved this tick
	live    healthState
	flowD   flowDescs
	healthD healthDescs

	// What a scrape reads, written by EndTick.
	mu     sync.Mutex
	shown  []*series // all as of the last EndTick
	health healthState
	took   prometheus.Histogram
}

// New returns a sink for cfg. Bad labels or a MaxSeries below 1 are an
// error that names them.
func New(cfg Config) (*Sink, error) {
	names := cfg.Labels
	if len(names) == 0 {
		names = DefaultLabels
	}
	labels, err := labelsOf(names)
	if err != nil {
		return nil, err
	}
	if cfg.MaxSeries < 1 {
		return nil, fmt.Errorf("--max-series must be 1 or more, got %d", cfg.MaxSeries)
	}
	warn := cfg.Warn
	if warn == nil {
		warn = func(string, ...any) {}
	}
	return &Sink{
		labels: labels, max: cfg.MaxSeries, warn: warn,
		index: map[string]*series{}, opens: newOpenings(),
		flowD: newFlowDescs(names), healthD: newHealthDescs(),
		took: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "tcptop_tick_duration_seconds",
			Help:    "Time a tick took: the read of the kernel's counters, the rows and their output.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}),
	}, nil
}

// Row counts one row that passed --where. The sink does not keep r. A
// row that adds nothing (an idle flow's) costs a few comparisons: only
// rows that moved, opened or closed are keyed to their series, so the
// cost follows the traffic, not the number of flows.
func (s *Sink) Row(r *conn.Row) {
	s.live.rows++
	opened := s.opens.first(r)
	if !opened && !counted(r) {
		return
	}
	g := s.seriesOf(r)
	g.live.add(r, opened)
	if !g.dirty {
		g.dirty = true
		s.dirty = append(s.dirty, g)
	}
}

// seriesOf returns r's series, made if new and there is room, else the
// other series.
func (s *Sink) seriesOf(r *conn.Row) *series {
	s.key = appendKey(s.key[:0], s.labels, r)
	if g, ok := s.index[string(s.key)]; ok {
		return g
	}
	// Room for a new label set: one is kept for other.
	if len(s.index) < s.max-1 {
		k := string(s.key)
		g := newSeries(splitKey(k))
		s.index[k] = g
		s.all = append(s.all, g)
		return g
	}
	s.live.overflow++
	if s.other == nil {
		vals := make([]string, len(s.labels))
		for i := range vals {
			vals[i] = OtherValue
		}
		s.other = newSeries(vals)
		s.all = append(s.all, s.other)
	}
	if !s.warned {
		s.warned = true
		s.warn("--max-series %d reached: the rows of further label sets are counted in the series labelled %q (tcptop_metrics_overflow_rows_total counts them)", s.max, OtherValue)
	}
	return s.other
}

// EndTick records a tick's health, after its rows, and shows the tick to
// scrapes: the series that moved, the new ones, the health, at once.
func (s *Sink) EndTick(h Health) {
	s.opens.endTick(h.Read)
	s.live.ticks++
	s.live.stats = h.Stats
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, g := range s.dirty {
		g.shown, g.dirty = g.live, false
	}
	s.dirty = s.dirty[:0]
	s.shown = append(s.shown, s.all[len(s.shown):]...)
	s.health = s.live
	s.took.Observe(h.Took.Seconds())
}

// Describe sends the descriptions of every series (prometheus.Collector).
func (s *Sink) Describe(ch chan<- *prometheus.Desc) {
	s.flowD.describe(ch)
	s.healthD.describe(ch)
	s.took.Describe(ch)
}

// Collect sends the current value of every series (prometheus.Collector).
func (s *Sink) Collect(ch chan<- prometheus.Metric) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, g := range s.shown {
		s.flowD.collect(ch, g)
	}
	s.healthD.collect(ch, &s.health, len(s.shown), s.max)
	s.took.Collect(ch)
}

// Ticks returns how many ticks the sink has seen end.
func (s *Sink) Ticks() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.health.ticks
}
