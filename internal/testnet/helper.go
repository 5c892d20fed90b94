// Package testnet runs the traffic that tcptop's kernel tests measure: each
// role (a TCP client, a UDP server, ...) runs in its own process, so tests
// can assert exact per-process pids and names. The test binary re-executes
// itself through a symlink whose name becomes the process's comm.
package testnet

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

const (
	roleEnv = "TCPTOP_TESTNET_ROLE"
	uidEnv  = "TCPTOP_TESTNET_UID" // the user a helper becomes before its role
)

// RunHelperIfRequested must be called first in TestMain: when the binary
// was started as a helper it runs the role and exits.
func RunHelperIfRequested() {
	role := os.Getenv(roleEnv)
	if role == "" {
		return
	}
	fn, ok := roles[role]
	if !ok {
		fmt.Fprintf(os.Stderr, "testnet: unknown role %q\n", role)
		os.Exit(3)
	}
	if u := os.Getenv(uidEnv); u != "" {
		if err := becomeUser(u); err != nil {
			fmt.Fprintf(os.Stderr, "testnet %s: become uid %s: %v\n", role, u, err)
			os.Exit(1)
		}
	}
	if err := fn(os.Args[1:]); err != nil {
		fmt.Fprintf(os.Stderr, "testnet %s: %v\n", role, err)
		os.Exit(1)
	}
	os.Exit(0)
}

// becomeUser switches to user id u, its primary group and no others (the
// syscall package changes every thread), as if that user had started the
// process: its /proc/PID files are then the user's own.
func becomeUser(u string) error {
	uid, err := strconv.Atoi(u)
	if err != nil {
		return err
	}
	gid := uid
	if usr, err := user.LookupId(u); err == nil {
		gid, _ = strconv.Atoi(usr.Gid)
	}
	if err := syscall.Setgroups(nil); err != nil {
		return err
	}
	if err := syscall.Setgid(gid); err != nil {
		return err
	}
	if err := syscall.Setuid(uid); err != nil {
		return err
	}
	// Changing user made the process undumpable, which hands its
	// /proc/PID/fd to root.
	return unix.Prctl(unix.PR_SET_DUMPABLE, 1, 0, 0, 0)
}

// Helper is a running helper process.
type Helper struct {
	Cmd   *exec.Cmd
	Port  int // the port the helper reported when ready (0 if none)
	Name  string
	stdin io.WriteCloser
	out   *bufio.Reader
	done  chan error
}

// PID returns the helper's process id.
func (h *Helper) PID() int { return h.Cmd.Process.Pid }

// Start runs role in a new process named name (at most 15 characters,
// the kernel's comm), in network namespace netns if not empty, and waits
// for it to print "ready <port>".
func Start(t testing.TB, name, netns, role string, args ...string) *Helper {
	t.Helper()
	return start(t, nil, name, netns, role, args)
}

// StartAs is Start with the helper running as user uid (it starts as the
// test's user and switches before its role begins).
func StartAs(t testing.TB, uid int, name, netns, role string, args ...string) *Helper {
	t.Helper()
	return start(t, []string{uidEnv + "=" + strconv.Itoa(uid)}, name, netns, role, args)
}

func start(t testing.TB, env []string, name, netns, role string, args []string) *Helper {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(t.TempDir(), name)
	if err := os.Symlink(self, link); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(link, args...)
	cmd.Env = append(append(os.Environ(), roleEnv+"="+role), env...)
	cmd.Stderr = os.Stderr
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	if netns != "" {
		err = startIn(netns, cmd)
	} else {
		err = cmd.Start()
	}
	if err != nil {
		t.Fatalf("start helper %s: %v", name, err)
	}
	h := &Helper{Cmd: cmd, Name: name, stdin: stdin, out: bufio.NewReader(stdout), done: make(chan error, 1)}
	t.Cleanup(func() { _ = cmd.Process.Kill(); <-h.done })
	line, err := h.out.ReadString('\n')
	if err != nil {
		go func() { h.done <- cmd.Wait() }()
		t.Fatalf("helper %s did not get ready: %v", name, err)
	}
	fields := strings.Fields(line)
	if len(fields) != 2 || fields[0] != "ready" {
		t.Fatalf("helper %s: unexpected first line %q", name, line)
	}
	h.Port, _ = strconv.Atoi(fields[1])
	go func() { _, _ = io.Copy(io.Discard, h.out); h.done <- cmd.Wait() }()
	return h
}

// Release closes the helper's stdin, which roles that hold a connection
// open wait for.
func (h *Helper) Release() { _ = h.stdin.Close() }

// Wait waits for the helper to exit successfully.
func (h *Helper) Wait(t testing.TB, timeout time.Duration) {
	t.Helper()
	select {
	case err := <-h.done:
		h.done <- err // keep it for Cleanup
		if err != nil {
			t.Fatalf("helper %s failed: %v", h.Name, err)
		}
	case <-time.After(timeout):
		t.Fatalf("helper %s did not finish within %v", h.Name, timeout)
	}
}

// RequireRoot skips a kernel test for an unprivileged developer; in CI
// (CI=true) an eBPF test that cannot run is a failure instead.
func RequireRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() == 0 {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("kernel test needs root and CI=true: refusing to skip")
	}
	t.Skip("kernel test needs root")
}

// RequireTool makes sure the external command a test drives is here, and
// returns its path: name in $PATH and, with args, `name args...`
// succeeding (busybox's ip has no `netns`, say). The test VMs
// (TCPTOP_VM=1, set by scripts/vm-init.sh) lack such tools on purpose:
// there the test skips with the reason. On any other machine CI=true
// makes a missing tool a failure (scripts/deps.sh installs them); a
// developer without it gets a skip.
func RequireTool(t testing.TB, name string, args ...string) string {
	t.Helper()
	path, err := toolWorks(name, args)
	if err == nil {
		return path
	}
	switch {
	case os.Getenv("TCPTOP_VM") == "1":
		t.Skipf("needs %v, which the test VM lacks", err)
	case os.Getenv("CI") == "true":
		t.Fatalf("needs %v; CI=true: refusing to skip (scripts/deps.sh installs it)", err)
	}
	t.Skipf("needs %v", err)
	return ""
}

func toolWorks(name string, args []string) (string, error) {
	path, err := exec.LookPath(name)
	if err != nil {
		return "", fmt.Errorf("%s (not in $PATH)", name)
	}
	if len(args) == 0 {
		return path, nil
	}
	if err := exec.Command(path, args...).Run(); err != nil {
		return "", fmt.Errorf("%q (it fails: %v)", strings.Join(append([]string{name}, args...), " "), err)
	}
	return path, nil
}

// HeldClient starts a tcp-server named server and a tcp-client named
// client that exchange 10 bytes each way and hold the connection until
// the test ends (or Release): tcptop reports it every tick, so its rows
// show tcptop attached and ticking.
func HeldClient(t testing.TB, server, client string) *Helper {
	t.Helper()
	srv := Start(t, server, "", "tcp-server", "127.0.0.1:0", "10", "10")
	cl := Start(t, client, "", "tcp-client", "127.0.0.1:"+strconv.Itoa(srv.Port), "10", "10", "hold")
	t.Cleanup(cl.Release)
	return cl
}
