package e2e_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tcptop/tcptop/internal/cli"
	"github.com/tcptop/tcptop/internal/conn"
	"github.com/tcptop/tcptop/internal/testnet"
)

func TestSignalsDetachEverything(t *testing.T) {
	requireRoot(t)
	for _, tc := range []struct {
		sig  syscall.Signal
		code int
		said string // on stderr after the signal
	}{
		{syscall.SIGINT, 0, ""},
		{syscall.SIGTERM, 0, ""},
		{syscall.SIGHUP, 0, ""},
		{syscall.SIGQUIT, cli.ExitQuit, "tcptop: stopped by SIGQUIT\n"},
	} {
		t.Run(tc.sig.String(), func(t *testing.T) {
			tt := startTcptop(t, "-o", "ndjson", "--stats", "-i", "100ms")
			tt.waitReady(t)
			held := programsOf(t, tt.cmd.Process.Pid)
			tt.waitStats(t, 2, 5*time.Second) // ticking
			before := len(tt.stderr.String())
			if code := tt.stop(t, tc.sig); code != tc.code {
				t.Errorf("exit %d after %v, want %d; stderr %s", code, tc.sig, tc.code, tt.stderr.String())
			}
			if said := withoutLoadNotes(tt.stderr.String()[before:]); said != tc.said {
				t.Errorf("after %v, stderr said %q, want %q", tc.sig, said, tc.said)
			}
			requireProgramsGone(t, held)
		})
	}
}

// withoutLoadNotes drops the lines that say tcptop fell behind (ticks
// joined because the test's reader of stdout was slow, as under
// emulation on a loaded machine: 7.3-arm64, 2026-12-08): they tell of the
// load, not of the signal.
func withoutLoadNotes(said string) string {
	var kept strings.Builder
	for _, line := range strings.SplitAfter(said, "\n") {
		if !strings.HasPrefix(line, "tcptop: the reader of stdout fell behind:") {
			kept.WriteString(line)
		}
	}
	return kept.String()
}

