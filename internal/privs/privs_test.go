package privs

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/tcptop/tcptop/internal/testnet"
)

const childEnv = "TCPTOP_PRIVS_CHILD"

// TestMain lets the test binary run as the child that drops privileges:
// dropping is for good, so it happens in a process of its own.
func TestMain(m *testing.M) {
	if spec := os.Getenv(childEnv); spec != "" {
		os.Exit(child(spec))
	}
	code := m.Run()
	if static.path != "" {
		os.Remove(static.path)
	}
	os.Exit(code)
}

// child drops to the request spec describes ("keep=39,38 optional=2
// needed=fail user=nobody") and prints what each thread holds.
func child(spec string) int {
	var r Request
	for _, f := range strings.Fields(spec) {
		k, v, _ := strings.Cut(f, "=")
		switch k {
		case "keep", "optional":
			for _, n := range strings.Split(v, ",") {
				c, _ := strconv.Atoi(n)
				if k == "keep" {
					r.Keep = append(r.Keep, Cap(c))
				} else {
					r.Optional = append(r.Optional, Cap(c))
				}
			}
		case "needed":
			r.Needed = func() error {
				if v == "fail" {
					return errors.New("needed")
				}
				return nil
			}
		case "user":
			u, err := LookupUser(v)
			if err != nil {
				fmt.Println("error:", err)
				return 1
			}
			r.User = u
		}
	}
	kept, err := Drop(r)
	if err != nil {
		fmt.Println("error:", err)
		return 1
	}
	fmt.Println("kept:", kept)
	fmt.Println("missing:", Missing(SysAdmin, BPF, Perfmon, SysPtrace))
	fmt.Printf("uid: %d\n", os.Getuid())
	tasks, _ := filepath.Glob("/proc/self/task/*/status")
	for _, t := range tasks {
		b, _ := os.ReadFile(t)
		for _, line := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(line, "Cap") || strings.HasPrefix(line, "NoNewPrivs") {
				fmt.Println(line)
			}
		}
	}
	return 0
}

func runChild(t *testing.T, spec string) string {
	t.Helper()
	testnet.RequireRoot(t)
	return childOutput(t, exec.Command(childBinary(t), "-test.run=^$"), spec)
}

var static struct {
	once sync.Once
	path string
	err  error
}

// childBinary is this test binary, or, where it was built with cgo (a
// plain go test on a machine with a C compiler), a static build of it:
// with cgo the runtime cannot change every thread's privileges, and
// tcptop is released static (make build).
func childBinary(t *testing.T) string {
	t.Helper()
	if !builtWithCgo() {
		return os.Args[0]
	}
	static.once.Do(func() {
		static.path = filepath.Join(os.TempDir(), fmt.Sprintf("tcptop-privs-static-%d.test", os.Getpid()))
		build := exec.Command(filepath.Join(runtime.GOROOT(), "bin", "go"), "test", "-c", "-o", static.path, ".")
		build.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := build.CombinedOutput(); err != nil {
			static.err = fmt.Errorf("build a static copy of the test binary: %v: %s", err, out)
		}
	})
	if static.err != nil {
		t.Fatal(static.err)
	}
	return static.path
}

// builtWithCgo reads the build settings of this binary.
func builtWithCgo() bool {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return false
	}
	for _, s := range info.Settings {
		if s.Key == "CGO_ENABLED" {
			return s.Value == "1"
		}
	}
	return false
}

// childOutput runs cmd, a copy of the test binary, as the child for spec.
func childOutput(t *testing.T, cmd *exec.Cmd, spec string) string {
	t.Helper()
	cmd.Env = append(os.Environ(), childEnv+"="+spec)
	out, err := cmd.CombinedOutput()
	if strings.Contains(string(out), ErrUnsupported.Error()) {
		t.Fatalf("built with cgo: run the tests with CGO_ENABLED=0 (as make test does): %s", out)
	}
	if err != nil {
		t.Fatalf("child %q: %v: %s", spec, err, out)
	}
	return string(out)
}

// every checks that each thread's line with prefix has value.
func every(t *testing.T, out, prefix, value string) {
	t.Helper()
	n := 0
	for _, line := range strings.Split(out, "\n") {
		if v, ok := strings.CutPrefix(line, prefix); ok {
			n++
			if strings.TrimSpace(v) != value {
				t.Errorf("a thread has %s %s, want %s", prefix, strings.TrimSpace(v), value)
			}
		}
	}
	if n < 2 {
		t.Errorf("%d threads reported %s: the check covers too little", n, prefix)
	}
}

func TestDropKeepsOnlyWhatIsAsked(t *testing.T) {
	out := runChild(t, "keep=39 optional=19 needed=ok")
	// CAP_BPF (39) only: bit 39.
	want := fmt.Sprintf("%016x", uint64(1)<<39)
	for _, set := range []string{"CapEff:", "CapPrm:", "CapBnd:"} {
		every(t, out, set, want)
	}
	every(t, out, "CapInh:", "0000000000000000")
	every(t, out, "CapAmb:", "0000000000000000")
	every(t, out, "NoNewPrivs:", "1")
	if !strings.Contains(out, "kept: [CAP_BPF]") {
		t.Errorf("want CAP_SYS_PTRACE dropped as not needed: %s", out)
	}
	if !strings.Contains(out, "missing: [CAP_SYS_ADMIN CAP_PERFMON CAP_SYS_PTRACE]") {
		t.Errorf("want Missing to name what was dropped, in the order asked: %s", out)
	}
}

