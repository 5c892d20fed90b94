package source

import (
	"bufio"
	"compress/gzip"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"golang.org/x/sys/unix"
)

// The second program of each send/receive pair (bpf/tcptop.bpf.c) makes
// up for runs the kernel skips because a task was preempted inside the
// first on that CPU. Those hooks run in process context only, so where the
// kernel cannot preempt kernel code (the preemption models none and
// voluntary) the skip cannot happen and the pair is pure cost: the first
// program is attached alone. Where the model cannot be found out, the
// pairs stay (docs/design.md, 2026-12-07).

// Preemption models, as the kernel names them (preempt=, debugfs), and
// the two a uname -v flag narrows it to.
const (
	modelNone      = "none"
	modelVoluntary = "voluntary"
	modelFull      = "full"
	modelLazy      = "lazy"
	modelRT        = "rt"
	modelNoPreempt = "none or voluntary" // uname -v without a PREEMPT flag
	modelPreempt   = "full or lazy"      // uname -v with PREEMPT
)

// bootModels are the values preempt= takes on a PREEMPT_DYNAMIC kernel.
var bootModels = []string{modelNone, modelVoluntary, modelFull, modelLazy}

// preemption is the running kernel's preemption model and how it was
// found out.
type preemption struct {
	model   string // one of the model constants; "" when unknown
	from    string // where it was read, for people
	dynamic bool   // PREEMPT_DYNAMIC: root may switch the model through debugfs while it runs
}

// preemptible reports whether a task may be preempted inside a tracing
// program: every model but none and voluntary, and an unknown one.
func (p preemption) preemptible() bool {
	return p.model != modelNone && p.model != modelVoluntary && p.model != modelNoPreempt
}

func (p preemption) String() string {
	if p.model == "" {
		return "preemption model unknown (" + p.from + ")"
	}
	return "preemption model " + p.model + " (" + p.from + ")"
}

// preemptSources is where the model is read: the files under root ("/"
// on a host, a fixture directory in tests) and the uname fields.
type preemptSources struct {
	root    string
	release string // uname -r: names /boot/config-<release>
	version string // uname -v: "#1 SMP PREEMPT_DYNAMIC ..."
}

// hostPreemptSources are the running system's.
func hostPreemptSources() preemptSources {
	var u unix.Utsname
	_ = unix.Uname(&u)
	return preemptSources{root: "/", release: unix.ByteSliceToString(u.Release[:]), version: unix.ByteSliceToString(u.Version[:])}
}

// detectPreemption finds the model: debugfs says the one in force (it
// can be switched there at run time); otherwise a PREEMPT_DYNAMIC kernel
// takes preempt= from the command line, or its config's default; a
// kernel without it, its config's model. Without a config, uname -v's
// flag narrows it down.
func detectPreemption(src preemptSources) preemption {
	if m := debugfsModel(src); m != "" {
		return preemption{m, "from /sys/kernel/debug/sched/preempt", true}
	}
	boot := bootModel(src)
	if cfg, name := kernelConfig(src); cfg != nil {
		return configModel(cfg, name, boot)
	}
	return versionModel(src.version, boot)
}

// debugfsModel reads the model in force from debugfs, where it is the
// word in parentheses: "none voluntary (full) lazy".
func debugfsModel(src preemptSources) string {
	b, err := os.ReadFile(filepath.Join(src.root, "sys/kernel/debug/sched/preempt"))
	if err != nil {
		return ""
	}
	_, rest, ok := strings.Cut(string(b), "(")
	m, _, ok2 := strings.Cut(rest, ")")
	if !ok || !ok2 || !slices.Contains(bootModels, m) {
		return ""
	}
	return m
}

// bootModel is the value of preempt= on the kernel's command line (the
// last one, before any "--" that starts init's arguments), if it is one
// the kernel accepts.
func bootModel(src preemptSources) string {
	b, err := os.ReadFile(filepath.Join(src.root, "proc/cmdline"))
	if err != nil {
		return ""
	}
	m := ""
	for _, f := range strings.Fields(string(b)) {
		if f == "--" {
			break
		}
		if v, ok := strings.CutPrefix(f, "preempt="); ok && slices.Contains(bootModels, v) {
			m = v
		}
	}
	return m
}

