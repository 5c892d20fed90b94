package deploytest

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/tcptop/tcptop/internal/cli"
	"github.com/tcptop/tcptop/internal/testnet"
)

const (
	unitPath = "deploy/systemd/tcptop.service"
	// unitBinary is where the unit expects the binary.
	unitBinary = "/usr/local/bin/tcptop"
)

// unitSetting returns the values of every Key= line in the unit, in order.
func unitSetting(t *testing.T, key string) []string {
	t.Helper()
	f, err := os.Open(filepath.Join(repoRoot, unitPath))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var vals []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(strings.TrimSpace(sc.Text()), key+"="); ok {
			vals = append(vals, v)
		}
	}
	return vals
}

// TestSystemdUnitVerifies runs systemd-analyze verify on the unit (with
// the binary it starts and the man page it names in place) and its
// offline security review, which fails if the hardening is loosened.
func TestSystemdUnitVerifies(t *testing.T) {
	analyze := testnet.RequireTool(t, "systemd-analyze")
	unit, err := os.ReadFile(filepath.Join(repoRoot, unitPath))
	if err != nil {
		t.Fatal(err)
	}
	if exec := unitSetting(t, "ExecStart"); len(exec) != 1 || !strings.HasPrefix(exec[0], unitBinary+" ") {
		t.Fatalf("ExecStart=%v, want %s with arguments", exec, unitBinary)
	}
	for key, want := range map[string]string{
		"NoNewPrivileges": "yes", "ProtectSystem": "strict", "ProtectHome": "yes", "PrivateTmp": "yes",
		"Restart": "on-failure", "DynamicUser": "yes",
	} {
		if got := unitSetting(t, key); !slices.Equal(got, []string{want}) {
			t.Errorf("%s=%v, want %s", key, got, want)
		}
	}
	dir := t.TempDir()
	// verify checks that ExecStart's binary exists: point it at ours.
	unitFile := filepath.Join(dir, "tcptop.service")
	writeFile(t, unitFile, strings.Replace(string(unit), "ExecStart="+unitBinary, "ExecStart="+tcptopBin, 1))
	// verify also runs man for Documentation=man:tcptop(1).
	man := filepath.Join(dir, "man", "man1")
	if err := os.MkdirAll(man, 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(filepath.Join(man, "tcptop.1"))
	if err != nil {
		t.Fatal(err)
	}
	if err := cli.WriteManPage(f); err != nil {
		t.Fatal(err)
	}
	f.Close()
	env := append(os.Environ(), "MANPATH="+filepath.Join(dir, "man"), "SYSTEMD_LOG_COLOR=0")

	verify := exec.Command(analyze, "verify", unitFile)
	verify.Env = env
	if out, err := verify.CombinedOutput(); err != nil || len(out) > 0 {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
	// Exposure is 0 (locked down) to 10 (unprotected); the threshold is in
	// tenths. The unit scores 1.7 on systemd 252.
	security := exec.Command(analyze, "security", "--offline=yes", "--threshold=25", "--no-pager", unitFile)
	security.Env = env
	if out, err := security.CombinedOutput(); err != nil {
		t.Errorf("systemd-analyze security: exposure above 2.5 (%v)\n%s", err, out)
	}
	// With the OpenTelemetry recipe's drop-in (its lines appended, as
	// systemd reads a drop-in).
	dropIn, err := os.ReadFile(filepath.Join(repoRoot, "docs/recipes/otelcol/tcptop-file.conf"))
	if err != nil {
		t.Fatal(err)
	}
	withDropIn := filepath.Join(t.TempDir(), "tcptop.service")
	writeFile(t, withDropIn, strings.Replace(string(unit), "ExecStart="+unitBinary, "ExecStart="+tcptopBin, 1)+"\n"+string(dropIn))
	verify = exec.Command(analyze, "verify", withDropIn)
	verify.Env = env
	if out, err := verify.CombinedOutput(); err != nil || len(out) > 0 {
		t.Errorf("systemd-analyze verify with docs/recipes/otelcol/tcptop-file.conf: %v\n%s", err, out)
	}
}

// capsByName are the capabilities the unit may grant, by unit-file name.
var capsByName = map[string]uintptr{
	"CAP_BPF": unix.CAP_BPF, "CAP_PERFMON": unix.CAP_PERFMON, "CAP_NET_ADMIN": unix.CAP_NET_ADMIN,
	"CAP_SYS_PTRACE": unix.CAP_SYS_PTRACE, "CAP_DAC_READ_SEARCH": unix.CAP_DAC_READ_SEARCH,
}

// capIDs are the numbers of the named capabilities.
func capIDs(t *testing.T, names []string) []uintptr {
	t.Helper()
	var ids []uintptr
	for _, c := range names {
		id, ok := capsByName[c]
		if !ok {
			t.Fatalf("unknown capability %s in the unit", c)
		}
		ids = append(ids, id)
	}
	return ids
}

// unitCaps are the unit's AmbientCapabilities.
func unitCaps(t *testing.T) []uintptr {
	t.Helper()
	return capIDs(t, strings.Fields(strings.Join(unitSetting(t, "AmbientCapabilities"), " ")))
}

// TestServiceCapabilities runs tcptop as the unit does, an unprivileged
// user holding only the unit's AmbientCapabilities, and checks that each
// one is needed: with all of them tcptop reports a known transfer exactly
// and names the owner of a connection older than itself; without any one
// it cannot attach, says what it cannot provide, or cannot name that
// owner. (Kernels before 5.11
// name such owners from /proc instead, which takes two more capabilities;
// the unit says how to add them there.)
func TestServiceCapabilities(t *testing.T) {
	testnet.RequireRoot(t)
	ambient := strings.Fields(strings.Join(unitSetting(t, "AmbientCapabilities"), " "))
	bounding := strings.Fields(strings.Join(unitSetting(t, "CapabilityBoundingSet"), " "))
	if !slices.Equal(ambient, bounding) {
		t.Fatalf("AmbientCapabilities %v and CapabilityBoundingSet %v differ", ambient, bounding)
	}
	older := testnet.HeldClient(t, "tt-holdsrv", "tt-hold") // owned by root, before tcptop starts

	run := func(caps []string, withTransfer bool) (code int, recs []map[string]any, stderr string) {
		ids := capIDs(t, caps)
		args := []string{"--output=ndjson", "--interval=300ms", "--count=3"}
		if withTransfer {
			args = append(args, "-v") // to see when it is attached
		}
		cmd := exec.Command(tcptopBin, args...)
		cmd.SysProcAttr = &syscall.SysProcAttr{
			Credential:  &syscall.Credential{Uid: 65534, Gid: 65534},
			AmbientCaps: ids,
		}
		out, errb := newOutput(t, "tcptop.out"), newOutput(t, "tcptop.err")
		cmd.Stdout, cmd.Stderr = out.File, errb.File
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		var tr transfer
		if withTransfer {
			// The transfer once tcptop has attached (and dropped what it
			// does not keep), which can take longer than a tick on a busy
			// machine.
			eventually(t, 10*time.Second, func() bool { return strings.Contains(errb.String(), "privileges kept") },
				func() string { return "tcptop did not attach: " + errb.String() })
			tr = knownTransfer(t)
		}
		err := cmd.Wait()
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		}
		recs = records(out.String())
		if withTransfer {
			checkTransfer(t, recs, tr)
		}
		return code, recs, errb.String()
	}
	ownerOfOlder := func(recs []map[string]any) float64 {
		for _, r := range recs {
			if r["local_port"] == float64(older.Port) {
				return r["pid"].(float64)
			}
		}
		t.Fatalf("no record of the connection older than tcptop")
		return 0
	}

	code, recs, stderr := run(ambient, true)
	if code != 0 {
		t.Fatalf("with %v: exit %d: %s", ambient, code, stderr)
	}
	if pid := ownerOfOlder(recs); pid != float64(older.PID()) {
		t.Errorf("with %v: the older connection's pid is %v, want %d", ambient, pid, older.PID())
	}
	for i, c := range ambient {
		less := slices.Delete(slices.Clone(ambient), i, i+1)
		code, recs, stderr := run(less, false)
		switch {
		case code == cli.ExitRuntime && strings.Contains(stderr, "CAP_BPF"):
			t.Logf("without %s: cannot attach: %s", c, strings.TrimSpace(stderr))
		case code == 0 && strings.Contains(stderr, "not available") && strings.Contains(stderr, c):
			t.Logf("without %s: runs with less: %s", c, strings.TrimSpace(stderr))
		case code == 0 && ownerOfOlder(recs) == 0:
			t.Logf("without %s: the older connection has no owner (pid 0)", c)
		default:
			t.Errorf("without %s: exit %d, stderr %q: tcptop does not need it", c, code, stderr)
		}
	}
}

// checkTransfer finds the known transfer's closing record and checks it.
func checkTransfer(t *testing.T, recs []map[string]any, tr transfer) {
	t.Helper()
	for _, r := range recs {
		if r["local_port"] == float64(tr.client.Port) && r["closed"] == true {
			if r["bytes_out"] != float64(tr.bytesOut) || r["bytes_in"] != float64(tr.bytesIn) ||
				r["pid"] != float64(tr.client.PID()) || r["comm"] != "tt-deploy" {
				t.Errorf("transfer record %v: want bytes_out %d, bytes_in %d, pid %d, comm tt-deploy", r, tr.bytesOut, tr.bytesIn, tr.client.PID())
			}
			return
		}
	}
	t.Errorf("no closing record of the transfer from port %d", tr.client.Port)
}

// TestServiceSyscallFilter traces tcptop through a few ticks with traffic
// and checks that every system call it makes is allowed by the unit's
// SystemCallFilter and every socket family by RestrictAddressFamilies, so
// the filter cannot kill or starve the service.
func TestServiceSyscallFilter(t *testing.T) {
	testnet.RequireRoot(t)
	strace := testnet.RequireTool(t, "strace")
	analyze := testnet.RequireTool(t, "systemd-analyze")
	allowed := map[string]bool{}
	for _, f := range unitSetting(t, "SystemCallFilter") {
		for _, item := range strings.Fields(f) {
			for _, s := range expandSyscallSet(t, analyze, item) {
				allowed[s] = true
			}
		}
	}
	families := strings.Fields(strings.Join(unitSetting(t, "RestrictAddressFamilies"), " "))

	trace := filepath.Join(t.TempDir(), "strace.out")
	testnet.HeldClient(t, "tt-holdsrv", "tt-hold")
	cmd := exec.Command(strace, "-f", "-qq", "-o", trace, tcptopBin, "--output=ndjson", "--interval=200ms", "--count=4")
	errb := newOutput(t, "strace.err")
	cmd.Stderr = errb.File
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	knownTransfer(t)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("tcptop under strace: %v: %s", err, errb.String())
	}
	raw, err := os.ReadFile(trace)
	if err != nil {
		t.Fatal(err)
	}
	calls := map[string]bool{}
	for _, m := range regexp.MustCompile(`(?m)^\d+\s+([a-z0-9_]+)\(`).FindAllStringSubmatch(string(raw), -1) {
		calls[m[1]] = true
	}
	if !calls["bpf"] {
		t.Fatalf("no bpf calls traced: the trace is not of tcptop at work")
	}
	for c := range calls {
		if !allowed[c] && c != "execve" { // execve is systemd's, before the filter applies
			t.Errorf("tcptop calls %s, which SystemCallFilter does not allow", c)
		}
	}
	for _, m := range regexp.MustCompile(`socket\((AF_\w+)`).FindAllStringSubmatch(string(raw), -1) {
		if !slices.Contains(families, m[1]) {
			t.Errorf("tcptop opens an %s socket, which RestrictAddressFamilies does not allow", m[1])
		}
	}
}

// expandSyscallSet resolves a SystemCallFilter item (a call or an @set)
// to system call names with systemd-analyze syscall-filter.
func expandSyscallSet(t *testing.T, analyze, item string) []string {
	t.Helper()
	if !strings.HasPrefix(item, "@") {
		return []string{item}
	}
	out, err := exec.Command(analyze, "syscall-filter", "--no-pager", item).Output()
	if err != nil {
		t.Fatalf("systemd-analyze syscall-filter %s: %v", item, err)
	}
	var names []string
	for _, l := range strings.Split(string(out), "\n") {
		l = strings.TrimSpace(l)
		switch {
		case l == "" || l == item || strings.HasPrefix(l, "#"):
		case strings.HasPrefix(l, "@"):
			names = append(names, expandSyscallSet(t, analyze, l)...)
		default:
			names = append(names, l)
		}
	}
	return names
}
