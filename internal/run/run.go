// Package run is tcptop's engine: given a typed configuration (what the
// command line in internal/cli parsed and checked), it picks the sink of
// the rows (the stream writer, the ranker of --sort, the grouper of
// --group-by or the live screen), opens the source, drops privileges, and
// runs the tick loop that wires source → agg → filter → sink, with the
// signals, the goroutine that writes stdout and the heap limit.
package run

import (
	"errors"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/tcptop/tcptop/internal/agg"
	"github.com/tcptop/tcptop/internal/filter"
	"github.com/tcptop/tcptop/internal/privs"
	"github.com/tcptop/tcptop/internal/source"
)

// Config is what the engine runs with: the command line's options, checked
// and compiled.
type Config struct {
	Output     string         // format of the stream: text, ndjson or csv (emit.Formats)
	Fields     []string       // --fields; nil: all
	GroupBy    []string       // --group-by; nil: one row per flow
	TimeFormat string         // --time-format
	Header     bool           // write the header (CSV, text)
	Stats      bool           // --stats
	Filter     *filter.Filter // -p and --where, compiled
	FilterText string         // the same as the user typed it, for the live screen
	Order      agg.Order      // --sort; zero: the aggregator's order
	Top        int            // --top; 0: all
	Changed    bool           // --changed
	Listeners  bool           // --listeners: rows of the listening sockets too
	Screen     string         // --screen: auto, always or never
	Interval   time.Duration  // --interval
	Count      int            // --count; 0: until stopped
	PIDs       []int          // -p, to say which do not exist
	Verbose    bool           // -v
	User       *privs.User    // --user; nil: stay root
	Listen     string         // --listen: serve /metrics there; "": no endpoint
	MaxSeries  int            // --max-series, with Listen
	// Source configures the kernel side; the engine sets its Warn and
	// Detail.
	Source source.Config
}

// UsageError marks an error the user can fix by changing the command
// line: tcptop exits 2 with it.
type UsageError struct{ Err error }

// Error is the error's text, as the user reads it.
func (u UsageError) Error() string { return u.Err.Error() }

// Unwrap returns the error marked.
func (u UsageError) Unwrap() error { return u.Err }

// ErrQuit is what Run returns when SIGQUIT stopped it: the caller exits
// with 128+3 and says so.
var ErrQuit = errQuit

// Run runs tcptop with cfg, writing rows to stdout and its lines to log,
// until --count ticks are written, a signal comes or the reader of stdout
// goes. It returns nil then; a UsageError for what the user can fix
// before anything is attached; ErrQuit after SIGQUIT.
func Run(cfg Config, stdout io.Writer, log Logger) error {
	logs := &logSink{w: log.w} // the live screen takes the log lines while it shows
	log.w = logs
	// Pick the writer before touching the kernel, so a usage error
	// attaches nothing.
	out := newOutput(stdout)
	p, err := newPipe(&cfg, out, log)
	if err != nil {
		return err
	}
	pr, err := openProm(&cfg, log) // --listen: before the kernel, so a port in use attaches nothing
	if err != nil {
		return err
	}
	defer pr.close()
	p.metrics = pr.sink()

	// Signals are caught before attaching, so a SIGINT that arrives while
	// loading still detaches everything. SIGPIPE is caught so a closed
	// stdout shows up as EPIPE from Write instead of killing the process.
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, stopSignals...)
	signal.Notify(make(chan os.Signal, 1), syscall.SIGPIPE)
	defer signal.Reset(append(stopSignals, syscall.SIGPIPE)...)

	onScreen := useScreen(&cfg, stdout)
	src, lst, err := openSource(&cfg, log, cfg.Listeners || onScreen)
	if err != nil {
		return err
	}
	defer src.Close()
	defer lst.close()
	start := time.Now()
	t := &ticker{cfg: &cfg, src: src, pipe: p, out: out, log: log, mem: newMemory(), joined: joinedNote{every: joinedNoteEvery}, prom: pr, lst: lst}
	if onScreen {
		ls, err := openScreen(&cfg, stdout, logs, func() {
			select { // as if Ctrl-C: the loop ends, the deferred steps restore and detach
			case stop <- syscall.SIGINT:
			default:
			}
		}, lst.show)
		if err != nil {
			return err
		}
		defer ls.close()
		t.onPanic = ls.close
		p.toScreen(ls.writer(src.Stats)) // the screen sorts, and cuts to --top, itself
	} else if cfg.Stats {
		t.health = newHealth(cfg.Interval, start) // the screen shows the drops itself
	}
	noteMissingPIDs(cfg.PIDs, log) // on the live screen, its status line shows it
	t.agg = agg.New(agg.Config{Start: start, Warn: log.Printf, Cgroup: cgroupNamer(cfg.Interval, log, cfg.Verbose),
		CommunityID: needsCommunityID(&cfg), RemoteName: src.RemoteName})
	return t.loop(stop)
}

// openSource attaches the kernel side, opens the reader of listeners
// if listeners is set (nil otherwise, or where it cannot open: the
// warning says why), and drops the privileges the tick loop does not
// need; -v says what was attached and what was kept.
func openSource(cfg *Config, log Logger, listeners bool) (*source.Source, *listenerRows, error) {
	notes := &openingNotes{log: log, verbose: cfg.Verbose}
	sc := cfg.Source
	sc.Warn, sc.Detail = notes.warn, notes.detail
	src, err := source.Open(sc)
	if err != nil {
		notes.flush()
		return nil, nil, err
	}
	var lst *listenerRows
	if listeners {
		lst = openListeners(cfg, notes.warn)
	}
	kept, err := dropPrivileges(src, lst != nil, cfg.User, notes.warn)
	if err != nil {
		notes.flush()
		src.Close()
		lst.close()
		return nil, nil, err
	}
	if cfg.Verbose {
		gaps := "every field available"
		if u := src.Unavailable(); len(u) > 0 {
			gaps = "not available: " + strings.Join(u, "; ")
		}
		log.Infof("attached %s path: %s; %s", src.Path(), strings.Join(src.Hooks(), ", "), gaps)
	}
	notes.flush()
	if cfg.Verbose {
		log.Infof("privileges kept: %s", kept)
	}
	return src, lst, nil
}

// streams says whether cfg wants the text stream rather than the live
// screen: the screen has its own columns, and shows flows.
func (c *Config) streams() bool { return len(c.GroupBy) > 0 || c.Fields != nil }

// IsUsage reports whether err is one the user fixes on the command line.
func IsUsage(err error) bool {
	var u UsageError
	return errors.As(err, &u)
}
