package e2e_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/cilium/ebpf"

	"github.com/tcptop/tcptop/internal/testnet"
)

// tcptopBin is the command under test, built once by TestMain.
var tcptopBin string

func TestMain(m *testing.M) {
	testnet.RunHelperIfRequested()
	// The VM test (scripts/vm-test.sh) has no Go toolchain: it ships a
	// prebuilt binary and names it here.
	if tcptopBin = os.Getenv("TCPTOP_BIN"); tcptopBin != "" {
		os.Exit(m.Run())
	}
	dir, err := os.MkdirTemp("", "tcptop-e2e")
	if err != nil {
		panic(err)
	}
	tcptopBin = filepath.Join(dir, "tcptop")
	// Static, as make build and the release build it: with cgo, --user
	// and the privilege drop refuse to run (internal/privs).
	build := exec.Command("go", "build", "-o", tcptopBin, "../../cmd/tcptop")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build tcptop: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// requireRoot: kernel tests skip for developers without root, fail in CI.
func requireRoot(t *testing.T) { testnet.RequireRoot(t) }

// syncBuffer is a bytes.Buffer safe for the exec goroutine to write while
// the test reads.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// running is a tcptop process whose stdout lines are collected.
type running struct {
	cmd    *exec.Cmd
	stderr syncBuffer
	mu     sync.Mutex
	lines  []string
	done   chan struct{}
	code   int
}

// startTcptop runs tcptop with -v (so the test can see when it attached)
// and args.
func startTcptop(t *testing.T, args ...string) *running {
	t.Helper()
	return startCommand(t, exec.Command(tcptopBin, append([]string{"-v"}, args...)...))
}

// startCommand runs cmd, which runs tcptop in its own process (exec, not
// fork: signals go to tcptop).
func startCommand(t *testing.T, cmd *exec.Cmd) *running {
	t.Helper()
	r := &running{cmd: cmd, done: make(chan struct{})}
	r.cmd.Stderr = &r.stderr
	out, err := r.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := r.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(out)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			r.mu.Lock()
			r.lines = append(r.lines, sc.Text())
			r.mu.Unlock()
		}
		err := r.cmd.Wait()
		r.code = exitCodeOf(err)
		close(r.done)
	}()
	t.Cleanup(func() {
		_ = r.cmd.Process.Signal(syscall.SIGTERM)
		<-r.done
	})
	return r
}

// waitReady waits until tcptop reports its probes attached.
// attachWait is how long a test waits for tcptop to attach: seconds on a
// host, but two emulated VMs on two cores have taken more than ten.
const attachWait = 40 * time.Second

func (r *running) waitReady(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(attachWait)
	for !strings.Contains(r.stderr.String(), "tcptop: attached") {
		select {
		case <-r.done:
			t.Fatalf("tcptop exited (%d): %s", r.code, r.stderr.String())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("tcptop did not attach: %s", r.stderr.String())
		}
	}
}

func exitCodeOf(err error) int {
	if err == nil {
		return 0
	}
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode()
	}
	return -1
}

func (r *running) snapshot() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.lines...)
}

// waitLine waits until some stdout line satisfies match.
func (r *running) waitLine(t *testing.T, timeout time.Duration, match func(string) bool) string {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		for _, l := range r.snapshot() {
			if match(l) {
				return l
			}
		}
		select {
		case <-r.done:
			t.Fatalf("tcptop exited (%d) before the expected line; stderr: %s", r.code, r.stderr.String())
		case <-time.After(50 * time.Millisecond):
		}
	}
	t.Fatalf("no matching line within %v; stderr: %s", timeout, r.stderr.String())
	return ""
}

// stop sends sig and returns the exit code.
func (r *running) stop(t *testing.T, sig syscall.Signal) int {
	t.Helper()
	_ = r.cmd.Process.Signal(sig)
	select {
	case <-r.done:
	case <-time.After(10 * time.Second):
		t.Fatal("tcptop did not exit after signal")
	}
	return r.code
}

// records parses every NDJSON line printed so far.
func (r *running) records(t *testing.T) []map[string]any {
	t.Helper()
	var recs []map[string]any
	for _, l := range r.snapshot() {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("line is not JSON: %q: %v", l, err)
		}
		recs = append(recs, m)
	}
	return recs
}

// programsOf lists the BPF programs a running process holds, through
// its file descriptors (programs, and links, which name their program):
// the kernel tests identify their own programs by the process that holds
// them, so they can run beside another tcptop (another test package, a
// user's). A descriptor closed between the listing and the read is
// skipped; any other error fails the test, as does a process that is
// gone.
func programsOf(t *testing.T, pid int) map[ebpf.ProgramID]bool {
	t.Helper()
	ids, err := heldBy(pid)
	if err != nil {
		t.Fatalf("programs of process %d: %v", pid, err)
	}
	return ids
}

// heldBy is programsOf returning its error.
func heldBy(pid int) (map[ebpf.ProgramID]bool, error) {
	dir := fmt.Sprintf("/proc/%d/fdinfo", pid)
	fds, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	ids := map[ebpf.ProgramID]bool{}
	for _, fd := range fds {
		b, err := os.ReadFile(filepath.Join(dir, fd.Name()))
		if errors.Is(err, fs.ErrNotExist) {
			continue // closed meanwhile
		}
		if err != nil {
			return nil, err
		}
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "prog_id:"); ok {
				n, err := strconv.ParseUint(strings.TrimSpace(v), 10, 32)
				if err != nil {
					return nil, fmt.Errorf("%s: %q: %w", fd.Name(), line, err)
				}
				ids[ebpf.ProgramID(n)] = true
			}
		}
	}
	return ids, nil
}