func TestClosedStdoutEndsQuietly(t *testing.T) {
	requireRoot(t)
	// A held connection guarantees a row every tick, so the reader gets
	// its line and tcptop's next write finds the pipe closed.
	testnet.HeldClient(t, "tt-server", "tt-client")
	// What `tcptop -o ndjson | head -1` does, without needing a shell.
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(tcptopBin, "-o", "ndjson", "-i", "100ms")
	var stderr strings.Builder
	cmd.Stdout, cmd.Stderr = pw, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pw.Close()
	line, err := bufio.NewReader(pr).ReadString('\n')
	held := programsOf(t, cmd.Process.Pid) // it runs until it writes again
	pr.Close()
	if err != nil || !json.Valid([]byte(line)) {
		t.Errorf("first line %q, %v", line, err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if code := exitCodeOf(err); code != 0 {
			t.Errorf("tcptop exit %d with a closed stdout, want 0", code)
		}
	case <-time.After(30 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatal("tcptop kept running after its reader went away")
	}
	// Quiet, but for the one line per feature this kernel lacks, said at
	// start (before 6.3: the DNS answer hook).
	for _, l := range strings.Split(strings.TrimSuffix(stderr.String(), "\n"), "\n") {
		if l != "" && !strings.HasPrefix(l, "tcptop: not available: ") {
			t.Errorf("tcptop was not quiet: %s", stderr.String())
			break
		}
	}
	if len(held) == 0 {
		t.Error("no programs found held by the running tcptop: the check proves nothing")
	}
	requireProgramsGone(t, held)
}

func TestUDPFlowsPerPeerThenExpire(t *testing.T) {
	requireRoot(t)
	const timeout = 5 * time.Second
	tt := startTcptop(t, "-o", "ndjson", "--stats", "-i", "200ms", "--udp-timeout", timeout.String())
	tt.waitReady(t)
	srv := testnet.Start(t, "tt-udpserver", "", "udp-server", "127.0.0.1:0", "50")
	defer srv.Release()
	peers := map[float64]float64{} // client port → datagrams
	var clients []*testnet.Helper
	for _, n := range []int{2, 4, 6} {
		c := testnet.Start(t, "tt-udpclient", "", "udp-client-on-release", "127.0.0.1:"+strconv.Itoa(srv.Port), strconv.Itoa(n), "20")
		clients = append(clients, c)
		peers[float64(c.Port)] = float64(n)
	}
	// Released together once all three are up: starting a helper can take
	// seconds in a loaded VM, longer than --udp-timeout allows between the
	// first flow's last datagram and the third flow's first.
	for _, c := range clients {
		c.Release()
	}
	for _, c := range clients {
		c.Wait(t, 10*time.Second)
	}
	done := time.Now() // the last datagram went before this
	isServerFlow := func(r map[string]any) bool {
		return r["proto"] == "udp" && r["local_port"] == float64(srv.Port) && r["comm"] == srv.Name
	}
	serverRows := func() string {
		var rows []string
		for _, r := range tt.records(t) {
			if isServerFlow(r) {
				rows = append(rows, fmt.Sprintf("tick %v peer %v pid %v in %v/%v out %v/%v state %q",
					r["tick"], r["remote_port"], r["pid"], r["packets_in"], r["bytes_in"], r["packets_out"], r["bytes_out"], r["state"]))
			}
		}
		return strings.Join(rows, "\n")
	}
	// All three flows in one tick, with exact counts.
	exactTick := func() float64 {
		seen := map[float64]map[float64]bool{} // tick → exact peers
		for _, r := range tt.records(t) {
			port, _ := r["remote_port"].(float64) // none in a --stats record
			n, ok := peers[port]
			if isServerFlow(r) && ok &&
				r["packets_in"] == n && r["bytes_in"] == n*20 && r["packets_out"] == n && r["bytes_out"] == n*50 &&
				r["pid"] == float64(srv.PID()) && r["state"] == "" {
				tick := r["tick"].(float64)
				if seen[tick] == nil {
					seen[tick] = map[float64]bool{}
				}
				seen[tick][r["remote_port"].(float64)] = true
				if len(seen[tick]) == 3 {
					return tick
				}
			}
		}
		return 0
	}
	// Each tick ends with its --stats record: the wait is for ticks
	// written, and a tcptop that stalls fails it, naming what it saw.
	exact := 0.0
	for deadline := time.Now().Add(15 * time.Second); exact == 0; exact = exactTick() {
		if time.Now().After(deadline) {
			t.Fatalf("no tick with the three flows exact (peers %v, server pid %d) within 15s; last tick %v; the server's rows:\n%s\nstderr: %s",
				peers, srv.PID(), tt.lastTick(t), serverRows(), tt.stderr.String())
		}
		tt.waitStats(t, tt.lastTick(t)+1, 5*time.Second)
	}
	// Idle for longer than --udp-timeout: the flows go, and stay gone in
	// the ticks written after (--stats records prove those were written).
	isPeerFlow := func(r map[string]any) bool {
		port, _ := r["remote_port"].(float64)
		_, ok := peers[port]
		return isServerFlow(r) && ok
	}
	var gone map[string]any // the stats record of the first tick without them
	for tick := exact + 1; gone == nil; tick++ {
		st := tt.waitStats(t, tick, 2*timeout)
		tick = st["tick"].(float64)
		if !slices.ContainsFunc(tt.records(t), func(r map[string]any) bool { return isPeerFlow(r) && r["tick"] == tick }) {
			gone = st
		}
	}
	at, err := time.Parse(time.RFC3339Nano, gone["timestamp"].(string))
	if err != nil {
		t.Fatal(err)
	}
	if early := done.Add(timeout / 2); at.Before(early) {
		t.Errorf("the flows went in tick %v at %v, before half the timeout after the last datagram (%v): not an expiry", gone["tick"], at, early)
	}
	after := tt.waitStats(t, gone["tick"].(float64)+3, 5*time.Second)["tick"].(float64)
	for _, r := range tt.records(t) {
		if isPeerFlow(r) && r["tick"].(float64) >= gone["tick"].(float64) && r["tick"].(float64) <= after {
			t.Fatalf("UDP flow reported again after the idle timeout: %v\nthe server's rows:\n%s", r, serverRows())
		}
	}
	if code := tt.stop(t, syscall.SIGTERM); code != 0 {
		t.Errorf("exit %d", code)
	}
}

// runWithUDP runs tcptop for three ticks while a UDP exchange happens,
// and returns its stdout.
func runWithUDP(t *testing.T, udpPort int, args ...string) string {
	t.Helper()
	tt := startTcptop(t, append(args, "-n", "3", "-i", "300ms")...)
	tt.waitReady(t)
	testnet.Start(t, "tt-udpclient", "", "udp-client", "[::1]:"+strconv.Itoa(udpPort), "2", "10").Wait(t, 5*time.Second)
	select {
	case <-tt.done:
	case <-time.After(10 * time.Second):
		t.Fatal("tcptop --count 3 did not end")
	}
	if tt.code != 0 {
		t.Fatalf("tcptop exit %d: %s", tt.code, tt.stderr.String())
	}
	return strings.Join(tt.snapshot(), "\n") + "\n"
}

// pipeTo feeds input to a real consumer (jq, mlr) and returns its output.
func pipeTo(t *testing.T, input string, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Stdin = strings.NewReader(input)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %v rejected tcptop's output: %v: %s\ninput:\n%s", name, args, err, out, input)
	}
	return string(out)
}

func TestOutputParsesWithJqAndMiller(t *testing.T) {
	requireRoot(t)
	testnet.RequireTool(t, "jq")
	testnet.RequireTool(t, "mlr")
	// A held TCP connection and a UDP exchange guarantee rows of both kinds.
	srv := testnet.Start(t, "tt-server", "", "tcp-server", "127.0.0.1:0", "5000", "70000")
	cl := testnet.Start(t, "tt-client", "", "tcp-client", "127.0.0.1:"+strconv.Itoa(srv.Port), "5000", "70000", "hold")
	defer cl.Release()
	udp := testnet.Start(t, "tt-udpserver", "", "udp-server", "[::1]:0", "10")
	defer udp.Release()

	t.Run("ndjson", func(t *testing.T) {
		out := runWithUDP(t, udp.Port, "-o", "ndjson")
		want := strconv.Itoa(len(conn.FieldNames()))
		checked := pipeTo(t, out, "jq", "-c", `[(keys|length), .proto, .partial]`)
		lines := strings.Split(strings.TrimSpace(checked), "\n")
		if len(lines) != strings.Count(out, "\n") || len(lines) < 2 {
			t.Fatalf("jq read %d records from %d lines", len(lines), strings.Count(out, "\n"))
		}
		protos := map[string]bool{}
		for _, l := range lines {
			if !strings.HasPrefix(l, "["+want+",") {
				t.Errorf("record without the full key set: %s", l)
			}
			protos[strings.Split(l, ",")[1]] = true
		}
		if !protos[`"tcp"`] || !protos[`"udp"`] {
			t.Errorf("want tcp and udp rows, got %v", protos)
		}
	})
	t.Run("csv", func(t *testing.T) {
		out := runWithUDP(t, udp.Port, "-o", "csv")
		header := strings.Join(conn.FieldNames(), ",")
		if strings.Count(out, header+"\n") != 1 || !strings.HasPrefix(out, header+"\n") {
			t.Fatalf("want exactly one header line, first: %q", strings.SplitN(out, "\n", 2)[0])
		}
		js := pipeTo(t, out, "mlr", "--icsv", "--ojsonl", "cat")
		if got, want := strings.Count(js, "\n"), strings.Count(out, "\n")-1; got != want {
			t.Errorf("mlr read %d records, want %d", got, want)
		}
		if !strings.Contains(js, `"comm": "tt-client"`) && !strings.Contains(js, `"comm":"tt-client"`) {
			t.Errorf("mlr output lacks the client's row: %s", js)
		}
	})
	t.Run("text", func(t *testing.T) {
		out := runWithUDP(t, udp.Port, "-o", "text")
		checkTextAligned(t, out)
		if !strings.Contains(out, "[PARTIAL]") || !strings.Contains(out, "B/s ") || !strings.Contains(out, "udp ") {
			t.Errorf("text output lacks [PARTIAL] or human-readable sizes:\n%s", out)
		}
	})
}

// checkTextAligned checks that under every header line, each row's last
// column (right-aligned) ends where the header's last column ends.
func checkTextAligned(t *testing.T, out string) {
	t.Helper()
	end := -1
	rows := 0
	for _, l := range strings.Split(strings.TrimRight(out, "\n"), "\n") {
		switch {
		case strings.HasPrefix(l, "PROTO "):
			end = strings.Index(l, "RATE_OUT") + len("RATE_OUT")
		case strings.HasPrefix(l, "---"), l == "":
		default:
			if end < 0 {
				t.Fatalf("row before any header: %q", l)
			}
			if len(l) < end || l[end-1] == ' ' || (len(l) > end && l[end] != ' ') {
				t.Errorf("row not aligned with its header (last column should end at %d):\n%s", end, l)
			}
			rows++
		}
	}
	if rows == 0 {
		t.Fatalf("no rows in text output:\n%s", out)
	}
}

// A hook path the kernel lacks, forced with --hooks, is the situation of a
// kernel missing what tcptop needs: one line naming it, exit 1, nothing
// left attached.
func TestMissingHookPathExitsOneNamingIt(t *testing.T) {
	requireRoot(t)
	offered := os.Getenv("TCPTOP_EXPECT_HOOKS")
	failures := 0
	for _, path := range []string{"tracepoint", "fexit", "kprobe"} {
		cmd := exec.Command(tcptopBin, "--hooks", path, "-n", "1", "-i", "100ms")
		var stdout, stderr strings.Builder
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		code := exitCodeOf(cmd.Run())
		if code == 0 {
			continue
		}
		failures++
		if offered != "" && strings.Contains(offered, path) {
			t.Errorf("--hooks %s failed on a machine that offers it: %s", path, stderr.String())
		}
		msg := stderr.String()
		if code != 1 || strings.Count(msg, "\n") != 1 || !strings.Contains(msg, "kernel lacks") || !strings.Contains(msg, path+":") {
			t.Errorf("--hooks %s: exit %d, stderr %q; want exit 1 and one line naming the missing %s hooks", path, code, msg, path)
		}
		if stdout.Len() != 0 {
			t.Errorf("--hooks %s printed on stdout: %q", path, stdout.String())
		}
		requireNoOrphanPrograms(t) // it exited: nothing of it may stay attached
	}
	if offered != "" && failures != 3-len(strings.Split(offered, ",")) {
		t.Errorf("%d paths failed; TCPTOP_EXPECT_HOOKS=%s says %d should", failures, offered, 3-len(strings.Split(offered, ",")))
	}
}

// TestChangedSkipsIdleFlows runs --changed next to a held, idle
// connection: it is reported when it appears, not while it idles, and
// once more when it closes. The --stats records count the ticks.
func TestChangedSkipsIdleFlows(t *testing.T) {
	requireRoot(t)
	tt := startTcptop(t, "-o", "ndjson", "--changed", "--stats", "-i", "100ms")
	tt.waitReady(t)
	cl := testnet.HeldClient(t, "tt-server", "tt-client")
	mine := func(r map[string]any) bool { // by pid too: another test's connection may have the port
		return r["proto"] == "tcp" && r["local_port"] == float64(cl.Port) && r["pid"] == float64(cl.PID())
	}
	rowsIn := func(from, to float64) (n int, closed bool) { // ticks from..to
		for _, r := range tt.records(t) {
			if tick := r["tick"].(float64); mine(r) && tick >= from && tick <= to {
				n++
				closed = closed || r["closed"] == true
			}
		}
		return n, closed
	}
	mineLine := func(l string) bool {
		return strings.Contains(l, `"local_port":`+strconv.Itoa(cl.Port)+",") && strings.Contains(l, `"pid":`+strconv.Itoa(cl.PID())+",")
	}
	first := tt.waitLine(t, 5*time.Second, mineLine)
	var rec map[string]any
	if err := json.Unmarshal([]byte(first), &rec); err != nil {
		t.Fatal(err)
	}
	settled := tt.waitStats(t, rec["tick"].(float64)+10, 5*time.Second)["tick"].(float64) // the exchange settles
	idle := tt.waitStats(t, settled+10, 5*time.Second)["tick"].(float64)                  // ten ticks of an idle connection
	if n, _ := rowsIn(settled+1, idle); n != 0 {
		t.Errorf("--changed printed %d rows for an idle connection over ticks %v to %v", n, settled+1, idle)
	}
	before, _ := rowsIn(0, idle)
	cl.Release()
	tt.waitLine(t, 5*time.Second, func(l string) bool { return mineLine(l) && strings.Contains(l, `"closed":true`) })
	if code := tt.stop(t, syscall.SIGTERM); code != 0 {
		t.Errorf("exit %d", code)
	}
	if n, closed := rowsIn(0, math.Inf(1)); !closed || n > before+2 {
		t.Errorf("%d rows (%d before the close), closed=%v", n, before, closed)
	}
}

// TestPIDThatStartsLater: -p with a process id that no process has says
// so once on stderr and keeps ticking; once a process with that id starts
// (the test gives it the id through ns_last_pid, as CRIU does), its rows
// come.
func TestPIDThatStartsLater(t *testing.T) {
	requireRoot(t)
	srv := testnet.Start(t, "tt-psrv", "", "tcp-server", "127.0.0.1:0", "10", "20")
	pid := unusedPID(t)
	tt := startTcptop(t, "-o", "ndjson", "--stats", "-i", "100ms", "-p", strconv.Itoa(pid))
	tt.waitReady(t)
	tt.waitLine(t, 5*time.Second, func(l string) bool {
		return strings.HasPrefix(l, `{"type":"stats",`) && strings.Contains(l, `"tick":3,`)
	})
	note := fmt.Sprintf("tcptop: --pid %d: no such process (yet): its rows will show if one starts\n", pid)
	if n := strings.Count(tt.stderr.String(), note); n != 1 {
		t.Fatalf("the note %q appears %d times, want once; stderr:\n%s", note, n, tt.stderr.String())
	}
	cl := startWithPID(t, pid, func() *testnet.Helper {
		return testnet.Start(t, "tt-late", "", "tcp-client-gated", "127.0.0.1:"+strconv.Itoa(srv.Port), "0", "10", "20")
	})
	defer cl.Release()
	cl.Say(t, "go")
	tt.waitLine(t, 5*time.Second, func(l string) bool {
		return strings.Contains(l, fmt.Sprintf(`"pid":%d,"comm":"tt-late"`, pid)) && strings.Contains(l, `"bytes_in":20,"bytes_out":10,`)
	})
	if code := tt.stop(t, syscall.SIGTERM); code != 0 {
		t.Errorf("exit %d", code)
	}
	if n := strings.Count(tt.stderr.String(), "no such process"); n != 1 {
		t.Errorf("no such process said %d times, want once; stderr:\n%s", n, tt.stderr.String())
	}
	for _, r := range tt.records(t) {
		if r["type"] == nil && r["pid"] != float64(pid) {
			t.Errorf("a row of pid %v: %v", r["pid"], r)
		}
	}
}

const lastPIDFile = "/proc/sys/kernel/ns_last_pid"

// unusedPID returns a process id well ahead of the ones being handed out,
// that no process has.
func unusedPID(t *testing.T) int {
	t.Helper()
	last, pidMax := readInt(t, lastPIDFile), readInt(t, "/proc/sys/kernel/pid_max")
	for pid := last + 5000; pid != last; pid++ {
		if pid >= pidMax {
			pid = 1000
		}
		if syscall.Kill(pid, 0) == syscall.ESRCH {
			return pid
		}
	}
	t.Fatal("no process id free")
	return 0
}

// startWithPID starts a helper as process pid: the kernel gives the next
// process the id after ns_last_pid, unless another process forks in
// between, so it tries again while pid is still free.
func startWithPID(t *testing.T, pid int, start func() *testnet.Helper) *testnet.Helper {
	t.Helper()
	for range 20 {
		if syscall.Kill(pid, 0) != syscall.ESRCH {
			break
		}
		if err := os.WriteFile(lastPIDFile, []byte(strconv.Itoa(pid-1)), 0); err != nil {
			t.Fatal(err)
		}
		h := start()
		if h.PID() == pid {
			return h
		}
		_ = h.Cmd.Process.Kill()
	}
	t.Fatalf("could not start a process as pid %d: another process took it", pid)
	return nil
}

func readInt(t *testing.T, path string) int {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return n
}
