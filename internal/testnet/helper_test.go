package testnet

import (
	"fmt"
	"runtime"
	"strings"
	"testing"
)

// recordingTB notes how a test ended; Skipf and Fatalf end the goroutine
// as the real ones do.
type recordingTB struct {
	testing.TB
	ended string
}

func (r *recordingTB) Helper() {}
func (r *recordingTB) Skipf(format string, args ...any) {
	r.ended = "skip: " + fmt.Sprintf(format, args...)
	runtime.Goexit()
}
func (r *recordingTB) Fatalf(format string, args ...any) {
	r.ended = "fail: " + fmt.Sprintf(format, args...)
	runtime.Goexit()
}

func requireToolIn(env map[string]string, t *testing.T, name string, args ...string) string {
	for k, v := range env {
		t.Setenv(k, v)
	}
	r := &recordingTB{TB: t}
	done := make(chan struct{})
	go func() { defer close(done); RequireTool(r, name, args...) }()
	<-done
	return r.ended
}

func TestRequireToolSkipsOnlyInTheVM(t *testing.T) {
	for _, tc := range []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{"TCPTOP_VM": "1", "CI": "true"}, "skip: needs no-such-tool-xyz (not in $PATH), which the test VM lacks"},
		{map[string]string{"TCPTOP_VM": "", "CI": "true"}, "fail: needs no-such-tool-xyz (not in $PATH); CI=true"},
		{map[string]string{"TCPTOP_VM": "", "CI": ""}, "skip: needs no-such-tool-xyz"},
	} {
		if got := requireToolIn(tc.env, t, "no-such-tool-xyz"); !strings.HasPrefix(got, tc.want) {
			t.Errorf("%v: got %q, want %q...", tc.env, got, tc.want)
		}
	}
	if got := requireToolIn(map[string]string{"CI": "true"}, t, "sh", "-c", "exit 3"); !strings.Contains(got, `"sh -c exit 3" (it fails: exit status 3)`) {
		t.Errorf("failing command: got %q", got)
	}
	if got := requireToolIn(map[string]string{"CI": "true"}, t, "sh", "-c", "exit 0"); got != "" {
		t.Errorf("working command: got %q", got)
	}
}