// requireProgramsGone fails if ids is empty (the process never held a
// program, so its absence after the exit would prove nothing), then waits
// briefly (programs are freed after their last reference,
// asynchronously) and fails if any of ids is still loaded.
func requireProgramsGone(t *testing.T, ids map[ebpf.ProgramID]bool) {
	t.Helper()
	if len(ids) == 0 {
		t.Fatal("the process held no BPF program while it ran: that none is left proves nothing")
	}
	deadline := time.Now().Add(3 * time.Second)
	for {
		var left []ebpf.ProgramID
		for id := range ids {
			p, err := ebpf.NewProgramFromID(id)
			switch {
			case err == nil:
				p.Close()
				left = append(left, id)
			case !errors.Is(err, os.ErrNotExist):
				t.Fatalf("look up program %d: %v", id, err)
			}
		}
		if len(left) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("tcptop programs still loaded after exit: %v", left)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// requireNoOrphanPrograms fails if a tcptop program (named tcptop_*)
// stays loaded that no live process holds: what a tcptop that exited
// would leave attached behind it (a pin, or a legacy attachment that
// outlives its descriptor). Programs of the tcptops that run meanwhile
// are held by them, so the check holds beside other tests; those of one
// that just exited get the time the kernel takes to free them. A tcptop
// whose descriptors this process may not read (one that changed user
// with --user) could hold any of them: the check waits for it to end.
func requireNoOrphanPrograms(t *testing.T) {
	t.Helper()
	freed := time.Now().Add(3 * time.Second)
	deadline := time.Now().Add(60 * time.Second)
	for {
		left, unreadable := orphanPrograms(t)
		if len(left) == 0 {
			return
		}
		if now := time.Now(); now.After(deadline) || now.After(freed) && len(unreadable) == 0 {
			t.Fatalf("tcptop programs loaded that no process holds: %v (tcptop processes whose descriptors cannot be read: %v)", left, unreadable)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// orphanPrograms lists the tcptop programs in the kernel that no process
// holds, and the tcptop processes whose holdings cannot be read.
// Enumerating fails the test on any error but the end of the list and a
// program freed while it is looked at.
func orphanPrograms(t *testing.T) (orphans []string, unreadable []int) {
	t.Helper()
	var tcptop []ebpf.ProgramID
	names := map[ebpf.ProgramID]string{}
	for id := ebpf.ProgramID(0); ; {
		next, err := ebpf.ProgramGetNextID(id)
		if errors.Is(err, os.ErrNotExist) {
			break
		}
		if err != nil {
			t.Fatalf("list BPF programs after %d: %v", id, err)
		}
		id = next
		p, err := ebpf.NewProgramFromID(id)
		if errors.Is(err, os.ErrNotExist) {
			continue // freed meanwhile
		}
		if err != nil {
			t.Fatalf("open program %d: %v", id, err)
		}
		info, err := p.Info()
		p.Close()
		if err != nil {
			t.Fatalf("program %d: %v", id, err)
		}
		if strings.HasPrefix(info.Name, "tcptop_") {
			tcptop = append(tcptop, id)
			names[id] = info.Name
		}
	}
	if len(tcptop) == 0 {
		return nil, nil
	}
	held, unreadable := heldByAnyProcess(t)
	for _, id := range tcptop {
		if !held[id] {
			orphans = append(orphans, fmt.Sprintf("%d (%s)", id, names[id]))
		}
	}
	return orphans, unreadable
}

// heldByAnyProcess is the union of programsOf over the live processes;
// one that exits while it is read is skipped. Processes whose
// descriptors this one may not read (without CAP_SYS_PTRACE: another
// user's, or pid 1 of a container) are skipped too; those named tcptop
// are returned.
func heldByAnyProcess(t *testing.T) (map[ebpf.ProgramID]bool, []int) {
	t.Helper()
	procs, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	all := map[ebpf.ProgramID]bool{}
	var unreadable []int
	for _, p := range procs {
		pid, err := strconv.Atoi(p.Name())
		if err != nil {
			continue // not a process
		}
		ids, err := heldBy(pid)
		switch {
		case errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ESRCH):
			continue // exited meanwhile
		case errors.Is(err, fs.ErrPermission):
			if comm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid)); strings.TrimSpace(string(comm)) == "tcptop" {
				unreadable = append(unreadable, pid)
			}
			continue
		case err != nil:
			t.Fatalf("programs of process %d: %v", pid, err)
		}
		for id := range ids {
			all[id] = true
		}
	}
	return all, unreadable
}

// waitStats waits for the --stats record of tick n (tcptop run with -o
// ndjson --stats) and returns it: proof that tcptop ticked that far,
// where a sleep would also pass while it stalled.
func (r *running) waitStats(t *testing.T, n float64, timeout time.Duration) map[string]any {
	t.Helper()
	var rec map[string]any
	r.waitLine(t, timeout, func(l string) bool {
		var m map[string]any
		if json.Unmarshal([]byte(l), &m) != nil || m["type"] != "stats" || m["tick"].(float64) < n {
			return false
		}
		rec = m
		return true
	})
	return rec
}

// lastTick is the tick of the last record written so far (0 before any).
func (r *running) lastTick(t *testing.T) float64 {
	t.Helper()
	recs := r.records(t)
	if len(recs) == 0 {
		return 0
	}
	return recs[len(recs)-1]["tick"].(float64)
}

// withoutStats drops the --stats records.
func withoutStats(recs []map[string]any) []map[string]any {
	return slices.DeleteFunc(recs, func(r map[string]any) bool { return r["type"] == "stats" })
}
