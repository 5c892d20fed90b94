package cli

import (
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/tcptop/tcptop/internal/run"
	"github.com/tcptop/tcptop/internal/source"
)

// ExitCheckLoss is what tcptop --check exits with when the kernel refused
// a part that has no fallback with the same numbers: tcptop runs, without
// what the report names.
const ExitCheckLoss = 3

// refuseEnv names kinds of kernel program to treat as refused
// (source.Refusable), comma-separated. A test switch: the kernel matrix
// forces each fallback with it, on kernels where the preferred part loads.
const refuseEnv = EnvPrefix + "_TEST_REFUSE"

// pairsEnv, set to 1, attaches the second program of each send/receive
// pair on any kernel (source.Config.ForcePairs): a test switch, so the
// kernel matrix can run the suite through the pairs where the kernel's
// preemption model does not need them.
const pairsEnv = EnvPrefix + "_TEST_PAIRS"

// sourceConfig is the source's configuration for opts; the engine sets
// where its notices go.
func sourceConfig(opts *Options) source.Config {
	cfg := source.Config{Hooks: opts.Hooks, UDPTimeout: opts.UDPTimeout}
	if v := os.Getenv(refuseEnv); v != "" {
		cfg.Refuse = strings.Split(v, ",")
	}
	cfg.ForcePairs = os.Getenv(pairsEnv) == "1"
	return cfg
}

// checkSignals stop --check: loading every part takes seconds, and Go's
// defaults would end it with 129 and no word for SIGHUP, or a goroutine
// dump and 2, the usage error's code, for SIGQUIT (issue 17, item 8).
// Caught, a signal lets the loading finish, detaches it all, and exits
// 128+n with one line: not 0 or 3, since no report was written.
var checkSignals = []os.Signal{syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT}

// check loads every part of the kernel side, prints what became of each,
// and detaches it all: what a user runs first on a new kernel, and pastes
// into a bug report.
func check(opts *Options, stdout io.Writer, log run.Logger) int {
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, checkSignals...)
	defer signal.Stop(stop)
	cfg := sourceConfig(opts)
	cfg.Warn, cfg.Detail = func(string, ...any) {}, func(string, ...any) {} // the report says it all
	src, err := source.Open(cfg)
	if err != nil {
		log.Errorf("%v", err)
		return ExitRuntime
	}
	defer src.Close()
	select {
	case sig := <-stop:
		n := sig.(syscall.Signal)
		log.Errorf("--check stopped by %s before its report", unix.SignalName(n))
		return 128 + int(n)
	default:
	}
	writeCheck(stdout, src.Path(), src.Parts())
	for _, p := range src.Parts() {
		if p.Lost() {
			return ExitCheckLoss
		}
	}
	return ExitOK
}

// writeCheck prints the report: the kernel, the send/receive path, then a
// line per part with its refusals and costs below it.
func writeCheck(w io.Writer, path string, parts []source.Part) {
	var u unix.Utsname
	_ = unix.Uname(&u)
	fmt.Fprintf(w, "kernel: Linux %s %s\n", unix.ByteSliceToString(u.Release[:]), unix.ByteSliceToString(u.Machine[:]))
	fmt.Fprintf(w, "%-28s %-10s %s\n", "send/receive hooks", "loaded", path+" path")
	lost := 0
	for _, p := range parts {
		verdict := "loaded"
		switch {
		case p.Skipped != "":
			verdict = "not needed"
		case p.Using == "":
			verdict = "refused"
		case p.Fallback:
			verdict = "replaced"
		}
		using := p.Using
		switch {
		case p.Skipped != "":
			using = p.Skipped
		case using == "":
			using = "-"
		}
		fmt.Fprintf(w, "%-28s %-10s %s\n", p.Name, verdict, using)
		for _, r := range p.Refused {
			fmt.Fprintf(w, "    refused: %s\n", r)
		}
		switch {
		case p.Lost():
			lost++
			fmt.Fprintf(w, "    lost: %s\n", p.Loss)
		case p.Fallback && p.Same:
			fmt.Fprintf(w, "    costs nothing: the same numbers\n")
		case p.Skipped != "" && p.Loss != "":
			fmt.Fprintf(w, "    not covered: %s\n", p.Loss)
		}
	}
	if lost == 0 {
		fmt.Fprintln(w, "everything tcptop reports is available")
	} else {
		fmt.Fprintf(w, "%d part(s) lost: tcptop runs without what is named above\n", lost)
	}
}
