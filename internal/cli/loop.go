package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"runtime/metrics"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/tcptop/tcptop/internal/agg"
	"github.com/tcptop/tcptop/internal/emit"
	"github.com/tcptop/tcptop/internal/privs"
	"github.com/tcptop/tcptop/internal/source"
)

// run is the program after flag parsing: check everything the user typed,
// then attach, then tick until done.
func run(opts *Options, stdout io.Writer, log logger) int {
	if err := setup(opts, stdout, log); err != nil {
		log.errorf("%v", err)
		return exitCode(err)
	}
	return ExitOK
}

func setup(opts *Options, stdout io.Writer, log logger) error {
	logs := &logSink{w: log.w} // the live screen takes the log lines while it shows
	log.w = logs
	// Compile the filter and pick the writer before touching the kernel,
	// so a usage error attaches nothing.
	flt, order, err := compileRows(opts)
	if err != nil {
		return err
	}
	header, err := headerWanted(opts, stdout)
	if err != nil {
		return usageError{err}
	}
	sink := newOutput(stdout)
	p, err := newPipe(opts, flt, order, sink, header, log)
	if err != nil {
		return err
	}
	usr, err := lookupUser(opts.User)
	if err != nil {
		return err
	}

	// Signals are caught before attaching, so a SIGINT that arrives while
	// loading still detaches everything. SIGPIPE is caught so a closed
	// stdout shows up as EPIPE from Write instead of killing the process.
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, stopSignals...)
	signal.Notify(make(chan os.Signal, 1), syscall.SIGPIPE)
	defer signal.Reset(append(stopSignals, syscall.SIGPIPE)...)

	notes := &openingNotes{log: log, verbose: opts.Verbose}
	src, err := source.Open(sourceConfig(opts, notes))
	if err != nil {
		notes.flush()
		return err
	}
	defer src.Close()
	kept, err := dropPrivileges(src, usr, notes.warn)
	if err != nil {
		notes.flush()
		return err
	}
	if opts.Verbose {
		gaps := "every field available"
		if u := src.Unavailable(); len(u) > 0 {
			gaps = "not available: " + strings.Join(u, "; ")
		}
		log.infof("attached %s path: %s; %s", src.Path(), strings.Join(src.Hooks(), ", "), gaps)
	}
	notes.flush()
	if opts.Verbose {
		log.infof("privileges kept: %s", kept)
	}
	start := time.Now()
	t := &ticker{opts: opts, src: src, pipe: p, sink: sink, log: log, mem: newMemory(), joined: joinedNote{every: joinedNoteEvery}}
	if !opts.streams() && useScreen(opts, stdout) {
		ls, err := openScreen(opts, stdout, order, logs, func() {
			select { // as if Ctrl-C: the loop ends, the deferred steps restore and detach
			case stop <- syscall.SIGINT:
			default:
			}
		})
		if err != nil {
			return err
		}
		defer ls.close()
		t.onPanic = ls.close
		p.toScreen(ls.writer(src.Stats)) // the screen sorts, and cuts to --top, itself
	} else if opts.Stats {
		t.health = newHealth(opts.Interval, start) // the screen shows the drops itself
	}
	noteMissingPIDs(opts.PIDs, log) // on the live screen, its status line shows it
	t.agg = agg.New(agg.Config{Start: start, Warn: log.printf, Cgroup: cgroupNamer(opts.Interval, log, opts.Verbose),
		CommunityID: needsCommunityID(opts, flt), RemoteName: src.RemoteName})
	return t.loop(stop)
}

// noteMissingPIDs says once, for each -p process that does not exist,
// that it does not (yet): without a word, tcptop would print nothing at
// all and look broken. It is not an error: the process may start later.
func noteMissingPIDs(pids []int, log logger) {
	for _, pid := range pids {
		if unix.Kill(pid, 0) == unix.ESRCH {
			log.printf("--pid %d: no such process (yet): its rows will show if one starts", pid)
		}
	}
}

// dropPrivileges gives up, once the probes are attached, every capability
// the tick loop does not use (docs/security.md), and root if --user says
// so. It returns what was kept, for -v; what the loop would use but the
// process does not hold (a service started with only the capabilities to
// attach) costs owners, which warn says once.
func dropPrivileges(src *source.Source, user *privs.User, warn func(string, ...any)) (string, error) {
	var keep []privs.Cap
	if src.NeedsProcOwners() {
		keep = append(keep, privs.SysPtrace, privs.DACReadSearch) // other users' /proc/PID/fd
	}
	kept, err := privs.Drop(privs.Request{Keep: keep, Optional: []privs.Cap{privs.BPF}, Needed: src.Probe, User: user})
	if errors.Is(err, privs.ErrUnsupported) && user == nil {
		return "all (" + err.Error() + ")", nil
	}
	if err != nil {
		return "", fmt.Errorf("drop privileges: %w", err)
	}
	if missing := capNames(slices.DeleteFunc(keep, func(c privs.Cap) bool { return slices.Contains(kept, c) })); len(missing) > 0 {
		warn("not available: owners of idle connections in other users' processes (pid 0): on this kernel they are read from /proc/PID/fd, which takes CAP_SYS_PTRACE and CAP_DAC_READ_SEARCH (missing %s)", strings.Join(missing, " and "))
	}
	if names := capNames(kept); len(names) > 0 {
		return strings.Join(names, ", "), nil
	}
	return "none", nil
}

