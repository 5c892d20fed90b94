package source

import (
	"errors"
	"fmt"
	"runtime"
	"strings"

	"golang.org/x/sys/unix"
)

// realtimePart names the part that keeps tcptop's own map reads from
// making the kernel skip the kprobes of other tasks.
//
// Why: a kprobe program is skipped on a CPU while bpf_prog_active is
// raised there, and the kernel raises it around every BPF map syscall
// (lookups, deletes, batch reads: bpf_disable_instrumentation), with
// migration disabled but preemption allowed. Where the kernel can preempt
// a task in the kernel (the models full, lazy and RT), a task preempted
// inside such a syscall leaves it raised while other tasks run on that
// CPU, and their sends and receives go uncounted: 7.3 (lazy) lost a live
// connection's 10-byte send so, on the kprobe path. A task of the fair
// class cannot preempt one of the real-time class, so the tick, which
// makes all of tcptop's per-tick map syscalls, runs at SCHED_FIFO
// priority 1 there. Tracepoint and fexit programs count their recursion
// per program, not in bpf_prog_active: only the kprobe path needs it.
const realtimePart = "tick priority"

// realtimeLoss is what stays uncovered with the tick at real-time
// priority: the map syscalls of other programs.
const realtimeLoss = "a BPF map syscall of another program on this host (bpftool, another agent) that is preempted makes the kernel skip every kprobe on its CPU until it runs again: " +
	"the sends and receives skipped so are missing from the live counts until the connection closes (its totals are then settled from the kernel's counters)"

// realtimeRefusedLoss is what the tick's own syscalls cost where the
// thread may not take a real-time priority.
const realtimeRefusedLoss = "tcptop's own per-tick map reads, when the kernel preempts one, make it skip the kprobes of every task on that CPU meanwhile: " +
	"sends and receives of live connections go uncounted until the connection closes; give tcptop CAP_SYS_NICE and let it use real-time scheduling (run it as root; under systemd, RestrictRealtime=no) to avoid this"

// wantRealtime reports whether the tick runs at real-time priority: on
// the kprobe path where the kernel can preempt a task in the kernel, or
// where a test forces it.
func (s *Source) wantRealtime() bool {
	return !s.cfg.realtimeOff && s.cfg.forceRealtime || (s.path == HooksKprobe && s.preempt.preemptible())
}

// noteRealtime decides the tick's priority once the path is known and
// records the part: whether the thread may take it is tried at once, so
// that a refusal is said at start, not at the first tick.
func (s *Source) noteRealtime() {
	p := Part{Name: realtimePart}
	switch {
	case s.cfg.realtimeOff && s.path == HooksKprobe && s.preempt.preemptible():
		p.Refused = []string{"kept in the normal class on purpose (test switch)"}
		p.Loss = realtimeRefusedLoss
	case !s.wantRealtime() && s.path == HooksKprobe:
		p.Skipped = s.preempt.String()
		if s.preempt.dynamic {
			p.Loss = "a switch of the preemption model to full or lazy through /sys/kernel/debug/sched/preempt after tcptop started: " + realtimeRefusedLoss
		}
	case !s.wantRealtime():
		p.Skipped = "the " + s.path + " path counts skipped runs per program, not per CPU"
	default:
		leave, err := enterRealtime()
		if err != nil {
			p.Refused = []string{err.Error()}
			p.Loss = realtimeRefusedLoss
			break
		}
		leave()
		s.realtime = true
		why := s.preempt.String()
		if s.cfg.forceRealtime && s.path != HooksKprobe {
			why = "forced on (test switch)"
		}
		p.Using = "SCHED_FIFO 1 for the tick's map reads: " + why
		p.Loss = realtimeLoss
		s.cfg.Detail("%s: %s", p.Name, p.Using)
	}
	s.part(p)
}

// setScheduler is sched_setattr for the calling thread; tests replace it.
var setScheduler = func(attr *unix.SchedAttr) error { return unix.SchedSetAttr(0, attr, 0) }

// enterRealtime locks the calling goroutine to its thread and raises the
// thread to SCHED_FIFO priority 1; leave puts it back as it was and
// unlocks it. The thread is never handed back to the Go scheduler at
// real-time priority.
func enterRealtime() (leave func(), err error) {
	runtime.LockOSThread()
	old, err := unix.SchedGetAttr(0, 0)
	if err != nil {
		runtime.UnlockOSThread()
		return nil, fmt.Errorf("sched_getattr: %w", err)
	}
	// Reset on fork: a thread cloned from this one starts in the normal
	// class (the Go runtime makes new threads through its template thread
	// while a goroutine is locked, but that is its business, not ours).
	fifo := unix.SchedAttr{Size: unix.SizeofSchedAttr, Policy: unix.SCHED_FIFO, Priority: 1, Flags: unix.SCHED_FLAG_RESET_ON_FORK}
	if err := setScheduler(&fifo); err != nil {
		runtime.UnlockOSThread()
		var errno unix.Errno
		if errors.As(err, &errno) {
			return nil, fmt.Errorf("sched_setattr SCHED_FIFO 1: %s (%s)", errno.Error(), unix.ErrnoName(errno))
		}
		return nil, fmt.Errorf("sched_setattr SCHED_FIFO 1: %w", err)
	}
	return func() {
		if err := setScheduler(old); err != nil {
			// Lowering a thread's own priority is always allowed; should it
			// fail, the thread stays locked (and leaves with the goroutine's
			// end) rather than serve other goroutines at real-time priority.
			return
		}
		runtime.UnlockOSThread()
	}, nil
}

// kprobeRunsSkipped sums the runs the kernel skipped of the send/receive
// kprobes and kretprobes (their recursion misses, counted by the kernel
// since 6.7), on the kprobe path: each is a call whose bytes are missing
// from the live counts. Reading a program's info is no map syscall.
func (s *Source) kprobeRunsSkipped() uint64 {
	if s.path != HooksKprobe || s.progs == nil {
		return 0
	}
	var n uint64
	for name, p := range s.progs.Programs {
		if !strings.HasPrefix(name, "tcptop_kp_") && !strings.HasPrefix(name, "tcptop_kr_") {
			continue
		}
		if st, err := p.Stats(); err == nil {
			n += st.RecursionMisses
		}
	}
	return n
}
