package source

import (
	"bufio"
	"errors"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"
)

// bpftraceSum is the baseline: the simplest per-socket, per-process byte
// counter one would write with bpftrace on the same tracepoints.
const bpftraceSum = `tracepoint:sock:sock_send_length,tracepoint:sock:sock_recv_length /args->ret > 0/ { @[args->sk, pid] = sum(args->ret); }`

// BenchmarkKernelCostVsBpftrace compares the kernel-side cost per socket
// call of tcptop's programs with bpftraceSum's, under the same 1-byte TCP
// request/response load, from the kernel's own accounting of program run
// time (bpf_stats): the run time of all of tcptop's programs divided by the
// socket calls made, against the same for bpftrace. Rounds alternate, so
// drift hits both alike.
func BenchmarkKernelCostVsBpftrace(b *testing.B) {
	requireRootB(b)
	if _, err := exec.LookPath("bpftrace"); err != nil {
		b.Skip("bpftrace not installed (apt-get install bpftrace)")
	}
	if err := mountTracefs(); err != nil {
		b.Fatal(err)
	}
	stats, err := ebpf.EnableStats(uint32(unix.BPF_STATS_RUN_TIME))
	if err != nil {
		b.Fatal(err)
	}
	defer stats.Close()
	pingPong := newPingPong(b)
	rounds, n := 3, max(b.N, 20000)
	var oursNs, oursCalls, btNs, btCalls uint64
	perProg := map[string]runStats{} // which program costs what, for -v
	b.ResetTimer()
	for range rounds {
		s, err := Open(Config{})
		if err != nil {
			b.Fatal(err)
		}
		before := perProgram(b, s.allPrograms())
		pingPong(n)
		after := perProgram(b, s.allPrograms())
		for name, a := range after {
			st := perProg[name]
			st.ns += a.ns - before[name].ns
			st.count += a.count - before[name].count
			perProg[name] = st
		}
		oursNs += sum(after).ns - sum(before).ns
		oursCalls += callsOf(s, b)
		s.Close()

		ns, calls := bpftraceCost(b, func() { pingPong(n) })
		btNs += ns
		btCalls += calls
	}
	ours := float64(oursNs) / float64(oursCalls)
	theirs := float64(btNs) / float64(btCalls)
	b.ReportMetric(ours, "tcptop-ns/call")
	b.ReportMetric(theirs, "bpftrace-ns/call")
	b.ReportMetric(ours/theirs, "tcptop/bpftrace")
	for name, st := range perProg {
		if st.count > 0 {
			b.Logf("%s: %d runs, %.1f ns a run, %.1f ns per socket call", name, st.count,
				float64(st.ns)/float64(st.count), float64(st.ns)/float64(oursCalls))
		}
	}
}

// perProgram is programStats of each program by name (names are unique
// in tcptop's collections).
func perProgram(b *testing.B, progs []*ebpf.Program) map[string]runStats {
	out := map[string]runStats{}
	for _, p := range progs {
		name := p.String()
		if info, err := p.Info(); err == nil {
			name = info.Name
		}
		st := out[name]
		one := programStats(b, []*ebpf.Program{p})
		st.ns, st.count = st.ns+one.ns, st.count+one.count
		out[name] = st
	}
	return out
}

func sum(m map[string]runStats) (st runStats) {
	for _, s := range m {
		st.ns, st.count = st.ns+s.ns, st.count+s.count
	}
	return st
}

type runStats struct{ ns, count uint64 }

func programStats(b *testing.B, progs []*ebpf.Program) runStats {
	var st runStats
	for _, p := range progs {
		s, err := p.Stats()
		if err != nil {
			b.Fatal(err)
		}
		st.ns += uint64(s.Runtime.Nanoseconds())
		st.count += s.RunCount
	}
	return st
}