func capNames(caps []privs.Cap) []string {
	names := make([]string, len(caps))
	for i, c := range caps {
		names[i] = c.String()
	}
	return names
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
	pipe      *pipe // --where, --sort and --top or --group-by, the writer
	sink      *output
	srcMu     sync.Mutex // held while reading the kernel, so a signal waits for the read before detaching
	log       logger
	stats     source.Stats
	n         int64 // the tick being written (ticks skipped while the reader was behind do not count)
	coalesced int64 // ticks skipped while the reader was behind
	joined    joinedNote
	mem       *memory
	health    *health // --stats; nil without, and on the live screen
	onPanic   func()  // the live screen gives the terminal back before a panic in the ticks goes on
}

// loop runs the ticks in a goroutine of their own and returns when they
// are done, fail, or a signal comes: a reader that stalls can hold up the
// ticks (and their writes), never the signals. The caller's deferred Close
// detaches; it waits for a read of the kernel in progress, not for output.
func (t *ticker) loop(stop <-chan os.Signal) error {
	done := make(chan error, 1)
	go func() {
		defer t.repanic()
		done <- t.ticks()
	}()
	select {
	case sig := <-stop:
		t.srcMu.Lock() // let a read in progress end; the deferred Close detaches
		// Lines already formatted reach a reader that keeps up; a
		// stalled one gets whole lines only and does not delay the exit
		// past the interval.
		t.sink.waitAtMost(min(t.opts.Interval/2, time.Second))
		return stoppedBy(sig)
	case err := <-done:
		t.srcMu.Lock()
		return err
	}
}

// repanic lets onPanic restore what it must before a panic in the ticks
// goroutine, which no deferred call of setup's would see, ends tcptop.
func (t *ticker) repanic() {
	if r := recover(); r != nil {
		if t.onPanic != nil {
			t.onPanic()
		}
		panic(r)
	}
}

// ticks writes --count ticks (or ticks until its reader goes). A tick that
// comes while the previous one's lines still wait for the reader is
// skipped: the next one written covers the time since the last one
// written, as the kernel's counters do.
func (t *ticker) ticks() error {
	tk := time.NewTicker(t.opts.Interval)
	defer tk.Stop()
	var skipped int64
	for written := 0; t.opts.Count == 0 || written < t.opts.Count; {
		<-tk.C
		if t.sink.readerGone() {
			return nil // | head: a normal end, even with nothing to write
		}
		if t.sink.behind() {
			// A tick that comes late, because the one before overran the
			// interval (a first tick at 100,000 sockets can), may find
			// that tick's last lines still on their way to a reader that
			// keeps up: they get a moment, so that only a reader that is
			// really behind costs a tick.
			t.sink.waitAtMost(t.opts.Interval / 10)
		}
		if t.sink.behind() {
			skipped++
			continue
		}
		if skipped > 0 {
			t.coalesced += skipped
			if n := t.joined.add(skipped, time.Now()); n > 0 {
				t.log.printf("the reader of stdout fell behind: %d ticks joined into the ticks after them, up to tick %d (%d so far; said at most once a minute)", n, t.n+1, t.coalesced)
			}
			skipped = 0
		}
		err := t.tick()
		if errors.Is(err, syscall.EPIPE) || t.sink.readerGone() {
			return nil
		}
		if err != nil {
			return err
		}
		written++
	}
	// --count reached: what was handed over is written before exiting.
	if err := t.sink.wait(); err != nil && !errors.Is(err, syscall.EPIPE) {
		return fmt.Errorf("write output: %w", err)
	}
	return nil
}

// tick reads the kernel once and streams the tick's rows, filtered, to
// the writer: no tick's rows are ever held at once.
func (t *ticker) tick() error {
	t.agg.Begin()
	t.srcMu.Lock()
	read, err := t.src.Read(t.agg.Observe)
	t.srcMu.Unlock()
	if err != nil {
		return err
	}
	t.agg.End(read)
	t.n++
	if err := t.write(emit.Tick{N: t.n, Time: read}); err != nil {
		return fmt.Errorf("write output: %w", err)
	}
	t.reportDrops()
	t.mem.adjust()
	return nil
}

// write streams the tick's rows through the pipe: filter, then --sort and
// --top or the groups of --group-by, the writer, and the --stats record.
func (t *ticker) write(tick emit.Tick) error {
	if err := t.pipe.begin(tick); err != nil {
		return err
	}
	err := t.agg.Each(t.opts.Changed, t.pipe.row)
	if errors.Is(err, errEnough) {
		err = nil
	}
	if err != nil {
		return err
	}
	return t.pipe.end(t.statsRecord(tick))
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
