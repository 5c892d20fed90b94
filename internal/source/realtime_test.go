package source

import (
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/tcptop/tcptop/internal/conn"
	"golang.org/x/sys/unix"
)

// threadPolicy reads a thread's scheduling policy from /proc (field 41 of
// stat), which works for any thread of this process, unlike
// sched_getattr on a thread the caller no longer runs on.
func threadPolicy(t *testing.T, tid int) int {
	t.Helper()
	raw, err := os.ReadFile("/proc/self/task/" + strconv.Itoa(tid) + "/stat")
	if err != nil {
		t.Fatal(err)
	}
	// The name (field 2) may hold spaces: count from after its ')'.
	fields := strings.Fields(string(raw[strings.LastIndexByte(string(raw), ')')+1:]))
	policy, err := strconv.Atoi(fields[41-3])
	if err != nil {
		t.Fatal(err)
	}
	return policy
}

// policyDuringRead runs one Read and returns the scheduling policy of the
// thread that ran its callback, read there, and that thread's policy
// after Read returned.
func policyDuringRead(t *testing.T, s *Source) (during, after int) {
	t.Helper()
	// A connection of its own, so that the read has something to observe.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write([]byte("x")); err != nil {
		t.Fatal(err)
	}
	tid, during := -1, -1
	if _, err := s.Read(func(*conn.Observation) {
		if tid < 0 {
			tid = unix.Gettid()
			attr, err := unix.SchedGetAttr(0, 0)
			if err != nil {
				t.Errorf("sched_getattr: %v", err)
				return
			}
			during = int(attr.Policy)
		}
	}); err != nil {
		t.Fatal(err)
	}
	if tid < 0 {
		t.Fatal("the first read observed nothing")
	}
	return during, threadPolicy(t, tid)
}

// On the kprobe path of a kernel that can preempt a task in the kernel,
// the tick makes its map syscalls at real-time priority, so that no task
// preempting it can have its kprobes skipped (realtime.go); its thread
// goes back to the normal class after the tick. Elsewhere the tick stays
// in the normal class. The switch forces the priority on this host's
// path, which has no kprobes; the matrix's 7.3 lines run the kprobe path
// under lazy preemption with it on by itself.
func TestTickAtRealtimePriorityOnlyWhereKprobesCanBeSkipped(t *testing.T) {
	requireRoot(t)
	t.Run("forced", func(t *testing.T) {
		s := openRealtime(t)
		part := partNamed(t, s, realtimePart)
		if !strings.HasPrefix(part.Using, "SCHED_FIFO 1") || part.Loss != realtimeLoss {
			t.Errorf("part %+v, want SCHED_FIFO 1 with the other programs' syscalls as its loss", part)
		}
		during, after := policyDuringRead(t, s)
		if during != unix.SCHED_FIFO || after != unix.SCHED_NORMAL {
			t.Errorf("policy %d during the tick and %d after it, want %d then %d", during, after, unix.SCHED_FIFO, unix.SCHED_NORMAL)
		}
	})
	t.Run("as-the-kernel-needs", func(t *testing.T) {
		s := openSource(t)
		part := partNamed(t, s, realtimePart)
		want := unix.SCHED_NORMAL
		if s.Path() == HooksKprobe && s.preempt.preemptible() {
			want = unix.SCHED_FIFO
		} else if part.Using != "" || part.Skipped == "" {
			t.Errorf("part %+v, want skipped on the %s path with %s", part, s.Path(), s.preempt)
		}
		t.Logf("%s path, %s: %+v", s.Path(), s.preempt, part)
		if during, after := policyDuringRead(t, s); during != want || after != unix.SCHED_NORMAL {
			t.Errorf("policy %d during the tick and %d after it, want %d then %d", during, after, want, unix.SCHED_NORMAL)
		}
	})
	t.Run("refused", func(t *testing.T) {
		// A thread without CAP_SYS_NICE: the part is refused and its loss
		// named at start, and the tick runs in the normal class.
		orig := setScheduler
		setScheduler = func(attr *unix.SchedAttr) error {
			if attr.Policy == unix.SCHED_FIFO {
				return syscall.EPERM
			}
			return orig(attr)
		}
		defer func() { setScheduler = orig }()
		s := openRealtime(t)
		part := partNamed(t, s, realtimePart)
		if part.Using != "" || part.Loss != realtimeRefusedLoss ||
			!slices.Equal(part.Refused, []string{"sched_setattr SCHED_FIFO 1: operation not permitted (EPERM)"}) {
			t.Errorf("part %+v, want refused with EPERM and its loss", part)
		}
		if !part.Lost() {
			t.Error("the refused part does not count as lost")
		}
		if during, after := policyDuringRead(t, s); during != unix.SCHED_NORMAL || after != unix.SCHED_NORMAL {
			t.Errorf("policy %d during the tick and %d after it, want normal in both", during, after)
		}
	})
}