// callsOf counts the socket calls the send/receive programs saw: the
// runs of the first program of each pair, once. A kretprobe runs with its
// kprobe, and the second program of a pair (name_again, plan.go) runs at
// every call too: counted, they made each call two until 2026-12-07,
// which halved tcptop's cost per call against bpftrace's.
func callsOf(s *Source, b *testing.B) uint64 {
	var calls uint64
	for _, h := range plans[s.Path()] {
		if h.kind == kretprobe || h.second {
			continue
		}
		if p := s.progs.Programs[h.prog]; p != nil {
			st, err := p.Stats()
			if err != nil {
				b.Fatal(err)
			}
			calls += st.RunCount
		}
	}
	return calls
}

// bpftraceCost runs bpftraceSum while load runs, and returns the run
// time and run count of its programs.
func bpftraceCost(b *testing.B, load func()) (ns, calls uint64) {
	existing := map[ebpf.ProgramID]bool{}
	for id := range programIDs() {
		existing[id] = true
	}
	cmd := exec.Command("bpftrace", "-e", bpftraceSum)
	out, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() { _ = cmd.Process.Signal(os.Interrupt); _ = cmd.Wait() }()
	sc := bufio.NewScanner(out)
	for sc.Scan() && !strings.HasPrefix(sc.Text(), "Attaching") {
	}
	go func() {
		for sc.Scan() {
		}
	}()
	time.Sleep(200 * time.Millisecond) // "Attaching" comes just before the attach
	var progs []*ebpf.Program
	for id := range programIDs() {
		if existing[id] {
			continue
		}
		p, err := ebpf.NewProgramFromID(id)
		if err != nil {
			continue
		}
		defer p.Close()
		if info, err := p.Info(); err == nil && info.Type == ebpf.TracePoint {
			progs = append(progs, p)
		}
	}
	if len(progs) != 2 {
		b.Fatalf("found %d bpftrace tracepoint programs, want 2", len(progs))
	}
	before := programStats(b, progs)
	load()
	after := programStats(b, progs)
	return after.ns - before.ns, after.count - before.count
}

func programIDs() func(yield func(ebpf.ProgramID) bool) {
	return func(yield func(ebpf.ProgramID) bool) {
		id := ebpf.ProgramID(0)
		for {
			next, err := ebpf.ProgramGetNextID(id)
			if err != nil || !yield(next) {
				return
			}
			id = next
		}
	}
}

// mountTracefs mounts tracefs, which bpftrace's tracepoints need, if it
// is not mounted yet.
func mountTracefs() error {
	if _, err := os.Stat("/sys/kernel/tracing/events"); err == nil {
		return nil
	}
	err := unix.Mount("nodev", "/sys/kernel/tracing", "tracefs", 0, "")
	if errors.Is(err, unix.EBUSY) {
		return nil
	}
	return err
}

// newPingPong returns a load of n 1-byte request/response exchanges over
// loopback TCP between two threads, with blocking system calls so that
// every call moves a byte (no EAGAIN retries).
func newPingPong(b *testing.B) func(n int) {
	ln, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM, 0)
	if err != nil {
		b.Fatal(err)
	}
	lo := &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}
	if err := unix.Bind(ln, lo); err != nil {
		b.Fatal(err)
	}
	if err := unix.Listen(ln, 1); err != nil {
		b.Fatal(err)
	}
	sa, _ := unix.Getsockname(ln)
	cl, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM, 0)
	if err != nil {
		b.Fatal(err)
	}
	if err := unix.Connect(cl, sa); err != nil {
		b.Fatal(err)
	}
	sv, _, err := unix.Accept(ln)
	if err != nil {
		b.Fatal(err)
	}
	unix.Close(ln)
	b.Cleanup(func() { unix.Close(cl); unix.Close(sv) })
	return func(n int) {
		done := make(chan struct{})
		go func() {
			runtime.LockOSThread()
			buf := []byte{0}
			for range n {
				if _, err := unix.Read(sv, buf); err != nil {
					break
				}
				if _, err := unix.Write(sv, buf); err != nil {
					break
				}
			}
			close(done)
		}()
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		buf := []byte{1}
		for range n {
			if _, err := unix.Write(cl, buf); err != nil {
				b.Fatal(err)
			}
			if _, err := unix.Read(cl, buf); err != nil {
				b.Fatal(err)
			}
		}
		<-done
	}
}
