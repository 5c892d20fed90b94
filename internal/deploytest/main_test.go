package deploytest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tcptop/tcptop/internal/testnet"
)

// repoRoot is where the recipes and deploy files are, seen from this
// package's directory (go test's working directory).
const repoRoot = "../.."

// tcptopBin is the binary `make build` produces (static, version stamped),
// built once by TestMain: the recipes run what ships.
var tcptopBin string

func TestMain(m *testing.M) {
	testnet.RunHelperIfRequested()
	dir, err := os.MkdirTemp("", "tcptop-deploy")
	if err != nil {
		panic(err)
	}
	// Unprivileged runs (TestServiceCapabilities) must reach the binary.
	if err := os.Chmod(dir, 0o755); err != nil {
		panic(err)
	}
	tcptopBin = filepath.Join(dir, "tcptop")
	out, err := exec.Command("make", "-s", "-C", repoRoot, "build", "BIN="+tcptopBin).CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "make build: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// output is a file in the test's directory that a process writes to and
// the test reads back while it runs.
type output struct{ *os.File }

func newOutput(t *testing.T, name string) output {
	t.Helper()
	f, err := os.Create(filepath.Join(t.TempDir(), name))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return output{f}
}

// String is what was written so far.
func (o output) String() string {
	b, _ := os.ReadFile(o.Name())
	return string(b)
}

// startStoppable starts cmd and returns a function that stops it with
// SIGTERM and waits (also run at cleanup).
func startStoppable(t *testing.T, cmd *exec.Cmd, name string) func() {
	t.Helper()
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
			t.Errorf("%s did not stop on SIGTERM", name)
		}
	}
	t.Cleanup(stop)
	return stop
}

// eventually polls cond until it returns true, failing after timeout with
// what describe says.
func eventually(t *testing.T, timeout time.Duration, cond func() bool, describe func() string) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v: %s", timeout, describe())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// transfer is a finished TCP exchange over loopback whose client side has
// exactly known counters.
type transfer struct {
	client            *testnet.Helper
	bytesOut, bytesIn int // as the client sees them
	serverPort        int
}

// knownTransfer runs a client named tt-deploy that sends 4321 bytes and
// reads 65432, then closes.
func knownTransfer(t *testing.T) transfer {
	t.Helper()
	tr := transfer{bytesOut: 4321, bytesIn: 65432}
	srv := testnet.Start(t, "tt-deploysrv", "", "tcp-server", "127.0.0.1:0", strconv.Itoa(tr.bytesOut), strconv.Itoa(tr.bytesIn))
	cl := testnet.Start(t, "tt-deploy", "", "tcp-client", "127.0.0.1:"+strconv.Itoa(srv.Port), strconv.Itoa(tr.bytesOut), strconv.Itoa(tr.bytesIn))
	cl.Wait(t, 10*time.Second)
	tr.client, tr.serverPort = cl, srv.Port
	return tr
}

// requireNoTcptopLeft fails if a process still runs bin, the binary under
// test or a copy (a shipper that starts tcptop must also stop it).
func requireNoTcptopLeft(t *testing.T, bin string) {
	t.Helper()
	var left []string
	eventually(t, 5*time.Second, func() bool {
		left = nil
		procs, _ := filepath.Glob("/proc/[0-9]*/exe")
		for _, p := range procs {
			if exe, err := os.Readlink(p); err == nil && exe == bin {
				left = append(left, strings.Split(p, "/")[2])
			}
		}
		return len(left) == 0
	}, func() string {
		return "tcptop still running after its shipper stopped: pids " + strings.Join(left, ", ")
	})
}

// parseTimestamp reads tcptop's timestamp: UTC, RFC 3339, six fraction
// digits. Any other shape is a test failure.
func parseTimestamp(t *testing.T, s string) time.Time {
	t.Helper()
	ts, err := time.Parse("2006-01-02T15:04:05.000000Z", s)
	if err != nil {
		t.Fatalf("tcptop timestamp %q: %v", s, err)
	}
	return ts
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}
