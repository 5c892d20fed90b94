package e2e_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/tcptop/tcptop/internal/testnet"
)

// tmuxServer is a tmux server of the test's own (its own socket), so the
// test neither sees nor disturbs anyone else's sessions.
type tmuxServer struct {
	t      *testing.T
	bin    string
	socket string
}

// tmuxServers numbers the servers of one test process: a server killed by
// the previous test may still be going away when the next one starts, and
// a client reaching it fails with "server exited unexpectedly".
var tmuxServers atomic.Int32

func newTmux(t *testing.T) *tmuxServer {
	t.Helper()
	bin := testnet.RequireTool(t, "tmux")
	s := &tmuxServer{t: t, bin: bin, socket: fmt.Sprintf("tcptop-test-%d-%d", os.Getpid(), tmuxServers.Add(1))}
	t.Cleanup(func() { _ = exec.Command(bin, "-L", s.socket, "kill-server").Run() })
	return s
}

func (s *tmuxServer) run(args ...string) string {
	s.t.Helper()
	out, err := exec.Command(s.bin, append([]string{"-L", s.socket}, args...)...).CombinedOutput()
	if err != nil {
		s.t.Fatalf("tmux %v: %v: %s", args, err, out)
	}
	return string(out)
}

// pane is what the terminal shows now, one string per line.
func (s *tmuxServer) pane() []string {
	return strings.Split(strings.TrimRight(s.run("capture-pane", "-p", "-t", "screen"), "\n"), "\n")
}