// kernelConfig reads the options set to y in the running kernel's config,
// from /proc/config.gz or /boot/config-<release>, and names the file.
func kernelConfig(src preemptSources) (map[string]bool, string) {
	if f, err := os.Open(filepath.Join(src.root, "proc/config.gz")); err == nil {
		defer f.Close()
		if z, err := gzip.NewReader(f); err == nil {
			return configOptions(z), "/proc/config.gz"
		}
	}
	name := "/boot/config-" + src.release
	if f, err := os.Open(filepath.Join(src.root, name)); err == nil {
		defer f.Close()
		return configOptions(f), name
	}
	return nil, ""
}

// configOptions collects the options set to y.
func configOptions(r io.Reader) map[string]bool {
	set := map[string]bool{}
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		if opt, ok := strings.CutSuffix(sc.Text(), "=y"); ok && strings.HasPrefix(opt, "CONFIG_") {
			set[opt] = true
		}
	}
	return set
}

// configChoices are the config's preemption models (a Kconfig choice).
var configChoices = []struct{ option, model string }{
	{"CONFIG_PREEMPT_NONE", modelNone},
	{"CONFIG_PREEMPT_VOLUNTARY", modelVoluntary},
	{"CONFIG_PREEMPT", modelFull},
	{"CONFIG_PREEMPT_LAZY", modelLazy},
}

// configModel is the model of a kernel config; preempt= (boot) overrides
// it where the config has PREEMPT_DYNAMIC.
func configModel(cfg map[string]bool, name, boot string) preemption {
	if cfg["CONFIG_PREEMPT_RT"] {
		return preemption{model: modelRT, from: "from CONFIG_PREEMPT_RT in " + name}
	}
	dynamic := cfg["CONFIG_PREEMPT_DYNAMIC"]
	if dynamic && boot != "" {
		return preemption{boot, "from preempt=" + boot + " on the command line, CONFIG_PREEMPT_DYNAMIC in " + name, true}
	}
	for _, c := range configChoices {
		if !cfg[c.option] {
			continue
		}
		if dynamic {
			return preemption{c.model, "from " + c.option + " in " + name + ", no preempt= on the command line", true}
		}
		return preemption{model: c.model, from: "from " + c.option + " in " + name}
	}
	return preemption{from: "no preemption model in " + name, dynamic: dynamic}
}

// versionModel narrows the model down from the flags the kernel's build
// puts in uname -v ("#1 SMP PREEMPT_DYNAMIC ..."): PREEMPT_RT, PREEMPT
// (full or lazy, built in), PREEMPT_DYNAMIC (any, chosen at boot), or
// none of them (none or voluntary, built in).
func versionModel(version, boot string) preemption {
	flags := strings.Fields(version)
	switch {
	case slices.Contains(flags, "PREEMPT_RT"):
		return preemption{model: modelRT, from: "from PREEMPT_RT in uname -v"}
	case slices.Contains(flags, "PREEMPT_DYNAMIC") && boot != "":
		return preemption{boot, "from preempt=" + boot + " on the command line, PREEMPT_DYNAMIC in uname -v", true}
	case slices.Contains(flags, "PREEMPT_DYNAMIC"):
		return preemption{"", "PREEMPT_DYNAMIC in uname -v, no preempt= on the command line, no readable debugfs or kernel config", true}
	case slices.Contains(flags, "PREEMPT"):
		return preemption{model: modelPreempt, from: "from PREEMPT in uname -v"}
	case strings.HasPrefix(version, "#"):
		return preemption{model: modelNoPreempt, from: "from uname -v, which has no PREEMPT flag"}
	}
	return preemption{from: "no readable debugfs or kernel config, and uname -v " + `"` + version + `"` + " has no build flags"}
}
