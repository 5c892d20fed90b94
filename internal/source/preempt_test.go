package source

import (
	"path/filepath"
	"testing"
)

// TestDetectPreemption reads the preemption model from fixture roots
// (testdata/preempt/<case>: debugfs, /proc/cmdline, /proc/config.gz,
// /boot/config-<release>) and uname -v strings, one case per source of
// the answer and per model. No root needed.
func TestDetectPreemption(t *testing.T) {
	const dynamic = "#1 SMP PREEMPT_DYNAMIC Debian 6.12.57-1 (2025-11-05)"
	for _, tc := range []struct {
		root, version string
		model, from   string
		preemptible   bool
		dynamic       bool // the model may be switched at run time
	}{
		{"debugfs-lazy", dynamic, "lazy", "from /sys/kernel/debug/sched/preempt", true, true},
		{"debugfs-none", dynamic, "none", "from /sys/kernel/debug/sched/preempt", false, true},
		{"debugfs-garbage", dynamic, "none", "from CONFIG_PREEMPT_NONE in /proc/config.gz, no preempt= on the command line", false, true},
		// This host: preempt=full after "--" is init's, not the kernel's.
		{"host-6.18", "#1 SMP PREEMPT_DYNAMIC @0", "none", "from CONFIG_PREEMPT_NONE in /proc/config.gz, no preempt= on the command line", false, true},
		{"boot-full", dynamic, "full", "from preempt=full on the command line, CONFIG_PREEMPT_DYNAMIC in /proc/config.gz", true, true},
		{"debian-6.12", dynamic, "voluntary", "from CONFIG_PREEMPT_VOLUNTARY in /boot/config-6.12.0-test, no preempt= on the command line", false, true},
		{"debian-7.3", dynamic, "lazy", "from CONFIG_PREEMPT_LAZY in /boot/config-6.12.0-test, no preempt= on the command line", true, true},
		{"rt", "#1 SMP PREEMPT_RT", "rt", "from CONFIG_PREEMPT_RT in /boot/config-6.12.0-test", true, false},
		{"static-full", "#1 SMP PREEMPT", "full", "from CONFIG_PREEMPT in /boot/config-6.12.0-test", true, false},
		{"cmdline-only", dynamic, "voluntary", "from preempt=voluntary on the command line, PREEMPT_DYNAMIC in uname -v", false, true},
		{"cmdline-only", "#1 SMP PREEMPT Tue Jan 2", "full or lazy", "from PREEMPT in uname -v", true, false},
		{"cmdline-bad", dynamic, "", "PREEMPT_DYNAMIC in uname -v, no preempt= on the command line, no readable debugfs or kernel config", true, true},
		{"missing", "#1 SMP Debian 5.10.237-1 (2025-05-19)", "none or voluntary", "from uname -v, which has no PREEMPT flag", false, false},
		{"missing", "#1 SMP PREEMPT_RT Debian", "rt", "from PREEMPT_RT in uname -v", true, false},
		{"missing", "custom", "", `no readable debugfs or kernel config, and uname -v "custom" has no build flags`, true, false},
	} {
		t.Run(tc.root+"/"+tc.version, func(t *testing.T) {
			got := detectPreemption(preemptSources{root: filepath.Join("testdata/preempt", tc.root), release: "6.12.0-test", version: tc.version})
			if got.model != tc.model || got.from != tc.from {
				t.Errorf("got %q (%s), want %q (%s)", got.model, got.from, tc.model, tc.from)
			}
			if got.dynamic != tc.dynamic {
				t.Errorf("%s: dynamic %v, want %v", got, got.dynamic, tc.dynamic)
			}
			if got.preemptible() != tc.preemptible {
				t.Errorf("%s: preemptible %v, want %v", got, got.preemptible(), tc.preemptible)
			}
		})
	}
}
