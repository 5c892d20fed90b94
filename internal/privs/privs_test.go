package privs

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
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
	os.Exit(m.Run())
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
	cmd := exec.Command(os.Args[0], "-test.run=^$")
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

// TestLookupUser: a name or a number from the passwd database; anything
// else is an error that names it (tcptop reports it before loading).
func TestLookupUser(t *testing.T) {
	for _, name := range []string{"nobody", "65534"} {
		u, err := LookupUser(name)
		if err != nil || u.UID != 65534 || u.Name != name {
			t.Errorf("LookupUser(%q) = %+v, %v; want uid 65534", name, u, err)
		}
	}
	for _, name := range []string{"no-such-user-tcptop", "4000000000", ""} {
		if u, err := LookupUser(name); err == nil || err.Error() != fmt.Sprintf("--user %q: no such user", name) {
			t.Errorf("LookupUser(%q) = %+v, %v; want no such user", name, u, err)
		}
	}
}
