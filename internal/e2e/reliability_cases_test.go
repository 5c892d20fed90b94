package e2e_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/tcptop/tcptop/internal/testnet"
)

// pipedTcptop runs tcptop with stdout into a pipe the test controls, of
// the given capacity (bytes; 0 leaves the default).
type pipedTcptop struct {
	cmd    *exec.Cmd
	r      *os.File
	stderr syncBuffer
	done   chan struct{}
	code   int
}

func startPiped(t *testing.T, size int, args ...string) *pipedTcptop {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	if size > 0 {
		if _, err := unix.FcntlInt(w.Fd(), unix.F_SETPIPE_SZ, size); err != nil {
			t.Fatal(err)
		}
	}
	p := &pipedTcptop{cmd: exec.Command(tcptopBin, append([]string{"-v"}, args...)...), r: r, done: make(chan struct{})}
	p.cmd.Stdout, p.cmd.Stderr = w, &p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	w.Close()
	go func() { p.code = exitCodeOf(p.cmd.Wait()); close(p.done) }()
	t.Cleanup(func() { _ = p.cmd.Process.Kill(); <-p.done; r.Close() })
	deadline := time.Now().Add(attachWait)
	for !strings.Contains(p.stderr.String(), "privileges kept") {
		if time.Now().After(deadline) {
			t.Fatalf("tcptop did not attach: %s", p.stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	return p
}

// exited waits up to d for tcptop to exit and returns its exit code.
func (p *pipedTcptop) exited(t *testing.T, d time.Duration) int {
	t.Helper()
	select {
	case <-p.done:
		return p.code
	case <-time.After(d):
		t.Fatalf("tcptop still running after %v; stderr %s", d, p.stderr.String())
		return -1
	}
}

// exitCost is how long this kernel takes to stop a tcptop with a reader
// that keeps up: SIGTERM to exit, detaching everything. The deadlines
// below are that plus what a stalled or vanished reader may add, so
// they hold on a fast host and in an emulated VM alike (kretprobes take
// over a second to detach there).
func exitCost(t *testing.T, args ...string) time.Duration {
	t.Helper()
	p := startPiped(t, 0, args...)
	go func() { _, _ = io.Copy(io.Discard, p.r) }()
	time.Sleep(500 * time.Millisecond)
	start := time.Now()
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	if code := p.exited(t, 30*time.Second); code != 0 {
		t.Fatalf("baseline: exit %d after SIGTERM, want 0; stderr %s", code, p.stderr.String())
	}
	cost := time.Since(start)
	t.Logf("baseline: SIGTERM to exit with a reader that keeps up: %v", cost.Round(time.Millisecond))
	return cost
}

// exitDeadline is how long tcptop may take to end after ticks intervals:
// the baseline cost thrice and a second more, since a loaded machine (two
// emulated VMs on two cores) varies that much between two measurements.
// A tcptop that waited for its reader would never end: the reader in
// these tests never reads again.
func exitDeadline(ticks int, interval, cost time.Duration) time.Duration {
	return time.Duration(ticks)*interval + 3*cost + time.Second
}

// A reader that leaves while nothing matches (| head -1 on a rare event)
// ends tcptop within two ticks, with nothing attached.
func TestReaderGoneWithNoRows(t *testing.T) {
	requireRoot(t)
	const interval = 300 * time.Millisecond
	args := []string{"-o", "ndjson", "-i", interval.String(), "--where", `comm == "no-such-process-tcptop"`}
	cost := exitCost(t, args...)
	p := startPiped(t, 0, args...)
	held := programsOf(t, p.cmd.Process.Pid)
	if len(held) == 0 {
		t.Fatal("no programs held by the running tcptop: the check proves nothing")
	}
	p.r.Close()
	if code := p.exited(t, exitDeadline(2, interval, cost)); code != 0 {
		t.Errorf("exit %d, want 0; stderr %s", code, p.stderr.String())
	}
	requireProgramsGone(t, held)
}

// A reader stalled for 10 s while connections close: nothing blocks, the
// ticks meanwhile are joined (and said so on stderr), memory stays
// bounded, and once reading resumes every close is there once, exact.
func TestStalledReaderLosesNoClose(t *testing.T) {
	requireRoot(t)
	const conns, size = 60, 4321
	// A held connection writes a row each tick: a 4 KiB pipe fills fast.
	testnet.HeldClient(t, "tt-server", "tt-client")
	p := startPiped(t, 4096, "-o", "ndjson", "-i", "200ms")
	sink := testnet.Start(t, "tt-sink", "", "tcp-sink", "127.0.0.1:0")
	defer sink.Release()
	time.Sleep(2 * time.Second) // the pipe is full and tcptop's queue with it
	testnet.Start(t, "tt-many", "", "tcp-many", "127.0.0.1:"+strconv.Itoa(sink.Port), strconv.Itoa(conns), strconv.Itoa(size)).Wait(t, 20*time.Second)
	time.Sleep(8 * time.Second)
	rss := vmHWM(t, p.cmd.Process.Pid)
	if rss > 64<<20 {
		t.Errorf("peak RSS %d MiB while stalled, want under 64", rss>>20)
	}
	// Resume reading, as a reader that catches up.
	lines := make(chan string, 1<<16)
	go func() {
		sc := bufio.NewScanner(p.r)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	closed := map[float64]int{}
	last := map[float64]string{} // the last line of each connection, for a failure
	deadline := time.After(15 * time.Second)
	for len(closed) < conns {
		select {
		case l := <-lines:
			var rec map[string]any
			if err := json.Unmarshal([]byte(l), &rec); err != nil {
				t.Fatalf("not a JSON line (a half line?): %q", l)
			}
			if rec["remote_port"] != float64(sink.Port) {
				break
			}
			last[rec["local_port"].(float64)] = l
			if rec["closed"] == true {
				closed[rec["local_port"].(float64)]++
				if rec["bytes_out"] != float64(size) {
					t.Errorf("closed with bytes_out %v, want %d", rec["bytes_out"], size)
				}
			}
		case <-deadline:
			for port, l := range last {
				if closed[port] == 0 {
					t.Logf("not closed: %s", l)
				}
			}
			t.Fatalf("%d of %d closes read after the stall (%d connections seen); stderr %s", len(closed), conns, len(last), p.stderr.String())
		}
	}
	for port, n := range closed {
		if n != 1 {
			t.Errorf("connection from port %v closed %d times", port, n)
		}
	}
	if !strings.Contains(p.stderr.String(), "ticks joined into the ticks after them") {
		t.Errorf("no word on stderr of ticks joined while the reader stalled: %s", p.stderr.String())
	}
}

// With the reader stalled, SIGTERM still ends tcptop within one interval
// of what it takes with a reader that keeps up, exit 0, nothing attached.
func TestStalledReaderThenSIGTERM(t *testing.T) {
	requireRoot(t)
	testnet.HeldClient(t, "tt-server", "tt-client")
	const interval = 500 * time.Millisecond
	args := []string{"-o", "ndjson", "-i", interval.String()}
	cost := exitCost(t, args...)
	p := startPiped(t, 4096, args...)
	held := programsOf(t, p.cmd.Process.Pid)
	time.Sleep(4 * time.Second) // stalled: the pipe is full
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	if code := p.exited(t, exitDeadline(1, interval, cost)); code != 0 {
		t.Errorf("exit %d after SIGTERM with a stalled reader, want 0; stderr %s", code, p.stderr.String())
	}
	requireProgramsGone(t, held)
}

func vmHWM(t *testing.T, pid int) int64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return n << 10
		}
	}
	t.Fatal("no VmHWM")
	return 0
}

// After attaching, tcptop holds only the capabilities docs/security.md
// lists for the running kernel, in every set of every thread, with
// no_new_privs: on 6.18 only CAP_NET_ADMIN, for the conntrack lookups
// (reading maps and iterators needs none); CAP_BPF where the bpf()
// system call checks it for every command, CAP_SYS_PTRACE and
// CAP_DAC_READ_SEARCH where owners come from /proc (before 5.11; the
// test VMs), and CAP_NET_ADMIN only where ctnetlink answers (the VMs
// have none).
func TestPrivilegesDroppedAfterAttach(t *testing.T) {
	requireRoot(t)
	tt := startTcptop(t, "-o", "ndjson", "-i", "200ms")
	tt.waitReady(t)
	time.Sleep(300 * time.Millisecond)
	allowed := map[string]uint{"CAP_DAC_READ_SEARCH": 2, "CAP_NET_ADMIN": 12, "CAP_SYS_PTRACE": 19, "CAP_BPF": 39}
	_, keptText, ok := strings.Cut(tt.stderr.String(), "privileges kept: ")
	if !ok {
		t.Fatalf("-v does not say what was kept: %s", tt.stderr.String())
	}
	keptText, _, _ = strings.Cut(keptText, "\n")
	var mask uint64
	if keptText != "none" {
		if os.Getenv("TCPTOP_VM") == "" && keptText != "CAP_NET_ADMIN" {
			t.Errorf("kept %s on the host kernel, want CAP_NET_ADMIN only (docs/security.md)", keptText)
		}
		for _, name := range strings.Split(keptText, ", ") {
			bit, ok := allowed[name]
			if !ok {
				t.Errorf("kept %s, which docs/security.md does not list", name)
			}
			mask |= 1 << bit
		}
	}
	capSet := fmt.Sprintf("%016x", mask)
	want := map[string]string{"CapEff": capSet, "CapPrm": capSet, "CapBnd": capSet, "CapInh": "0000000000000000", "CapAmb": "0000000000000000", "NoNewPrivs": "1"}
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/status", tt.cmd.Process.Pid))
	if len(tasks) < 2 {
		t.Fatalf("%d threads: the check covers too little", len(tasks))
	}
	for _, task := range tasks {
		b, err := os.ReadFile(task)
		if err != nil {
			continue // the thread ended
		}
		for _, line := range strings.Split(string(b), "\n") {
			name, val, _ := strings.Cut(line, ":")
			if w, ok := want[name]; ok && strings.TrimSpace(val) != w {
				t.Errorf("%s: %s %s, want %s", task, name, strings.TrimSpace(val), w)
			}
		}
	}
}

// --user nobody: tcptop runs as nobody after attaching, and its numbers
// stay exact.
func TestUserNobodyExact(t *testing.T) {
	requireRoot(t)
	tt := startTcptop(t, "-o", "ndjson", "-i", "200ms", "--user", "nobody")
	tt.waitReady(t)
	srv := testnet.Start(t, "tt-server", "", "tcp-server", "127.0.0.1:0", "123456", "654321")
	cl := testnet.Start(t, "tt-client", "", "tcp-client", "127.0.0.1:"+strconv.Itoa(srv.Port), "123456", "654321")
	cl.Wait(t, 10*time.Second)
	row := closedRow(t, tt, byPID(cl.PID()))
	if row["bytes_out"] != float64(123456) || row["bytes_in"] != float64(654321) || row["comm"] != "tt-client" {
		t.Errorf("as nobody: %v, want bytes_out 123456 bytes_in 654321 comm tt-client", row)
	}
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", tt.cmd.Process.Pid))
	if !strings.Contains(string(b), "Uid:\t65534\t65534\t65534\t65534") {
		t.Errorf("not running as nobody: %s", b)
	}
}

// Two instances at once: both exact, both leave nothing attached.
func TestTwoInstancesExactAndClean(t *testing.T) {
	requireRoot(t)
	a := startTcptop(t, "-o", "ndjson", "-i", "200ms")
	b := startTcptop(t, "-o", "ndjson", "-i", "300ms")
	a.waitReady(t)
	b.waitReady(t)
	heldA, heldB := programsOf(t, a.cmd.Process.Pid), programsOf(t, b.cmd.Process.Pid)
	srv := testnet.Start(t, "tt-server", "", "tcp-server", "127.0.0.1:0", "77777", "88888")
	cl := testnet.Start(t, "tt-client", "", "tcp-client", "127.0.0.1:"+strconv.Itoa(srv.Port), "77777", "88888")
	cl.Wait(t, 10*time.Second)
	for name, r := range map[string]*running{"first": a, "second": b} {
		row := closedRow(t, r, byPID(cl.PID()))
		if row["bytes_out"] != float64(77777) || row["bytes_in"] != float64(88888) {
			t.Errorf("%s instance: %v", name, row)
		}
	}
	a.stop(t, syscall.SIGTERM)
	requireProgramsGone(t, heldA)
	if len(programsOf(t, b.cmd.Process.Pid)) != len(heldB) {
		t.Error("stopping one instance took programs from the other")
	}
	b.stop(t, syscall.SIGTERM)
	requireProgramsGone(t, heldB)
}

// kill -9 leaves nothing attached: every program and link hangs on file
// descriptors (nothing is pinned), which the kernel closes.
func TestKillNineLeavesNothing(t *testing.T) {
	requireRoot(t)
	tt := startTcptop(t, "-o", "ndjson", "-i", "200ms")
	tt.waitReady(t)
	held := programsOf(t, tt.cmd.Process.Pid)
	if len(held) == 0 {
		t.Fatal("no programs held: the check proves nothing")
	}
	_ = tt.cmd.Process.Kill()
	<-tt.done
	requireProgramsGone(t, held)
	if entries, _ := os.ReadDir("/sys/fs/bpf"); len(entries) > 0 {
		for _, e := range entries {
			if strings.Contains(e.Name(), "tcptop") {
				t.Errorf("pinned: /sys/fs/bpf/%s", e.Name())
			}
		}
	}
}