// openRealtime opens the source with the tick at real-time priority
// forced on.
func openRealtime(t *testing.T) *Source {
	t.Helper()
	cfg := testConfig(t)
	cfg.forceRealtime = true
	s, err := Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// partNamed returns the source's part of that name.
func partNamed(t *testing.T, s *Source, name string) Part {
	t.Helper()
	i := slices.IndexFunc(s.Parts(), func(p Part) bool { return p.Name == name })
	if i < 0 {
		t.Fatalf("no part %q in %+v", name, s.Parts())
	}
	return s.Parts()[i]
}

// Thousands of one-byte sends and the reads that take them, while the
// test reads the source as fast as it can (each read a run of map
// syscalls): every byte is counted while the connection still lives, on
// every path. On the kprobe path with the tick at real-time priority no
// kprobe run may be skipped either. 7.3 (lazy preemption) lost such sends
// on the kprobe path with the tick in the normal class: a task preempted
// inside one of the tick's map syscalls kept bpf_prog_active raised while
// the sender ran on that CPU.
func TestSendsBesideBusyTicksAllCounted(t *testing.T) {
	s := openSource(t)
	rec := newRecorder(s)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	const calls = 20000
	received := make(chan int64, 1)
	finished := make(chan struct{}) // the server's end stays open until the checks are done
	defer close(finished)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			received <- -1
			return
		}
		defer func() { <-finished; c.Close() }()
		var n int64
		buf := make([]byte, 7) // many reads, as many as the sends or more
		for {
			k, err := c.Read(buf)
			n += int64(k)
			if err != nil {
				break
			}
		}
		received <- n
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	port := c.LocalAddr().(*net.TCPAddr).Port
	// The sender goes on until it made calls sends and the test read the
	// source minTicks times meanwhile, so that the sends meet many ticks.
	const minTicks = 200
	var stop atomic.Bool
	sent := make(chan int64, 1)
	go func() {
		one := []byte{'x'}
		var n int64
		for n < calls || !stop.Load() {
			if _, err := c.Write(one); err != nil {
				t.Error(err)
				break
			}
			n++
		}
		c.(*net.TCPConn).CloseWrite() // the server reads to the end
		sent <- n
	}()
	before := s.kprobeRunsSkipped()
	ticks := 0
	var total int64
	for done := false; !done; ticks++ {
		select {
		case total = <-sent:
			done = true
		default:
		}
		rec.poll(t)
		if ticks == minTicks {
			stop.Store(true)
		}
	}
	if n := <-received; n != total {
		t.Fatalf("the server read %d bytes, want %d", n, total)
	}
	client := func(o conn.Observation) bool { return o.Proto == conn.TCP && int(o.Local.Port()) == port }
	server := func(o conn.Observation) bool { return o.Proto == conn.TCP && int(o.Remote.Port()) == port }
	// Until both ends have every byte, or 15 s: a lost send never comes.
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		rec.poll(t)
		co, ok1 := rec.latest(client)
		so, ok2 := rec.latest(server)
		if ok1 && ok2 && co.BytesOut == uint64(total) && so.BytesIn == uint64(total) {
			break
		}
	}
	co, _ := rec.latest(client)
	so, _ := rec.latest(server)
	misses := s.kprobeRunsSkipped() - before
	t.Logf("%s path, tick priority %v, %d ticks, %d sends: client out %d, server in %d; kprobe runs skipped %d",
		s.Path(), s.realtime, ticks, total, co.BytesOut, so.BytesIn, misses)
	if co.BytesOut != uint64(total) || so.BytesIn != uint64(total) || co.Closed || so.Closed {
		t.Errorf("live counts: client out %d, server in %d (closed %v, %v), want %d each on the live connections",
			co.BytesOut, so.BytesIn, co.Closed, so.Closed, total)
	}
	if s.realtime && misses > 0 {
		t.Errorf("the kernel skipped %d kprobe runs with the tick at real-time priority", misses)
	}
	// Stats says what the kernel counted (kprobe_runs_skipped).
	st, err := s.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if want := s.kprobeRunsSkipped(); st.KprobeRunsSkipped != want {
		t.Errorf("Stats: %d kprobe runs skipped, the programs' counters say %d", st.KprobeRunsSkipped, want)
	}
}
