package deploytest

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tcptop/tcptop/internal/testnet"
)

// ownersLost is the line tcptop writes once when it cannot read other
// users' /proc/PID/fd.
const ownersLost = "not available: owners of idle connections in other users' processes (pid 0)"

// privilegeSetup is one way docs/security.md and the unit give tcptop
// its capabilities without root.
type privilegeSetup struct {
	name string
	caps []string // setpriv's names
	// fileCaps: setcap on the binary (run by nobody); otherwise ambient
	// capabilities, bounded and with no_new_privs, as the unit does.
	fileCaps bool
}

// TestUnprivilegedOwnersFromProc runs tcptop as nobody under each
// capability set the docs name, with owners read from /proc as on
// kernels before 5.11 (forced here): tcptop runs, counts a transfer
// exactly, names the owner of an idle connection that nobody holds, and
// names one that root holds only with CAP_SYS_PTRACE and
// CAP_DAC_READ_SEARCH; without them it shows pid 0 and says so once.
func TestUnprivilegedOwnersFromProc(t *testing.T) {
	testnet.RequireRoot(t)
	setpriv := testnet.RequireTool(t, "setpriv")
	setcap := testnet.RequireTool(t, "setcap")
	// The unit's capabilities, in setpriv's spelling.
	var unitCaps []string
	for _, c := range strings.Fields(strings.Join(unitSetting(t, "AmbientCapabilities"), " ")) {
		unitCaps = append(unitCaps, strings.ToLower(strings.TrimPrefix(c, "CAP_")))
	}
	procCaps := []string{"sys_ptrace", "dac_read_search"} // what the unit says to add before 5.11
	rootsOlder := testnet.HeldClient(t, "tt-rootsrv", "tt-roothold")
	srv := testnet.Start(t, "tt-nobodysrv", "", "tcp-server", "127.0.0.1:0", "10", "10")
	nobodysOlder := testnet.StartAs(t, 65534, "tt-nobodyhold", "", "tcp-client", "127.0.0.1:"+strconv.Itoa(srv.Port), "10", "10", "hold")
	t.Cleanup(nobodysOlder.Release)

	for _, s := range []privilegeSetup{
		{name: "setcap", caps: []string{"bpf", "perfmon", "net_admin"}, fileCaps: true},
		{name: "setcap before 5.11", caps: append([]string{"bpf", "perfmon", "net_admin"}, procCaps...), fileCaps: true},
		{name: "unit", caps: unitCaps},
		{name: "unit before 5.11", caps: append(append([]string(nil), unitCaps...), procCaps...)},
	} {
		t.Run(strings.ReplaceAll(s.name, " ", "_"), func(t *testing.T) {
			cmd := unprivilegedTcptop(t, setpriv, setcap, s)
			out, errb := newOutput(t, "tcptop.out"), newOutput(t, "tcptop.err")
			cmd.Stdout, cmd.Stderr = out.File, errb.File
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			eventually(t, 10*time.Second, func() bool { return strings.Contains(errb.String(), "privileges kept") },
				func() string { return "tcptop did not attach: " + errb.String() })
			tr := knownTransfer(t)
			if err := cmd.Wait(); err != nil {
				t.Fatalf("%v: %s", err, errb.String())
			}
			recs := records(out.String())
			checkTransfer(t, recs, tr)
			stderr := errb.String()
			withProc := len(s.caps) > 3
			warnings := 1
			if withProc {
				warnings = 0
			}
			if n := strings.Count(stderr, ownersLost); n != warnings {
				t.Errorf("%q said %d times, want it once exactly when CAP_SYS_PTRACE and CAP_DAC_READ_SEARCH are missing:\n%s", ownersLost, n, stderr)
			}
			if pid := lastPID(t, recs, nobodysOlder.Port); pid != nobodysOlder.PID() {
				t.Errorf("the idle connection nobody holds has pid %d, want %d", pid, nobodysOlder.PID())
			}
			want := 0
			if withProc {
				want = rootsOlder.PID()
			}
			if pid := lastPID(t, recs, rootsOlder.Port); pid != want {
				t.Errorf("the idle connection root holds has pid %d, want %d", pid, want)
			}
		})
	}
}

// unprivilegedTcptop is tcptop run as nobody under setup s, from a copy
// of the binary (setcap marks the file) in a directory nobody can read,
// with owners forced to come from /proc.
func unprivilegedTcptop(t *testing.T, setpriv, setcap string, s privilegeSetup) *exec.Cmd {
	t.Helper()
	args := []string{"--reuid=65534", "--regid=65534", "--clear-groups"}
	var bin string
	if s.fileCaps {
		bin = tcptopCopy(t, reachableDir(t), setcap, "cap_"+strings.Join(s.caps, ",cap_")+"+ep")
	} else {
		bin = tcptopCopy(t, reachableDir(t), setcap, "")
		set := "+" + strings.Join(s.caps, ",+")
		args = append(args, "--bounding-set=-all,"+set, "--inh-caps="+set, "--ambient-caps="+set, "--no-new-privs")
	}
	args = append(args, bin, "--output=ndjson", "--interval=300ms", "--count=4", "-v")
	cmd := exec.Command(setpriv, args...)
	cmd.Env = append(os.Environ(), "TCPTOP_TEST_REFUSE=iter/task_file")
	return cmd
}

// reachableDir is a new directory of the test that every user can reach
// and read (t.TempDir's are root's alone).
func reachableDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for d := dir; d != os.TempDir() && d != "/"; d = filepath.Dir(d) {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// tcptopCopy copies the binary under test into dir as "tcptop", with the
// file capabilities caps (setcap's text form) unless caps is empty.
func tcptopCopy(t *testing.T, dir, setcap, caps string) string {
	t.Helper()
	bin := filepath.Join(dir, "tcptop")
	b, err := os.ReadFile(tcptopBin)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, bin, string(b))
	if err := os.Chmod(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	if caps != "" {
		if out, err := exec.Command(setcap, caps, bin).CombinedOutput(); err != nil {
			t.Fatalf("setcap %s: %v: %s", caps, err, out)
		}
	}
	return bin
}

// records parses NDJSON lines.
func records(out string) []map[string]any {
	var recs []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(l), &m) == nil {
			recs = append(recs, m)
		}
	}
	return recs
}

// lastPID is the pid of the last record of the connection from port.
func lastPID(t *testing.T, recs []map[string]any, port int) int {
	t.Helper()
	pid := -1
	for _, r := range recs {
		if r["local_port"] == float64(port) {
			pid = int(r["pid"].(float64))
		}
	}
	if pid < 0 {
		t.Fatalf("no record of the connection from port %d", port)
	}
	return pid
}