// waitPane waits until the screen satisfies ok, and returns it.
func (s *tmuxServer) waitPane(what string, timeout time.Duration, ok func(lines []string) bool) []string {
	s.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		lines := s.pane()
		if ok(lines) {
			return lines
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("%s: not on the screen within %v:\n%s", what, timeout, strings.Join(lines, "\n"))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// screenRows are the rows of the live screen: the lines after its
// column header (the line naming COMM) with a cell under each column
// (the test's process names have no blanks), which leaves out "… N
// more", blanks, and what shows before the first tick.
func screenRows(lines []string) []string {
	for i, l := range lines {
		if head := strings.Fields(l); i >= 2 && slices.Contains(head, "COMM") {
			var rows []string
			for _, r := range lines[i+1:] {
				if len(strings.Fields(r)) == len(head) {
					rows = append(rows, r)
				}
			}
			return rows
		}
	}
	return nil
}

// screenRun is tcptop running in a tmux pane, started from a shell that
// saves its terminal modes before and after and tcptop's exit code.
type screenRun struct {
	tm  *tmuxServer
	dir string
	pid int
}

func (r *screenRun) file(name string) string { return filepath.Join(r.dir, name) }

// startScreen starts a 100×30 terminal whose shell runs tcptop with args
// (env first, as NAME=VALUE words), and waits until the screen shows.
func startScreen(t *testing.T, tm *tmuxServer, env string, args ...string) *screenRun {
	t.Helper()
	return startScreenAt(t, tm, 100, 30, env, args...)
}

// startScreenAt is startScreen on a terminal width×height.
func startScreenAt(t *testing.T, tm *tmuxServer, width, height int, env string, args ...string) *screenRun {
	t.Helper()
	r := &screenRun{tm: tm, dir: t.TempDir()}
	// The pid comes through an exec, so it is tcptop's own.
	cmd := fmt.Sprintf("stty -a > %s; %s sh -c 'echo $$ > %s; exec %s %s'; echo $? > %s; stty -a > %s",
		r.file("stty.before"), env, r.file("pid"), tcptopBin, strings.Join(args, " "), r.file("exit"), r.file("stty.after"))
	tm.run("new-session", "-d", "-s", "screen", "-x", strconv.Itoa(width), "-y", strconv.Itoa(height), "env", "PS1=$ ", "bash", "--norc", "--noprofile")
	tm.run("send-keys", "-t", "screen", cmd, "Enter")
	tm.waitPane("the screen", 20*time.Second, func(lines []string) bool { return len(screenRows(lines)) > 0 })
	pid, err := os.ReadFile(r.file("pid"))
	if err != nil {
		t.Fatal(err)
	}
	r.pid, _ = strconv.Atoi(strings.TrimSpace(string(pid)))
	return r
}

// exited waits for tcptop to end, checks it ended with 0, and that the
// shell got its screen and its terminal modes back as they were; with
// keep, that tcptop's last frame was printed on it.
func (r *screenRun) exited(t *testing.T, keep bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		if code, err := os.ReadFile(r.file("exit")); err == nil && len(code) > 0 {
			if strings.TrimSpace(string(code)) != "0" {
				t.Errorf("tcptop exit %s, want 0", code)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("tcptop did not exit:\n%s", strings.Join(r.tm.pane(), "\n"))
		}
		time.Sleep(100 * time.Millisecond)
	}
	// The modes, without the size, which a test may change itself.
	size := regexp.MustCompile(`rows \d+; columns \d+;`)
	var before, after []byte
	for deadline := time.Now().Add(5 * time.Second); len(after) == 0 && time.Now().Before(deadline); {
		time.Sleep(100 * time.Millisecond) // the second stty
		after, _ = os.ReadFile(r.file("stty.after"))
	}
	before, _ = os.ReadFile(r.file("stty.before"))
	before, after = size.ReplaceAll(before, nil), size.ReplaceAll(after, nil)
	if len(before) == 0 || string(before) != string(after) {
		t.Errorf("terminal modes changed:\nbefore:\n%s\nafter:\n%s", before, after)
	}
	// The shell's screen is back: the command line, and tcptop's last
	// frame only if it was to be kept. The command line wraps where the
	// pane is narrow (80 columns after a resize), maybe inside "stty":
	// it is looked for with the lines joined.
	pane := strings.Join(r.tm.pane(), "\n")
	if strings.Contains(pane, "PROTO ") != keep || !strings.Contains(strings.ReplaceAll(pane, "\n", ""), "stty -a") {
		t.Errorf("the shell's screen is not back as it should be (last frame kept: %v):\n%s", keep, pane)
	}
}

// TestLiveScreenInTmux runs tcptop as a person would, in a real terminal
// (tmux, 100×30): two connections with a steady rate each, the one that
// sends more first; s sorts by received bytes instead, which puts the
// other first; a resize to 80 columns keeps every row on one line; q
// quits with 0, gives back the shell's screen and terminal modes exactly
// as they were, and leaves no program attached.
func TestLiveScreenInTmux(t *testing.T) {
	requireRoot(t)
	tm := newTmux(t)

	sink := testnet.Start(t, "tt-sink", "", "tcp-sink", "127.0.0.1:0")
	defer sink.Release()
	talker := testnet.Start(t, "tt-talker", "", "tcp-paced", "127.0.0.1:"+strconv.Itoa(sink.Port), "400000")
	defer talker.Release()
	feeder := testnet.Start(t, "tt-feeder", "", "tcp-paced-server", "127.0.0.1:0", "40000")
	defer feeder.Release()
	listener := testnet.Start(t, "tt-listener", "", "tcp-paced", "127.0.0.1:"+strconv.Itoa(feeder.Port), "0")
	defer listener.Release()

	run := startScreen(t, tm, "", "-p", fmt.Sprintf("%d,%d", talker.PID(), listener.PID()), "-i", "0.3")
	held := programsOf(t, run.pid)
	if len(held) == 0 {
		t.Fatal("no programs held by the running tcptop: the check at the end would prove nothing")
	}

	// The busiest connection first, with its exact process name.
	first := func(comm string) func([]string) bool {
		return func(lines []string) bool {
			rows := screenRows(lines)
			return len(rows) == 2 && strings.Fields(rows[0])[4] == comm
		}
	}
	lines := tm.waitPane("tt-talker first", 20*time.Second, first("tt-talker"))
	if !strings.Contains(lines[0], "shown 2/2") || !strings.Contains(lines[1], "sort rate▼") ||
		!strings.Contains(lines[1], fmt.Sprintf("where pid in [%d, %d]", talker.PID(), listener.PID())) {
		t.Errorf("summary and status lines:\n%s", strings.Join(lines[:2], "\n"))
	}
	t.Logf("at 100 columns:\n%s", strings.Join(lines, "\n"))
	// s: sort by RX/s, where the listener leads.
	tm.run("send-keys", "-t", "screen", "s")
	lines = tm.waitPane("tt-listener first after s", 10*time.Second, first("tt-listener"))
	if !strings.Contains(lines[1], "sort rx/s▼") {
		t.Errorf("status line after s: %q", lines[1])
	}

	// 80 columns: redrawn (not tmux cutting the old lines: the header
	// changes, and each row has a cell under each column name), every
	// line fits, the name is still whole.
	header := func(lines []string) string {
		for _, l := range lines {
			if strings.HasPrefix(l, "PROTO ") {
				return l
			}
		}
		return ""
	}
	wide := header(lines)
	tm.run("resize-window", "-t", "screen", "-x", "80")
	lines = tm.waitPane("the screen redrawn at 80 columns", 10*time.Second, func(lines []string) bool {
		h := header(lines)
		if h == wide || !first("tt-listener")(lines) {
			return false
		}
		for _, r := range screenRows(lines) {
			if len(strings.Fields(r)) != len(strings.Fields(h)) {
				return false
			}
		}
		return true
	})
	for _, l := range lines {
		if n := utf8.RuneCountInString(l); n > 80 {
			t.Errorf("a line of %d runes at 80 columns: %q", n, l)
		}
	}
	t.Logf("at 80 columns:\n%s", strings.Join(lines, "\n"))

	if colored := tm.run("capture-pane", "-p", "-e", "-t", "screen"); !strings.Contains(colored, "\x1b[1m") {
		t.Errorf("no bold header on a terminal without NO_COLOR:\n%q", colored)
	}

	tm.run("send-keys", "-t", "screen", "q")
	run.exited(t, false)
	requireProgramsGone(t, held)
}

// TestLiveScreenEndsOnSIGTERM: a signal ends the screen as q does, and
// NO_COLOR leaves the screen without colours.
func TestLiveScreenEndsOnSIGTERM(t *testing.T) {
	requireRoot(t)
	tm := newTmux(t)
	cl := testnet.HeldClient(t, "tt-server", "tt-client")
	run := startScreen(t, tm, "NO_COLOR=1", "-p", strconv.Itoa(cl.PID()), "-i", "0.3")
	held := programsOf(t, run.pid)
	if colored := tm.run("capture-pane", "-p", "-e", "-t", "screen"); strings.Contains(colored, "\x1b[1m") || strings.Contains(colored, "\x1b[2m") {
		t.Errorf("colours with NO_COLOR set:\n%q", colored)
	}
	if err := syscall.Kill(run.pid, syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	run.exited(t, false)
	requireProgramsGone(t, held)
}

// TestLiveScreenCountLeavesLastFrame: tcptop -n 3 on a terminal ends by
// itself with 0 and leaves its last frame on the shell's screen.
func TestLiveScreenCountLeavesLastFrame(t *testing.T) {
	requireRoot(t)
	tm := newTmux(t)
	cl := testnet.HeldClient(t, "tt-server", "tt-client")
	run := startScreen(t, tm, "", "-p", strconv.Itoa(cl.PID()), "0.3", "3")
	run.exited(t, true)
	if pane := strings.Join(tm.pane(), "\n"); !strings.Contains(pane, "tt-client") {
		t.Errorf("the last frame lacks the client's row:\n%s", pane)
	}
}
