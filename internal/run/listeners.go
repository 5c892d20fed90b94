package run

import (
	"sync/atomic"
	"time"

	"github.com/tcptop/tcptop/internal/agg"
	"github.com/tcptop/tcptop/internal/conn"
	"github.com/tcptop/tcptop/internal/source"
)

// listenerRows adds the rows of the listening sockets to each tick
// (--listeners, or the live screen's l key): a sock_diag read of every
// namespace after the read of the kernel's connections, aggregated apart
// (their rows come after the connections', through the same pipe). A nil
// *listenerRows does nothing, so that without it a tick costs nothing
// more.
type listenerRows struct {
	src    *source.Listeners
	agg    *agg.Listeners
	on     atomic.Bool // read this tick: --listeners, or the screen shows them
	warn   func(string, ...any)
	failed bool // a read failed: said once
	read1  bool // this tick read them
}

// openListeners opens the reader of listeners, before the privileges it
// needs (entering each namespace) are dropped; nil, with a warning, if it
// cannot.
func openListeners(cfg *Config, warn func(string, ...any)) *listenerRows {
	src, err := source.OpenListeners(cfg.Source.ProcRoot)
	if err != nil {
		warn("not available: listeners (%v)", err)
		return nil
	}
	l := &listenerRows{src: src, agg: agg.NewListeners(), warn: warn}
	l.on.Store(cfg.Listeners)
	return l
}

// show turns the listeners' rows on or off from the next tick (the live
// screen's l key).
func (l *listenerRows) show(on bool) {
	if l != nil {
		l.on.Store(on)
	}
}

// read reads the listeners for tick n, if they are wanted.
func (l *listenerRows) read(n int64) {
	if l == nil {
		return
	}
	was := l.read1
	l.read1 = l.on.Load()
	if !l.read1 {
		return
	}
	if !was && n > 1 {
		// Shown again after ticks without: start afresh, as at start,
		// rather than give deltas over the ticks not read.
		l.agg = agg.NewListeners()
	}
	l.agg.Begin()
	if err := l.src.Read(l.agg.Observe); err != nil {
		if !l.failed {
			l.warn("listeners: %v", err)
			l.failed = true
		}
		l.read1 = false
		return
	}
	l.agg.End(time.Now(), n)
}

// each hands this tick's listener rows to fn.
func (l *listenerRows) each(changed bool, fn func(*conn.Row) error) error {
	if l == nil || !l.read1 {
		return nil
	}
	return l.agg.Each(changed, fn)
}

func (l *listenerRows) close() {
	if l != nil {
		l.src.Close()
	}
}
