package e2e_test

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tcptop/tcptop/internal/cli"
	"github.com/tcptop/tcptop/internal/testnet"
)

// inScratchLayout returns a command that runs tcptop with args where
// /etc/passwd and /etc/group are empty, as in the FROM scratch image
// (deploy/container), which has neither: a mount namespace of its own
// with an empty file bound over both. unshare execs (no fork), so the
// command's process is tcptop's.
func inScratchLayout(t *testing.T, args ...string) *exec.Cmd {
	t.Helper()
	unshare := testnet.RequireTool(t, "unshare")
	testnet.RequireTool(t, "mount")
	empty := filepath.Join(t.TempDir(), "empty")
	if err := os.WriteFile(empty, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	script := `mount --bind "$1" /etc/passwd && mount --bind "$1" /etc/group && shift && exec "$@"`
	return exec.Command(unshare, append([]string{"--mount", "--propagation", "private", "sh", "-c", script, "sh", empty, tcptopBin}, args...)...)
}

// TestNumericUserWithoutPasswd: with no passwd and group entries (the
// FROM scratch image), --user 65534:65534 attaches, then runs as uid and
// gid 65534 with no supplementary group; a name, or a user number
// without its group, is a usage error before anything loads.
func TestNumericUserWithoutPasswd(t *testing.T) {
	requireRoot(t)
	for _, tc := range []struct{ user, want string }{
		{"nobody", `tcptop: --user "nobody": no such user: give one that getent passwd knows, or numbers as in --user 65534:65534` + "\n"},
		{"65534", `tcptop: --user "65534": user 65534 has no passwd entry to give its group: name one, as in --user 65534:65534` + "\n"},
		{"65534:nogroup", `tcptop: --user "65534:nogroup": no such group "nogroup"` + "\n"},
	} {
		cmd := inScratchLayout(t, "-o", "ndjson", "-n", "1", "--user", tc.user)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if code := exitCodeOf(cmd.Run()); code != cli.ExitUsage || stderr.String() != tc.want || stdout.Len() != 0 {
			t.Errorf("--user %s: exit %d, stdout %q, stderr %q; want exit 2 and %q", tc.user, code, stdout.String(), stderr.String(), tc.want)
		}
	}
	testnet.HeldClient(t, "tt-server", "tt-client") // a row each tick
	tt := startCommand(t, inScratchLayout(t, "-v", "-o", "ndjson", "-i", "200ms", "--user", "65534:65534"))
	tt.waitReady(t)
	held := programsOf(t, tt.cmd.Process.Pid)
	if len(held) == 0 {
		t.Fatal("no programs held by the running tcptop: the check proves nothing")
	}
	tt.waitLine(t, 10*time.Second, func(string) bool { return true }) // it ticks as 65534
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", tt.cmd.Process.Pid))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"Uid": "65534\t65534\t65534\t65534", "Gid": "65534\t65534\t65534\t65534", "Groups": ""}
	for _, line := range strings.Split(string(status), "\n") {
		name, val, _ := strings.Cut(line, ":")
		if w, ok := want[name]; ok {
			if strings.TrimSpace(val) != w {
				t.Errorf("%s: %q, want %q", name, strings.TrimSpace(val), w)
			}
			delete(want, name)
		}
	}
	if len(want) > 0 {
		t.Errorf("/proc/PID/status lacks %v:\n%s", want, status)
	}
	if code := tt.stop(t, syscall.SIGTERM); code != cli.ExitOK {
		t.Errorf("exit %d after SIGTERM, want 0; stderr %s", code, tt.stderr.String())
	}
	requireProgramsGone(t, held)
}
