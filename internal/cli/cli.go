// Package cli is tcptop's command line: the kong options, exit codes,
// signal handling and the tick loop that wires source → agg → filter →
// emit. Run takes its arguments and output streams so the whole command is
// testable in-process.
package cli

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/alecthomas/kong"

	"github.com/tcptop/tcptop/internal/conn"
	"github.com/tcptop/tcptop/internal/emit"
	"github.com/tcptop/tcptop/internal/source"
)

// Exit codes, as documented in --help and the README.
const (
	ExitOK      = 0 // done: --count reached, stopped by a signal, or stdout closed
	ExitRuntime = 1 // could not run: privileges, kernel features, I/O, stdout closed at start
	ExitUsage   = 2 // bad flags or a bad --where expression
)

// EnvPrefix starts the name of the environment variable of every flag:
// --udp-timeout is TCPTOP_UDP_TIMEOUT. A flag given on the command line
// wins over its variable.
const EnvPrefix = "TCPTOP"

// Version is set at build time with -ldflags "-X .../internal/cli.Version=...".
var Version = "dev"

// Options are tcptop's flags.
type Options struct {
	Output     string           `short:"o" enum:"${formats}" default:"text" help:"Output format: text (aligned columns for people), ndjson (one JSON object per line) or csv (RFC 4180, one header)."`
	Where      string           `short:"w" placeholder:"EXPR" help:"Emit only rows for which EXPR is true, e.g. 'proto==\"tcp\" && rtt_us>5000' or 'remote_addr in cidr(\"10.0.0.0/8\")'. Field names are those of the output: see --fields."`
	Interval   time.Duration    `short:"i" default:"1s" help:"Time between ticks."`
	Count      int              `short:"n" default:"0" help:"Stop after this many ticks (0: run until interrupted)."`
	Changed    bool             `help:"Emit only rows that changed in the tick: new flows (opened, or first seen), closed ones, and flows whose bytes, packets, retrans, rtt_us, state, pid or comm differ from the previous tick (an expired UDP flow gets a last row if its counters moved). Deltas and rates are still per tick. What a log shipper wants."`
	NoHeader   bool             `help:"Do not print the CSV or text header."`
	UDPTimeout time.Duration    `name:"udp-timeout" default:"5s" help:"Forget UDP flows idle for this long (0: never)."`
	Hooks      string           `enum:"${hooks}" default:"auto" help:"Send/receive hooks: auto picks the first this kernel offers, in the order tracepoint (Linux 6.4+), fexit, kprobe; name one to force it."`
	Verbose    bool             `short:"v" help:"Log the hooks attached, fields this kernel cannot provide, and kernel-side drop counters on stderr."`
	Fields     bool             `env:"-" help:"List the output fields (the names --where uses) and exit."`
	Completion *string          `enum:"${shells}" placeholder:"SHELL" env:"-" help:"Print a completion script for bash, zsh or fish and exit, e.g. source <(tcptop --completion=bash)."`
	Version    kong.VersionFlag `env:"-" help:"Print the version and exit."`
}

// Validate rejects values kong's types accept but tcptop cannot use;
// usageLine adds what to give instead (flagFixes).
func (o *Options) Validate() error {
	switch {
	case o.Interval <= 0:
		return fmt.Errorf("--interval must be positive, got %s", o.Interval)
	case o.Count < 0:
		return fmt.Errorf("--count must be 0 (forever) or more, got %d", o.Count)
	case o.UDPTimeout < 0:
		return fmt.Errorf("--udp-timeout must be 0 (never) or more, got %s", o.UDPTimeout)
	}
	return nil
}

const description = `Show every TCP connection and UDP flow on this host, tick by tick.

Counters come from eBPF probes: exact bytes from send/receive return values,
packets and RTT from the kernel's own TCP counters, the owning process, and
the state. Needs root (or CAP_BPF, CAP_PERFMON and CAP_NET_ADMIN).

Examples:
  sudo tcptop                                          # live table
  sudo tcptop -o ndjson --where 'proto=="tcp" && rtt_us>5000' | jq .
  sudo tcptop -o csv --count 1 >> /var/log/conns.csv   # cron snapshot
  sudo tcptop -o ndjson -w 'remote_addr in cidr("10.0.0.0/8") && closed'
  sudo tcptop -o ndjson --changed | vector ...          # only what changed

Exit codes: 0 ok (count reached, SIGINT/SIGTERM, or stdout closed),
1 runtime error (stdout closed at start, too), 2 usage error.`

// exitRequest carries kong's request to exit (after --help or --version)
// out of the parser without calling os.Exit.
type exitRequest struct{ code int }

// Run runs tcptop with args (without the program name) and returns the
// exit code. Output goes to stdout only, logs to stderr.
func Run(args []string, stdout, stderr io.Writer) (code int) {
	if stdoutClosed(stdout) {
		fmt.Fprintln(stderr, "tcptop: stdout is closed: redirect it to a file or a pipe, as in tcptop > flows.txt")
		return ExitRuntime
	}
	var opts Options
	parser, err := newParser(&opts, stdout, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "tcptop: %v\n", err)
		return ExitRuntime
	}
	defer func() {
		if r := recover(); r != nil {
			req, ok := r.(exitRequest)
			if !ok {
				panic(r)
			}
			code = req.code
		}
	}()
	kctx, err := parser.Parse(args)
	if err == nil {
		err = givenOnce(kctx)
	}
	if err != nil {
		fmt.Fprintf(stderr, "tcptop: %s\n", usageLine(err))
		return ExitUsage
	}
	if opts.Fields {
		printFields(stdout)
		return ExitOK
	}
	if opts.Completion != nil {
		return writeCompletion(stdout, stderr, parser.Model, *opts.Completion)
	}
	return run(&opts, stdout, newLogger(stderr))
}

// newParser builds the kong model of Options: the command line, the
// TCPTOP_* environment variables (one per flag, named after it, except for
// the flags that print something and exit), and what the man page and the
// completion scripts are generated from.
func newParser(opts *Options, stdout, stderr io.Writer) (*kong.Kong, error) {
	return kong.New(opts,
		kong.Name("tcptop"),
		kong.Description(description),
		kong.Vars{"version": "tcptop " + Version, "formats": strings.Join(emit.Formats(), ","), "hooks": strings.Join(source.HookPaths(), ","), "shells": strings.Join(shells, ",")},
		kong.DefaultEnvars(EnvPrefix),
		kong.Writers(stdout, stderr),
		kong.Exit(func(c int) { panic(exitRequest{c}) }),
	)
}

// printFields lists the schema: name, type and meaning, one per line.
func printFields(w io.Writer) {
	for _, f := range conn.Fields {
		fmt.Fprintf(w, "%-18s %-8s %s\n", f.Name, f.Kind, f.Doc)
	}
}

// usageError marks errors the user can fix by changing the command line.
type usageError struct{ err error }

func (u usageError) Error() string { return u.err.Error() }
func (u usageError) Unwrap() error { return u.err }

func exitCode(err error) int {
	var u usageError
	if errors.As(err, &u) {
		return ExitUsage
	}
	return ExitRuntime
}
