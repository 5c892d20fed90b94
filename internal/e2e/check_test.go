package e2e_test

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"

	"github.com/tcptop/tcptop/internal/cli"
)

// refuseEnv is the test switch that makes tcptop treat kinds of kernel
// program as refused.
const refuseEnv = "TCPTOP_TEST_REFUSE"

// tcptop --check names every part with what became of it, exits 0 when
// nothing is lost and 3 when something is (each lost part then says what
// it costs), and leaves no program loaded behind it, even while the
// process that ran it lives on. A forced refusal shows as the fallback
// that replaced the part, or as its loss.
func TestCheckNamesEveryPartAndLeavesNothing(t *testing.T) {
	requireRoot(t)
	parts := []string{"send/receive pairs", "tick priority", "close ring buffer", "opens and state changes", "close", "resets", "socket errors", "SYN-ACKs resent", "owners that exit", "drops", "translated addresses",
		"hot-list read", "table read", "socket sweep", "cgroup hooks", "DNS answers", "owners of idle connections"}
	for _, tc := range []struct {
		refuse string
		part   string // the part the refusal shows on, replaced or refused
		want   []string
		code   int // -1: 0 or 3, as this kernel has it
	}{
		{"", "", nil, -1},
		{"iter/bpf_map_elem", "hot-list read", []string{"refused: tcptop_hot (iter/bpf_map_elem)"}, -1},
		{"tp_btf/tcp_receive_reset", "resets", []string{"resets ", "refused", "lost: rst_in"}, cli.ExitCheckLoss},
		{"tp_btf/sched_process_exit", "owners that exit", []string{"owners that exit ", "refused: tcptop_exit", "lost: a connection whose owner exited"}, cli.ExitCheckLoss},
		{"tp_btf/kfree_skb", "drops", []string{"drops ", "refused: tcptop_drop", "lost: drops and drops_delta"}, cli.ExitCheckLoss},
		{"ctnetlink", "translated addresses", []string{"translated addresses ", "refused: IPCTNL_MSG_CT_GET (ctnetlink)", "lost: xlat_remote_addr"}, cli.ExitCheckLoss},
		{"cgroup_skb", "DNS answers", []string{"DNS answers ", "refused: tcptop_dns (cgroup_skb)", "lost: remote_name"}, cli.ExitCheckLoss},
		{"ringbuf", "close ring buffer", []string{"replaced", "refused: events (ringbuf)", "lost: closes are read"}, cli.ExitCheckLoss},
	} {
		t.Run("refuse="+tc.refuse, func(t *testing.T) {
			t.Setenv(refuseEnv, tc.refuse)
			before := programsOf(t, os.Getpid())
			var out, errb bytes.Buffer
			code := cli.Run([]string{"--check"}, &out, &errb)
			t.Logf("tcptop --check (exit %d):\n%s%s", code, out.String(), errb.String())
			// --check runs in this process: what it loaded and did not
			// close would still be held here. That it loaded something
			// at all, the report's "loaded" lines show.
			for id := range programsOf(t, os.Getpid()) {
				if !before[id] {
					t.Errorf("program %d still held after --check returned", id)
				}
			}
			requireNoOrphanPrograms(t)
			report := out.String()
			if strings.Count(report, " loaded ") < 2 { // the hooks' line, then a part's
				t.Errorf("no part loaded: that nothing is left proves nothing")
			}
			for _, p := range parts {
				if !strings.Contains(report, "\n"+p+" ") {
					t.Errorf("no line for part %q", p)
				}
			}
			switch {
			case tc.code >= 0 && code != tc.code:
				t.Errorf("exit %d, want %d", code, tc.code)
			case code == cli.ExitOK && strings.Contains(report, "lost:"):
				t.Errorf("exit 0, but a part is lost")
			case code == cli.ExitCheckLoss && !strings.Contains(report, "lost:"):
				t.Errorf("exit %d without a lost part", code)
			case code != cli.ExitOK && code != cli.ExitCheckLoss:
				t.Errorf("exit %d, want 0 or %d", code, cli.ExitCheckLoss)
			}
			if tc.part != "" {
				line, _, _ := strings.Cut(report[strings.Index(report, "\n"+tc.part+" ")+1:], "\n")
				if !strings.Contains(line, "replaced") && !strings.Contains(line, "refused") {
					t.Errorf("part %q neither replaced nor refused: %q", tc.part, line)
				}
			}
			for _, w := range tc.want {
				if !strings.Contains(report, w) {
					t.Errorf("report lacks %q", w)
				}
			}
			if strings.Contains(report+errb.String(), "MEMLOCK") {
				t.Errorf("the report blames a memlock limit")
			}
		})
	}
}

// TestCheckStoppedBySignal: a signal while --check loads (which takes
// seconds) ends it with 128+n and one line, after detaching what it
// loaded; not with Go's defaults: 129 without a word for SIGHUP, a
// goroutine dump and 2, the usage error's code, for SIGQUIT (issue 17,
// item 8).
func TestCheckStoppedBySignal(t *testing.T) {
	requireRoot(t)
	for _, sig := range []syscall.Signal{syscall.SIGHUP, syscall.SIGQUIT, syscall.SIGTERM} {
		t.Run(sig.String(), func(t *testing.T) {
			for attempt := 1; ; attempt++ {
				cmd := exec.Command(tcptopBin, "--check")
				var stdout, stderr bytes.Buffer
				cmd.Stdout, cmd.Stderr = &stdout, &stderr
				if err := cmd.Start(); err != nil {
					t.Fatal(err)
				}
				held := firstProgram(cmd.Process.Pid) // loading: the signals are caught before it starts
				_ = cmd.Process.Signal(sig)
				code := exitCodeOf(cmd.Wait())
				if stdout.Len() > 0 && attempt < 5 {
					continue // the check ended before the signal came: again
				}
				want := fmt.Sprintf("tcptop: --check stopped by %s before its report\n", unix.SignalName(sig))
				if code != 128+int(sig) || stderr.String() != want || stdout.Len() > 0 {
					t.Errorf("%v during --check: exit %d, stderr %.300q, stdout %.100q; want exit %d, stderr %q and no report",
						sig, code, stderr.String(), stdout.String(), 128+int(sig), want)
				}
				requireProgramsGone(t, held)
				return
			}
		})
	}
}

// firstProgram waits until process pid holds a BPF program and returns
// what it holds then (nothing if it exited first).
func firstProgram(pid int) map[ebpf.ProgramID]bool {
	for deadline := time.Now().Add(40 * time.Second); time.Now().Before(deadline); time.Sleep(2 * time.Millisecond) {
		if ids, err := heldBy(pid); err != nil || len(ids) > 0 {
			return ids
		}
	}
	return nil
}
