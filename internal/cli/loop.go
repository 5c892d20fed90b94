package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/tcptop/tcptop/internal/agg"
	"github.com/tcptop/tcptop/internal/conn"
	"github.com/tcptop/tcptop/internal/emit"
	"github.com/tcptop/tcptop/internal/filter"
	"github.com/tcptop/tcptop/internal/source"
)

// logger writes "tcptop: ..." lines to stderr.
type logger struct{ w io.Writer }

func newLogger(w io.Writer) logger { return logger{w} }

func (l logger) printf(format string, args ...any) {
	fmt.Fprintf(l.w, "tcptop: "+format+"\n", args...)
}

// run is the program after flag parsing: check everything the user typed,
// then attach, then tick until done.
func run(opts *Options, stdout io.Writer, log logger) int {
	if err := setup(opts, stdout, log); err != nil {
		log.printf("%v", err)
		return exitCode(err)
	}
	return ExitOK
}

func setup(opts *Options, stdout io.Writer, log logger) error {
	// Compile the filter and pick the writer before touching the kernel,
	// so a usage error attaches nothing.
	flt, err := filter.Compile(opts.Where)
	if err != nil {
		return usageError{err}
	}
	out, err := emit.New(opts.Output, stdout, !opts.NoHeader)
	if err != nil {
		return usageError{err}
	}

	// Signals are caught before attaching, so a SIGINT that arrives while
	// loading still detaches everything. SIGPIPE is caught so a closed
	// stdout shows up as EPIPE from Write instead of killing the process.
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGINT, syscall.SIGTERM)
	signal.Notify(make(chan os.Signal, 1), syscall.SIGPIPE)
	defer signal.Reset(syscall.SIGINT, syscall.SIGTERM, syscall.SIGPIPE)

	src, err := source.Open(source.Config{Hooks: opts.Hooks, UDPTimeout: opts.UDPTimeout, Warn: log.printf})
	if err != nil {
		return err
	}
	defer src.Close()
	if opts.Verbose {
		gaps := "every field available"
		if u := src.Unavailable(); len(u) > 0 {
			gaps = "not available: " + strings.Join(u, "; ")
		}
		log.printf("attached %s path: %s; %s", src.Path(), strings.Join(src.Hooks(), ", "), gaps)
	}
	t := &ticker{opts: opts, src: src, flt: flt, out: out, log: log, agg: agg.New(time.Now(), 0)}
	return t.loop(stop)
}

// ticker is the per-tick pipeline: source → agg → filter → emit.
type ticker struct {
	opts      *Options
	src       *source.Source
	agg       *agg.Aggregator
	flt       *filter.Filter
	out       emit.Writer
	log       logger
	stats     source.Stats
	filterErr bool
}

func (t *ticker) loop(stop <-chan os.Signal) error {
	tk := time.NewTicker(t.opts.Interval)
	defer tk.Stop()
	for n := 1; t.opts.Count == 0 || n <= t.opts.Count; n++ {
		select {
		case <-stop:
			return nil
		case <-tk.C:
		}
		// A signal that arrived during the previous tick wins over a tick
		// that became due meanwhile.
		select {
		case <-stop:
			return nil
		default:
		}
		err := t.tick()
		if errors.Is(err, syscall.EPIPE) {
			return nil // the reader went away (| head): a normal end
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func (t *ticker) tick() error {
	snap, err := t.src.Snapshot()
	if err != nil {
		return err
	}
	rows, _ := t.agg.Tick(snap.Time, snap.Obs)
	rows = t.keep(rows)
	if err := t.out.WriteTick(rows); err != nil {
		return fmt.Errorf("write output: %w", err)
	}
	t.reportDrops()
	return nil
}

// keep filters rows in place. An expression that fails at run time (say,
// a division by zero) drops the row and is reported once.
func (t *ticker) keep(rows []conn.Row) []conn.Row {
	kept := rows[:0]
	for i := range rows {
		ok, err := t.flt.Match(&rows[i])
		if err != nil && !t.filterErr {
			t.filterErr = true
			t.log.printf("--where failed on a row, treating as false: %v", err)
		}
		if ok {
			kept = append(kept, rows[i])
		}
	}
	return kept
}

// reportDrops says on stderr when the kernel side could not record
// something, once per increase.
func (t *ticker) reportDrops() {
	st, err := t.src.Stats()
	if err != nil {
		return
	}
	if st.TCPUntracked > t.stats.TCPUntracked {
		t.log.printf("%d TCP connections not tracked (connection table full): their counters are read from the kernel's sockets each tick instead", st.TCPUntracked-t.stats.TCPUntracked)
	}
	if st.UDPTableFull > t.stats.UDPTableFull {
		t.log.printf("%d UDP datagrams not counted: flow table full", st.UDPTableFull-t.stats.UDPTableFull)
	}
	if t.opts.Verbose && st.EventsLost > t.stats.EventsLost {
		t.log.printf("%d close events found the ring buffer full and were read from the map instead", st.EventsLost-t.stats.EventsLost)
	}
	t.stats = st
}
