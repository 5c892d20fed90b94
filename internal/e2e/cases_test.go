package e2e_test

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
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

func TestHelpAndVersionGoToStdout(t *testing.T) {
	for _, arg := range []string{"--help", "--version"} {
		var stdout, stderr bytes.Buffer
		if code := cli.Run([]string{arg}, &stdout, &stderr); code != cli.ExitOK {
			t.Errorf("%s: exit %d", arg, code)
		}
		if stdout.Len() == 0 {
			t.Errorf("%s printed nothing", arg)
		}
	}
	var stdout, stderr bytes.Buffer
	cli.Run([]string{"--help"}, &stdout, &stderr)
	for _, want := range []string{"Examples:", "--where", "--udp-timeout", "--changed", "Exit codes"} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("--help lacks %q", want)
		}
	}
}

func TestFieldsListsTheSchema(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := cli.Run([]string{"--fields"}, &stdout, &stderr); code != cli.ExitOK {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	names := conn.FieldNames()
	if len(lines) != len(names) {
		t.Fatalf("%d lines for %d fields", len(lines), len(names))
	}
	for i, l := range lines {
		if strings.Fields(l)[0] != names[i] {
			t.Errorf("line %d names %q, want %q", i, strings.Fields(l)[0], names[i])
		}
	}
}

func TestWithoutPrivilegesSaysHowToFix(t *testing.T) {
	requireRoot(t) // to become an unprivileged user
	if err := os.Chmod(filepath.Dir(tcptopBin), 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(tcptopBin, "-n", "1")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if code := exitCodeOf(err); code != cli.ExitRuntime {
		t.Errorf("exit %d, want %d", code, cli.ExitRuntime)
	}
	msg := stderr.String()
	if strings.Count(msg, "\n") != 1 || !strings.Contains(msg, "CAP_BPF") || !strings.Contains(msg, "root") {
		t.Errorf("want one line naming CAP_BPF and root, got %q", msg)
	}
	if stdout.Len() != 0 {
		t.Errorf("stdout not empty: %q", stdout.String())
	}
}

func TestNDJSONTransferExactAndClosedOnce(t *testing.T) {
	requireRoot(t)
	const sent, answered = 1234567, 7654321
	tt := startTcptop(t, "-o", "ndjson", "--stats", "-i", "200ms")
	tt.waitReady(t)
	srv := testnet.Start(t, "tt-server", "", "tcp-server", "127.0.0.1:0", strconv.Itoa(sent), strconv.Itoa(answered))
	cl := testnet.Start(t, "tt-client", "", "tcp-client", "127.0.0.1:"+strconv.Itoa(srv.Port), strconv.Itoa(sent), strconv.Itoa(answered))
	cl.Wait(t, 20*time.Second)
	srv.Wait(t, 20*time.Second)
	closedOf := func(local, remote int) string {
		return `"local_port":` + strconv.Itoa(local) + `,"remote_addr":"127.0.0.1","remote_port":` + strconv.Itoa(remote)
	}
	tt.waitLine(t, 5*time.Second, func(l string) bool {
		return strings.Contains(l, closedOf(cl.Port, srv.Port)) && strings.Contains(l, `"closed":true`)
	})
	tt.waitLine(t, 5*time.Second, func(l string) bool {
		return strings.Contains(l, closedOf(srv.Port, cl.Port)) && strings.Contains(l, `"closed":true`)
	})
	tt.waitStats(t, tt.lastTick(t)+2, 5*time.Second) // two more ticks: a closed row must not come back
	if code := tt.stop(t, syscall.SIGINT); code != 0 {
		t.Fatalf("exit %d after SIGINT; stderr %s", code, tt.stderr.String())
	}
	recs := withoutStats(tt.records(t))
	checkKeys(t, recs)
	for _, side := range []struct {
		local, remote int
		out, in       float64
		pid           int
		comm          string
	}{
		{cl.Port, srv.Port, sent, answered, cl.PID(), "tt-client"},
		{srv.Port, cl.Port, answered, sent, srv.PID(), "tt-server"},
	} {
		var closed []map[string]any
		var last map[string]any
		for _, r := range recs {
			if r["proto"] == "tcp" && r["local_port"] == float64(side.local) && r["remote_port"] == float64(side.remote) {
				last = r
				if r["closed"] == true {
					closed = append(closed, r)
				}
			}
		}
		if len(closed) != 1 {
			t.Fatalf("port %d: %d closed records, want exactly 1", side.local, len(closed))
		}
		c := closed[0]
		if c["bytes_out"] != side.out || c["bytes_in"] != side.in || c["pid"] != float64(side.pid) || c["comm"] != side.comm || c["partial"] != false {
			t.Errorf("port %d closed record %v, want bytes_out=%v bytes_in=%v pid=%d comm=%s", side.local, c, side.out, side.in, side.pid, side.comm)
		}
		if !equalJSON(last, c) {
			t.Errorf("port %d: a record came after the closed one: %v", side.local, last)
		}
	}
}

func equalJSON(a, b map[string]any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return bytes.Equal(x, y)
}

// checkKeys asserts every record has exactly the schema's keys.
func checkKeys(t *testing.T, recs []map[string]any) {
	t.Helper()
	want := conn.FieldNames()
	slices.Sort(want)
	for _, r := range recs {
		var got []string
		for k := range r {
			got = append(got, k)
		}
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Fatalf("record keys %v, want %v", got, want)
		}
	}
}
