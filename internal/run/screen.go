package run

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"

	"github.com/tcptop/tcptop/internal/conn"
	"github.com/tcptop/tcptop/internal/emit"
	"github.com/tcptop/tcptop/internal/screen"
	"github.com/tcptop/tcptop/internal/source"
)

// useScreen decides --screen: auto shows the live screen when the output
// is text and stdout a terminal. --fields and --group-by always stream.
func useScreen(cfg *Config, stdout io.Writer) bool {
	if cfg.streams() {
		return false
	}
	switch cfg.Screen {
	case "always":
		return true
	case "never":
		return false
	}
	return cfg.Output == "text" && screen.IsTerminal(stdout)
}

// liveScreen is tcptop's screen mode: the screen, fed by a writer in
// place of the text format, and the log lines, which would tear the
// screen and so go to its warning line while it shows, and to stderr once
// the terminal is back.
type liveScreen struct {
	scr   *screen.Screen
	log   *logSink
	held  []string
	count int           // --count
	w     *screenWriter // counts the ticks shown
	once  sync.Once
}

// openScreen takes the terminal over. quit is called when q is pressed;
// listeners (nil without) when l shows or hides the listeners.
func openScreen(c *Config, stdout io.Writer, log *logSink, quit func(), listeners func(bool)) (*liveScreen, error) {
	cfg := screen.Config{Interval: c.Interval, Filter: c.FilterText, Top: c.Top, Listeners: c.Listeners, OnListeners: listeners}
	if !c.Order.IsZero() {
		cfg.Sort, cfg.SortName = c.Order.Compare, c.Order.String()
	}
	term, err := screen.OpenTerminal(os.Stdin, stdout, os.Getenv("NO_COLOR") == "")
	if err != nil {
		return nil, fmt.Errorf("open the terminal: %w", err)
	}
	l := &liveScreen{scr: screen.Start(screen.NewModel(cfg), term, quit), log: log, count: c.Count}
	log.divert(func(line string) {
		l.held = append(l.held, line)
		l.scr.SetMessage(strings.TrimPrefix(line, "tcptop: "))
	})
	return l, nil
}

// close restores the terminal, then writes the log lines it held. When
// --count ended tcptop (not q or a signal), the last frame stays in view.
// Calls after the first do nothing.
func (l *liveScreen) close() {
	l.once.Do(func() {
		l.scr.Close(l.count > 0 && l.w != nil && l.w.ticks >= l.count)
		l.log.divert(nil)
		for _, line := range l.held {
			l.log.write(line)
		}
	})
}

// writer feeds the screen: a copy of each row of a tick, handed over at
// its end with the kernel-side drops read by stats.
func (l *liveScreen) writer(stats func() (source.Stats, error)) emit.Writer {
	l.w = &screenWriter{scr: l.scr, stats: stats}
	return l.w
}

type screenWriter struct {
	scr   *screen.Screen
	stats func() (source.Stats, error)
	tick  emit.Tick
	rows  []conn.Row
	size  int // rows of the previous tick, to size the next
	ticks int // ticks shown
}

func (w *screenWriter) Begin(t emit.Tick) error {
	w.tick, w.rows = t, make([]conn.Row, 0, w.size)
	return nil
}

func (w *screenWriter) Row(r *conn.Row) error {
	w.rows = append(w.rows, *r)
	return nil
}

func (w *screenWriter) End() error {
	w.size = len(w.rows)
	if st, err := w.stats(); err == nil {
		w.scr.SetDrops(dropsText(st))
	}
	w.scr.Tick(w.tick.Time, w.rows) // the screen keeps the slice
	w.rows = nil
	w.ticks++
	return nil
}

// dropsText says what the kernel side could not record, "" if nothing.
func dropsText(st source.Stats) string {
	var parts []string
	if st.TCPUntracked > 0 {
		parts = append(parts, fmt.Sprintf("%d conns untracked", st.TCPUntracked))
	}
	if st.UDPTableFull > 0 {
		parts = append(parts, fmt.Sprintf("%d datagrams uncounted", st.UDPTableFull))
	}
	if len(parts) == 0 {
		return ""
	}
	return "kernel drops: " + strings.Join(parts, ", ")
}

// logSink is where the Logger writes: stderr, or while the screen shows,
// a function that takes each line.
type logSink struct {
	mu  sync.Mutex
	w   io.Writer
	fn  func(line string)
	buf []byte
}

func (s *logSink) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fn == nil {
		return s.w.Write(p)
	}
	s.buf = append(s.buf, p...)
	for {
		line, rest, ok := strings.Cut(string(s.buf), "\n")
		if !ok {
			break
		}
		s.fn(line)
		s.buf = append(s.buf[:0], rest...)
	}
	return len(p), nil
}

// divert sends the lines to fn, or back to the writer if fn is nil.
func (s *logSink) divert(fn func(line string)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fn = fn
}

func (s *logSink) write(line string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	fmt.Fprintln(s.w, line)
}
