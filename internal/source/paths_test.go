package source

import (
	"os"
	"slices"
	"strings"
	"testing"
)

// expectedPaths are exactly the hook paths the test machine offers, from
// TCPTOP_EXPECT_HOOKS (comma-separated; .ci/run sets it for the host and
// the VM), so that a path silently appearing or vanishing fails the test.
// Unset, any path may work or not, but one must.
func expectedPaths() []string {
	v := os.Getenv("TCPTOP_EXPECT_HOOKS")
	if v == "" {
		return nil
	}
	return strings.Split(v, ",")
}

// TestEveryHookPathExact forces each send/receive hook path this kernel
// offers and checks exact bytes, pids and UDP peers through it. A path the
// kernel lacks is reported, not tested; a path the machine is expected to
// have must work.
func TestEveryHookPathExact(t *testing.T) {
	requireRoot(t)
	want := expectedPaths()
	tested := 0
	for _, path := range []string{HooksTracepoint, HooksFexit, HooksKprobe} {
		s, err := Open(Config{Hooks: path, Warn: t.Logf})
		if err != nil {
			if slices.Contains(want, path) {
				t.Errorf("hook path %s expected on this machine: %v", path, err)
			} else {
				t.Logf("hook path %s not offered here: %v", path, err)
			}
			continue
		}
		if want != nil && !slices.Contains(want, path) {
			t.Errorf("hook path %s works, but TCPTOP_EXPECT_HOOKS=%s says this machine lacks it", path, os.Getenv("TCPTOP_EXPECT_HOOKS"))
		}
		if got := s.Path(); got != path {
			t.Errorf("forced %s, got %s", path, got)
		}
		tested++
		t.Run(path, func(t *testing.T) {
			defer s.Close()
			checkTCPTransfer(t, s, "127.0.0.1")
			checkTCPTransfer(t, s, "::1")
			checkUDPPeers(t, s, "127.0.0.1")
			checkUDPPeers(t, s, "[::1]")
		})
	}
	if tested == 0 {
		t.Fatal("no hook path works on this kernel")
	}
	for _, p := range want {
		if !slices.Contains([]string{HooksTracepoint, HooksFexit, HooksKprobe}, p) {
			t.Errorf("TCPTOP_EXPECT_HOOKS names unknown path %q", p)
		}
	}
}
