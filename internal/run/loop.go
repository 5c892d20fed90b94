package run

import (
	"errors"
	"fmt"
	"os"
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

// noteMissingPIDs says once, for each -p process that does not exist,
// that it does not (yet): without a word, tcptop would print nothing at
// all and look broken. It is not an error: the process may start later.
func noteMissingPIDs(pids []int, log Logger) {
	for _, pid := range pids {
		if unix.Kill(pid, 0) == unix.ESRCH {
			log.Printf("--pid %d: no such process (yet): its rows will show if one starts", pid)
		}
	}
}

// dropPrivileges gives up, once the probes are attached, every capability
// the tick loop does not use (docs/security.md), and root if --user says
// so. It returns what was kept, for -v; what the loop would use but the
// process does not hold (a service started with only the capabilities to
// attach) costs owners, which warn says once.
func dropPrivileges(src *source.Source, listeners bool, user *privs.User, warn func(string, ...any)) (string, error) {
	var keep []privs.Cap
	if src.NeedsProcOwners() || listeners {
		keep = append(keep, privs.SysPtrace, privs.DACReadSearch) // other users' /proc/PID/fd
	}
	if src.Translates() {
		keep = append(keep, privs.NetAdmin) // every ctnetlink request checks it (xlat_*)
	}
	kept, err := privs.Drop(privs.Request{Keep: keep, Optional: []privs.Cap{privs.BPF}, Needed: src.Probe, User: user})
	if errors.Is(err, privs.ErrUnsupported) && user == nil {
		return "all (" + err.Error() + ")", nil
	}
	if err != nil {
		return "", fmt.Errorf("drop privileges: %w", err)
	}
	if src.Translates() && !slices.Contains(kept, privs.NetAdmin) {
		src.StopTranslating()
		warn("not available: translated addresses (xlat_*): conntrack lookups take CAP_NET_ADMIN, which tcptop does not hold")
	}
	keep = slices.DeleteFunc(keep, func(c privs.Cap) bool { return c == privs.NetAdmin })
	if missing := capNames(slices.DeleteFunc(keep, func(c privs.Cap) bool { return slices.Contains(kept, c) })); len(missing) > 0 {
		what := "owners of idle connections in other users' processes (pid 0): on this kernel they are"
		if !src.NeedsProcOwners() {
			what = "owners of listeners in other users' processes (pid 0): they are"
		}
		warn("not available: %s read from /proc/PID/fd, which takes CAP_SYS_PTRACE and CAP_DAC_READ_SEARCH (missing %s)", what, strings.Join(missing, " and "))
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

// ticker is the per-tick pipeline: source → agg → filter → emit.
type ticker struct {
	cfg       *Config
	src       *source.Source
	agg       *agg.Aggregator
	pipe      *pipe // --where, --sort and --top or --group-by, the writer
	out       *output
	srcMu     sync.Mutex // held while reading the kernel, so a signal waits for the read before detaching
	log       Logger
	stats     source.Stats
	n         int64 // the tick being written (ticks skipped while the reader was behind do not count)
	coalesced int64 // ticks skipped while the reader was behind
	joined    joinedNote
	mem       *memory
	health    *health       // --stats; nil without, and on the live screen
	onPanic   func()        // the live screen gives the terminal back before a panic in the ticks goes on
	prom      *prom         // --listen; nil without
	lst       *listenerRows // --listeners, or the live screen; nil without
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
		t.out.waitAtMost(min(t.cfg.Interval/2, time.Second))
		return stoppedBy(sig)
	case err := <-done:
		t.srcMu.Lock()
		return err
	}
}

// repanic lets onPanic restore what it must before a panic in the ticks
// goroutine, which no deferred call of Run's would see, ends tcptop.
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
	tk := time.NewTicker(t.cfg.Interval)
	defer tk.Stop()
	var skipped int64
	for written := 0; t.cfg.Count == 0 || written < t.cfg.Count; {
		<-tk.C
		if t.out.readerGone() {
			return nil // | head: a normal end, even with nothing to write
		}
		if t.out.behind() {
			// A tick that comes late, because the one before overran the
			// interval (a first tick at 100,000 sockets can), may find
			// that tick's last lines still on their way to a reader that
			// keeps up: they get a moment, so that only a reader that is
			// really behind costs a tick.
			t.out.waitAtMost(t.cfg.Interval / 10)
		}
		if t.out.behind() {
			skipped++
			continue
		}
		if skipped > 0 {
			t.coalesced += skipped
			if n := t.joined.add(skipped, time.Now()); n > 0 {
				t.log.Printf("the reader of stdout fell behind: %d ticks joined into the ticks after them, up to tick %d (%d so far; said at most once a minute)", n, t.n+1, t.coalesced)
			}
			skipped = 0
		}
		err := t.tick()
		if errors.Is(err, syscall.EPIPE) || t.out.readerGone() {
			return nil
		}
		if err != nil {
			return err
		}
		written++
	}
	// --count reached: what was handed over is written before exiting.
	if err := t.out.wait(); err != nil && !errors.Is(err, syscall.EPIPE) {
		return fmt.Errorf("write output: %w", err)
	}
	return nil
}

// tick reads the kernel once and streams the tick's rows, filtered, to
// the writer: no tick's rows are ever held at once.
func (t *ticker) tick() error {
	began := time.Now()
	t.agg.Begin()
	t.srcMu.Lock()
	read, err := t.src.Read(t.agg.Observe)
	t.srcMu.Unlock()
	if err != nil {
		return err
	}
	t.agg.End(read)
	t.n++
	t.srcMu.Lock() // as the kernel's read: a signal waits for it before the sockets close
	t.lst.read(t.n)
	t.srcMu.Unlock()
	if err := t.write(emit.Tick{N: t.n, Time: read}); err != nil {
		return fmt.Errorf("write output: %w", err)
	}
	t.prom.endTick(t, read, time.Since(began))
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
	err := t.agg.Each(t.cfg.Changed, t.pipe.row)
	if err == nil {
		err = t.lst.each(t.cfg.Changed, t.pipe.row)
	}
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
		t.log.Printf("%d TCP connections not tracked (connection table full): their counters are read from the kernel's sockets each tick instead", st.TCPUntracked-t.stats.TCPUntracked)
	}
	if st.UDPTableFull > t.stats.UDPTableFull {
		t.log.Printf("%d UDP datagrams not counted: flow table full", st.UDPTableFull-t.stats.UDPTableFull)
	}
	// Once, and with -v at each tick that has more: another agent's map
	// syscalls could cause skips every tick.
	if st.KprobeRunsSkipped > t.stats.KprobeRunsSkipped && (t.cfg.Verbose || t.stats.KprobeRunsSkipped == 0) {
		t.log.Printf("the kernel skipped %d runs of tcptop's send/receive kprobes (a BPF map syscall preempted on their CPU): those sends and receives are missing from the live counts until their connections close", st.KprobeRunsSkipped-t.stats.KprobeRunsSkipped)
	}
	if t.cfg.Verbose && st.ClosesInferred > t.stats.ClosesInferred {
		t.log.Printf("%d closes the kernel skipped were found when their sockets were released", st.ClosesInferred-t.stats.ClosesInferred)
	}
	if t.cfg.Verbose && st.EventsLost > t.stats.EventsLost {
		t.log.Printf("%d close events found the ring buffer full and were read from the map instead", st.EventsLost-t.stats.EventsLost)
	}
	t.stats = st
}
