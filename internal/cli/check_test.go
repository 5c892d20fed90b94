package cli

import (
	"bytes"
	"strings"
	"testing"

	"github.com/tcptop/tcptop/internal/source"
)

// A part the kernel does not need (the send/receive pairs under the
// preemption model none) reads "not needed" with its reason and what it
// would take, and costs nothing: no "lost:", so --check still exits 0.
func TestCheckReportsPartNotNeeded(t *testing.T) {
	p := source.Part{Name: "send/receive pairs", Skipped: "preemption model none (from CONFIG_PREEMPT_NONE)", Loss: "a switch of the model"}
	if p.Lost() {
		t.Errorf("a part not needed counts as lost: %+v", p)
	}
	var b bytes.Buffer
	writeCheck(&b, "tracepoint", []source.Part{p})
	for _, want := range []string{
		"send/receive pairs           not needed preemption model none (from CONFIG_PREEMPT_NONE)\n",
		"    not covered: a switch of the model\n",
		"everything tcptop reports is available\n",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, b.String())
		}
	}
	if strings.Contains(b.String(), "lost:") {
		t.Errorf("report names a loss:\n%s", b.String())
	}
}
