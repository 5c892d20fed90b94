package run

import (
	"fmt"
	"net"
	"time"

	"github.com/tcptop/tcptop/internal/metrics"
)

// prom is the running Prometheus endpoint (--listen): the sink the rows
// go to and its server.
type prom struct {
	counts *metrics.Sink
	srv    *metrics.Server
}

// openProm makes the sink and listens, before the kernel is touched, so
// an address in use attaches nothing; nil without --listen.
func openProm(cfg *Config, log Logger) (*prom, error) {
	if cfg.Listen == "" {
		return nil, nil
	}
	sink, err := metrics.New(metrics.Config{Labels: cfg.GroupBy, MaxSeries: cfg.MaxSeries, Warn: log.Printf})
	if err != nil {
		return nil, UsageError{err}
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return nil, fmt.Errorf("--listen %s: %w (pick another port, or stop what listens there)", cfg.Listen, err)
	}
	return &prom{counts: sink, srv: metrics.Serve(ln, sink)}, nil
}

func (p *prom) close() {
	if p != nil {
		_ = p.srv.Close()
	}
}

// endTick hands the sink the tick's health, after its rows.
func (p *prom) endTick(t *ticker, read time.Time, took time.Duration) {
	if p == nil {
		return
	}
	h := metrics.Health{Read: read, Took: took}
	t.kernelStats(&h.Stats)
	h.Stats.TicksJoined = t.coalesced
	p.counts.EndTick(h)
}

// sink is where the rows go; nil without --listen.
func (p *prom) sink() *metrics.Sink {
	if p == nil {
		return nil
	}
	return p.counts
}
