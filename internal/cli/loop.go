package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"runtime/metrics"
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
	sink := &logSink{w: log.w} // the live screen takes the log lines while it shows
	log = newLogger(sink)
	// Compile the filter and pick the writer before touching the kernel,
	// so a usage error attaches nothing.
	flt, order, err := compileRows(opts)
	if err != nil {
		return err
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
	shape := newShaper(out, order, opts.Top)
	if useScreen(opts, stdout) {
		ls, err := openScreen(opts, stdout, order, sink, func() {
			select { // as if Ctrl-C: the loop ends, the deferred steps restore and detach
			case stop <- syscall.SIGINT:
			default:
			}
		})
		if err != nil {
			return err
		}
		defer ls.close()
		out = ls.writer(src.Stats)
		shape = newShaper(out, agg.Order{}, 0) // the screen sorts, and cuts to --top, itself
	}
	a := agg.New(agg.Config{Start: time.Now(), Warn: log.printf})
	t := &ticker{opts: opts, src: src, flt: flt, out: out, shape: shape, log: log, agg: a, mem: newMemory()}
	return t.loop(stop)
}

// memory keeps the Go heap near what is live: by default the garbage
// collector lets the heap grow to twice what the last collection kept,
// and at 100,000 flows (about 20 MiB live) that doubling is most of the
// peak. The soft limit follows the live heap, with room for a tick's
// garbage, and is left alone when GOMEMLIMIT is set.
type memory struct {
	on     bool
	sample []metrics.Sample
}

const minMemoryLimit = 32 << 20

func newMemory() *memory {
	m := &memory{on: os.Getenv("GOMEMLIMIT") == "", sample: []metrics.Sample{{Name: "/gc/heap/live:bytes"}}}
	m.adjust()
	return m
}

// adjust sets the soft limit to 1.5 times the live heap, at least
// minMemoryLimit.
func (m *memory) adjust() {
	if !m.on {
		return
	}
	metrics.Read(m.sample)
	live := int64(0)
	if m.sample[0].Value.Kind() == metrics.KindUint64 {
		live = int64(m.sample[0].Value.Uint64())
	}
	debug.SetMemoryLimit(max(minMemoryLimit, live*3/2))
}

// ticker is the per-tick pipeline: source → agg → filter → emit.
type ticker struct {
	opts      *Options
	src       *source.Source
	agg       *agg.Aggregator
	flt       *filter.Filter
	out       emit.Writer
	shape     *shaper // --sort and --top, on the way to out
	log       logger
	stats     source.Stats
	filterErr bool
	n         int64 // the tick being written
	mem       *memory
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
		t.n = int64(n)
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

// tick reads the kernel once and streams the tick's rows, filtered, to
// the writer: no tick's rows are ever held at once.
func (t *ticker) tick() error {
	t.agg.Begin()
	read, err := t.src.Read(t.agg.Observe)
	if err != nil {
		return err
	}
	t.agg.End(read)
	if err := t.write(emit.Tick{N: t.n, Time: read}); err != nil {
		return fmt.Errorf("write output: %w", err)
	}
	t.reportDrops()
	t.mem.adjust()
	return nil
}

// write hands each row that passes the filter to the writer, through
// --sort and --top. An
// expression that fails at run time (say, a division by zero) drops the
// row and is reported once.
func (t *ticker) write(tick emit.Tick) error {
	if err := t.out.Begin(tick); err != nil {
		return err
	}
	err := t.agg.Each(t.opts.Changed, func(r *conn.Row) error {
		ok, err := t.flt.Match(r)
		if err != nil && !t.filterErr {
			t.filterErr = true
			t.log.printf("--where failed on a row, treating as false: %v", err)
		}
		if !ok {
			return nil
		}
		return t.shape.row(r)
	})
	if errors.Is(err, errEnough) {
		err = nil
	}
	if err == nil {
		err = t.shape.end()
	}
	if err != nil {
		return err
	}
	return t.out.End()
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
