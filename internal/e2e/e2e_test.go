package e2e_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
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
	if out, err := exec.Command("go", "build", "-o", tcptopBin, "../../cmd/tcptop").CombinedOutput(); err != nil {
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
	before map[ebpf.ProgramID]bool // tcptop programs loaded before it started
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
	r := &running{cmd: cmd, done: make(chan struct{}), before: tcptopPrograms(t)}
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

// tcptopPrograms returns the IDs of the BPF programs named tcptop_* in
// the kernel, the ones `bpftool prog` lists. Other tcptop instances may
// run at the same time (another test package, a user's): tests compare
// against what was loaded before the instance they check started.
func tcptopPrograms(t *testing.T) map[ebpf.ProgramID]bool {
	t.Helper()
	ids := map[ebpf.ProgramID]bool{}
	id := ebpf.ProgramID(0)
	for {
		next, err := ebpf.ProgramGetNextID(id)
		if err != nil {
			return ids
		}
		id = next
		p, err := ebpf.NewProgramFromID(id)
		if err != nil {
			continue // freed meanwhile
		}
		info, err := p.Info()
		p.Close()
		if err == nil && strings.HasPrefix(info.Name, "tcptop_") {
			ids[id] = true
		}
	}
}

// newPrograms lists the tcptop programs loaded now that were not before.
func newPrograms(t *testing.T, before map[ebpf.ProgramID]bool) []ebpf.ProgramID {
	t.Helper()
	var out []ebpf.ProgramID
	for id := range tcptopPrograms(t) {
		if !before[id] {
			out = append(out, id)
		}
	}
	return out
}

// newProgramSet is newPrograms as a set, for requireProgramsGone.
func newProgramSet(t *testing.T, before map[ebpf.ProgramID]bool) map[ebpf.ProgramID]bool {
	set := map[ebpf.ProgramID]bool{}
	for _, id := range newPrograms(t, before) {
		set[id] = true
	}
	return set
}

// programsOf lists the BPF programs a running process holds, through
// its file descriptors (programs, and links, which name their program).
func programsOf(t *testing.T, pid int) map[ebpf.ProgramID]bool {
	t.Helper()
	ids := map[ebpf.ProgramID]bool{}
	infos, _ := filepath.Glob(fmt.Sprintf("/proc/%d/fdinfo/*", pid))
	for _, f := range infos {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "prog_id:"); ok {
				if n, err := strconv.ParseUint(strings.TrimSpace(v), 10, 32); err == nil {
					ids[ebpf.ProgramID(n)] = true
				}
			}
		}
	}
	return ids
}

// requireProgramsGone waits briefly and fails if any of ids is still
// loaded.
func requireProgramsGone(t *testing.T, ids map[ebpf.ProgramID]bool) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for {
		var left []ebpf.ProgramID
		for id := range ids {
			if p, err := ebpf.NewProgramFromID(id); err == nil {
				p.Close()
				left = append(left, id)
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

// requireNoProgramsLeft waits briefly (programs are freed after their
// last reference, asynchronously) and fails if any tcptop program loaded
// since before remains.
func requireNoProgramsLeft(t *testing.T, before map[ebpf.ProgramID]bool) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for {
		left := newPrograms(t, before)
		if len(left) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("tcptop programs still loaded after exit: %v", left)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