func TestDropKeepsAnOptionalCapabilityThatIsNeeded(t *testing.T) {
	out := runChild(t, "keep=39 optional=19 needed=fail")
	want := fmt.Sprintf("%016x", uint64(1)<<39|uint64(1)<<19)
	every(t, out, "CapEff:", want)
	every(t, out, "CapBnd:", want)
}

func TestDropToAnotherUser(t *testing.T) {
	out := runChild(t, "keep=39 user=nobody")
	if !strings.Contains(out, "uid: 65534") {
		t.Errorf("want uid 65534 (nobody): %s", out)
	}
	every(t, out, "CapEff:", fmt.Sprintf("%016x", uint64(1)<<39))
	every(t, out, "CapPrm:", fmt.Sprintf("%016x", uint64(1)<<39))
}

// TestLookupUser: USER or USER:GROUP, each a name from the passwd and
// group databases or a number, which needs no entry (a FROM scratch
// image has no /etc/passwd); anything else is an error that names it
// (tcptop reports it before loading).
func TestLookupUser(t *testing.T) {
	for _, tc := range []struct {
		spec     string
		uid, gid int
	}{
		{"nobody", 65534, 65534},
		{"65534", 65534, 65534},
		{"65534:65534", 65534, 65534},
		{"nobody:0", 65534, 0},
		{"nobody:root", 65534, 0},
		{"4000000000:4000000001", 4000000000, 4000000001}, // no entries
		{"4294967294:4294967294", 4294967294, 4294967294},
	} {
		u, err := LookupUser(tc.spec)
		if err != nil || u.UID != tc.uid || u.GID != tc.gid || u.Name != tc.spec {
			t.Errorf("LookupUser(%q) = %+v, %v; want uid %d gid %d", tc.spec, u, err, tc.uid, tc.gid)
		}
	}
	for spec, want := range map[string]string{
		"no-such-user-tcptop":         "no such user",
		"no-such-user-tcptop:0":       "no such user",
		"4000000000":                  "user 4000000000 has no passwd entry to give its group: name one, as in --user 4000000000:4000000000",
		"nobody:no-such-group-tcptop": `no such group "no-such-group-tcptop"`,
		"":                            "want USER or USER:GROUP, each a name or a number",
		":0":                          "want USER or USER:GROUP",
		"0:":                          "want USER or USER:GROUP",
		"4294967295:0":                "id 4294967295 is out of range (0 to 4294967294)", // (uid_t)-1: setresuid would leave root
		"0:4294967295":                "id 4294967295 is out of range",
		"99999999999999999999999:0":   "is out of range",
	} {
		u, err := LookupUser(spec)
		if prefix := fmt.Sprintf("--user %q: ", spec); err == nil || !strings.HasPrefix(err.Error(), prefix) || !strings.Contains(err.Error(), want) {
			t.Errorf("LookupUser(%q) = %+v, %v; want an error %s...%s", spec, u, err, prefix, want)
		}
	}
}

// A service started as a user with a few ambient capabilities (the
// systemd unit) cannot gain others: Drop keeps what it holds of Keep and
// says so, rather than fail (it did, where owners come from /proc and
// CAP_SYS_PTRACE and CAP_DAC_READ_SEARCH were asked for).
func TestDropKeepsWhatIsHeld(t *testing.T) {
	testnet.RequireRoot(t)
	// A copy of the test binary that nobody may run.
	dir, err := os.MkdirTemp("", "tcptop-privs")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	self, err := os.ReadFile(childBinary(t))
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "privs.test")
	if err := os.WriteFile(bin, self, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-test.run=^$")
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Credential:  &syscall.Credential{Uid: 65534, Gid: 65534},
		AmbientCaps: []uintptr{uintptr(BPF), uintptr(Perfmon)},
	}
	// CAP_SYS_PTRACE (19) and CAP_DAC_READ_SEARCH (2) are not held.
	out := childOutput(t, cmd, "keep=38,19,2 optional=39 needed=fail")
	if !strings.Contains(out, "kept: [CAP_PERFMON CAP_BPF]") {
		t.Errorf("want CAP_PERFMON and CAP_BPF kept, the rest not held: %s", out)
	}
	if !strings.Contains(out, "missing: [CAP_SYS_ADMIN CAP_SYS_PTRACE]") {
		t.Errorf("want Missing to name the capabilities not held: %s", out)
	}
	want := fmt.Sprintf("%016x", uint64(1)<<38|uint64(1)<<39)
	every(t, out, "CapEff:", want)
	every(t, out, "CapPrm:", want)
	every(t, out, "CapAmb:", "0000000000000000")
	every(t, out, "NoNewPrivs:", "1")
}

// Missing agrees with the kernel's own account of the effective set
// (CapEff in /proc/self/status), whoever runs the test.
func TestMissingAgreesWithProcStatus(t *testing.T) {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	var eff uint64
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "CapEff:"); ok {
			if eff, err = strconv.ParseUint(strings.TrimSpace(v), 16, 64); err != nil {
				t.Fatal(err)
			}
		}
	}
	var all, want []Cap
	for c := Cap(0); c <= lastCap(); c++ {
		all = append(all, c)
		if eff&(1<<c) == 0 {
			want = append(want, c)
		}
	}
	if got := Missing(all...); !slices.Equal(got, want) {
		t.Errorf("Missing = %v, want %v (CapEff %016x)", got, want, eff)
	}
}
