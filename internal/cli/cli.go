// Package cli is tcptop's command line: the kong options, their
// validation, exit codes and messages. It hands a typed configuration to
// the engine (internal/run), which ticks. Run takes its arguments and
// output streams so the whole command is testable in-process.
package cli

import (
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/alecthomas/kong"

	"github.com/tcptop/tcptop/internal/conn"
	"github.com/tcptop/tcptop/internal/emit"
	"github.com/tcptop/tcptop/internal/run"
	"github.com/tcptop/tcptop/internal/screen"
	"github.com/tcptop/tcptop/internal/source"
)

// Exit codes, as documented in --help and the README.
const (
	ExitOK      = 0 // done: --count reached, stopped by a signal, or stdout closed
	ExitRuntime = 1 // could not run: privileges, kernel features, I/O, stdout closed at start
	ExitUsage   = 2 // bad flags or a bad --where expression
	// ExitQuit is SIGQUIT's: 128+3, what a shell reports for a process
	// the signal ended. Go's own handling (a goroutine dump, exit 2)
	// would read as a usage error.
	ExitQuit = 131
)

// MinInterval is the shortest --interval: a tick at a few dozen flows
// costs about 1 ms of CPU (docs/design.md, 2026-12-06), so ticks 10 ms
// apart use about a tenth of a core; shorter ones would mostly measure
// tcptop itself (-i 1ns kept a core busy).
const MinInterval = 10 * time.Millisecond

// EnvPrefix starts the name of the environment variable of every flag:
// --udp-timeout is TCPTOP_UDP_TIMEOUT. A flag given on the command line
// wins over its variable.
const EnvPrefix = "TCPTOP"

// Version is set at build time with -ldflags "-X .../internal/cli.Version=...".
var Version = "dev"

// Options are tcptop's flags, and the two positional arguments that BCC
// tcptop and vmstat users type: tcptop [interval [count]].
type Options struct {
	Output     string        `short:"o" type:"format" enum:"${formats}" default:"text" help:"Output format: text (aligned columns for people: a live screen on a terminal, a stream otherwise), ndjson (one JSON object per line; json is the same) csv (RFC 4180, one header), or none (nothing: only the metrics of --listen)."`
	Where      string        `short:"w" placeholder:"EXPR" complete:"field" help:"Emit only rows for which EXPR is true, e.g. 'proto==\"tcp\" && rtt_us>5000' or 'remote_addr in cidr(\"10.0.0.0/8\")'. Field names are those of the output: see --list-fields."`
	PIDs       []int         `name:"pid" short:"p" type:"list" sep:"," placeholder:"PID" help:"Emit only rows of these processes: the same as --where 'pid in [PID,...]', and with --where both must hold. A process that does not exist is noted once on stderr; its rows come if it starts."`
	Interval   time.Duration `short:"i" type:"seconds" default:"1s" help:"Time between ticks: a duration (500ms, 2s, 1m) or a number of seconds (5); at least ${mininterval}."`
	Count      int           `short:"n" default:"0" help:"Stop after this many ticks (0: run until interrupted)."`
	Sort       string        `type:"list" placeholder:"FIELD[,FIELD...]" complete:"field" help:"Order each tick's rows by these fields, largest first, or smallest first with a leading - (--sort=-comm,pid); any field (see --list-fields). Default: rate_in+rate_out descending, then proto, local and remote address and port, pid. Holds a copy of every row of the tick (at most --top with it)."`
	Top        int           `default:"0" placeholder:"N" help:"Emit only the first N rows of each tick, in the order of --sort (0: all)."`
	Screen     string        `enum:"auto,always,never" default:"auto" help:"Live screen for -o text: redrawn in place each tick, with keys (${screenkeys}). auto: when stdout is a terminal; never: stream rows, as into a pipe."`
	Changed    bool          `help:"Emit only rows that changed in the tick: new flows (opened, or first seen), closed ones, and flows whose bytes, packets, retrans, rtt_us, state, pid or comm differ from the previous tick (an expired UDP flow gets a last row if its counters moved). Deltas and rates are still per tick. What a log shipper wants."`
	Listeners  bool          `help:"Also a row for every listening TCP socket, in every network namespace there was when tcptop started, beside the connections: state LISTEN, its owner (pid, comm), accept_queue and accept_queue_max (ss -ltn's Recv-Q and Send-Q), syn_queue, listen_drops and listen_drops_delta. --where 'state==\"LISTEN\"' shows them alone, as ss -ltn; 'listen_drops_delta>0' the ones dropping now. On the live screen, l shows and hides them."`
	NoHeader   bool          `help:"Same as --header=never (kept for scripts that use it)."`
	UDPTimeout time.Duration `name:"udp-timeout" default:"5s" help:"Forget UDP flows idle for this long (0: never)."`
	Hooks      string        `enum:"${hooks}" default:"auto" help:"Send/receive hooks: auto picks the first this kernel offers, in the order tracepoint (Linux 6.4+), fexit, kprobe; name one to force it."`
	Verbose    bool          `short:"v" help:"Log the hooks attached, fields this kernel cannot provide, and kernel-side drop counters on stderr."`
	User       string        `type:"user" placeholder:"USER[:GROUP]" help:"After attaching, run as this user and group, like tcpdump -Z: names or numbers; numbers need no passwd entry (--user 65534:65534 in a FROM scratch image), a user number without one needs its group. Capabilities are dropped either way (docs/security.md)."`
	FleetOptions
	PromOptions
	Check      bool             `env:"-" help:"Check what this kernel offers: load every part of tcptop's kernel side, print for each whether it loaded, what replaced it, or what its refusal costs, detach it all and exit (0: everything available, 3: something lost, 1: tcptop cannot run, 128+n: stopped by signal n before its report)."`
	ListFields bool             `name:"list-fields" env:"-" help:"List the output fields (the names --where and --fields use) and exit; a bare --fields does the same."`
	Completion *string          `enum:"${shells}" placeholder:"SHELL" env:"-" help:"Print a completion script for bash, zsh or fish and exit, e.g. source <(tcptop --completion=bash)."`
	Version    kong.VersionFlag `short:"V" env:"-" help:"Print the version and exit."`

	IntervalArg time.Duration `arg:"" name:"interval" optional:"" type:"seconds" help:"The same as --interval, as BCC tcptop and vmstat take it: tcptop 5 ticks every 5 seconds."`
	CountArg    int           `arg:"" name:"count" optional:"" help:"The same as --count: tcptop 5 3 ticks three times, 5 seconds apart."`
}

// Validate takes the positional arguments into their flags and rejects
// values kong's types accept but tcptop cannot use; usageLine adds what to
// give instead (flagFixes).
func (o *Options) Validate(kctx *kong.Context) error {
	given := givenOnCommandLine(kctx)
	if given["arg:interval"] {
		if given["interval"] && o.Interval != o.IntervalArg {
			return fmt.Errorf("interval given twice: --interval %s and argument %s", o.Interval, o.IntervalArg)
		}
		o.Interval = o.IntervalArg
	}
	if given["arg:count"] {
		if given["count"] && o.Count != o.CountArg {
			return fmt.Errorf("count given twice: --count %d and argument %d", o.Count, o.CountArg)
		}
		o.Count = o.CountArg
	}
	switch {
	case o.Interval <= 0:
		return fmt.Errorf("--interval must be positive, got %s", o.Interval)
	case o.Interval < MinInterval:
		return fmt.Errorf("--interval must be at least %s, got %s", MinInterval, o.Interval)
	case o.Count < 0:
		return fmt.Errorf("--count must be 0 (forever) or more, got %d", o.Count)
	case o.UDPTimeout < 0:
		return fmt.Errorf("--udp-timeout must be 0 (never) or more, got %s", o.UDPTimeout)
	case o.Top < 0:
		return fmt.Errorf("--top must be 0 (all) or more, got %d", o.Top)
	case o.Screen == "always" && o.Output != "text":
		return fmt.Errorf("--screen=always shows -o text, not %s", o.Output)
	}
	for _, pid := range o.PIDs {
		if pid <= 0 {
			return fmt.Errorf("--pid must list process ids (1 or more), got %d", pid)
		}
	}
	if err := o.validateProm(given); err != nil {
		return err
	}
	return o.validateFleet()
}

// givenOnCommandLine names the flags and ("arg:" and their name) the
// positional arguments typed on the command line, not set by a variable
// or a default.
func givenOnCommandLine(kctx *kong.Context) map[string]bool {
	given := map[string]bool{}
	for _, p := range kctx.Path {
		switch {
		case p.Resolved:
		case p.Flag != nil:
			given[p.Flag.Name] = true
		case p.Positional != nil:
			given["arg:"+p.Positional.Name] = true
		}
	}
	return given
}

const description = `Show every TCP connection and UDP flow on this host, tick by tick.

Counters come from eBPF probes: exact bytes from send/receive return values,
packets and RTT from the kernel's own TCP counters, the owning process, and
the state. Needs root (or CAP_BPF, CAP_PERFMON and CAP_NET_ADMIN).

Examples:
  sudo tcptop                                          # live screen (q quits, ? keys)
  sudo tcptop 5                                        # every 5 seconds
  sudo tcptop | cat                                    # the stream of rows, as into a pipe
  sudo tcptop -p 1234,5678 --sort=rtt_us --top 10 -n 1
  sudo tcptop -o ndjson --where 'proto=="tcp" && rtt_us>5000' | jq .
  sudo tcptop -o csv --count 1 >> /var/log/conns.csv   # cron snapshot
  sudo tcptop -o ndjson -w 'remote_addr in cidr("10.0.0.0/8") && closed'
  sudo tcptop -o ndjson --changed | fluent-bit -c docs/recipes/fluent-bit.conf
  sudo vector --config docs/recipes/vector.yaml        # Vector runs tcptop itself

Exit codes: 0 ok (count reached, SIGINT, SIGTERM or SIGHUP, or stdout
closed), 1 runtime error (stdout closed at start, too), 2 usage error,
131 SIGQUIT; --check stopped by a signal, 128+n. Every signal detaches
everything before the exit.`

// exitRequest carries kong's request to exit (after --help or --version)
// out of the parser without calling os.Exit.
type exitRequest struct{ code int }

// Run runs tcptop with args (without the program name) and returns the
// exit code. Output goes to stdout only, logs to stderr.
func Run(args []string, stdout, stderr io.Writer) (code int) {
	if stdoutClosed(stdout) {
		logFor(args, stderr).Errorf("stdout is closed: redirect it to a file or a pipe, as in tcptop > flows.txt")
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
	kctx, err := parser.Parse(bareFields(args))
	if err == nil {
		err = givenOnce(kctx)
	}
	if err != nil {
		logFor(args, stderr).Errorf("%s", usageLine(err))
		return ExitUsage
	}
	if opts.ListFields {
		printFields(stdout)
		return ExitOK
	}
	if opts.Completion != nil {
		return writeCompletion(stdout, stderr, parser.Model, *opts.Completion)
	}
	if opts.Check {
		return check(&opts, stdout, run.NewLogger(stderr, opts.LogFormat))
	}
	return runEngine(&opts, stdout, run.NewLogger(stderr, opts.LogFormat))
}

// newParser builds the kong model of Options: the command line, the
// TCPTOP_* environment variables (one per flag, named after it, except for
// the flags that print something and exit), and what the man page and the
// completion scripts are generated from.
func newParser(opts *Options, stdout, stderr io.Writer) (*kong.Kong, error) {
	return kong.New(opts,
		kong.Name("tcptop"),
		kong.Description(description),
		kong.Vars{"version": "tcptop " + Version, "formats": strings.Join(outputFormats(), ","), "hooks": strings.Join(source.HookPaths(), ","), "shells": strings.Join(shells, ","),
			"timeformats": strings.Join(emit.TimeFormats(), ","), "screenkeys": screen.KeysSummary(), "mininterval": MinInterval.String()},
		kong.DefaultEnvars(EnvPrefix),
		kong.NamedMapper("seconds", secondsMapper{}),
		kong.NamedMapper("format", formatMapper{}),
		kong.NamedMapper("list", listMapper{}),
		kong.NamedMapper("user", userMapper{}),
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

// usageError marks errors the user can fix by changing the command line,
// as the engine's do.
type usageError = run.UsageError

func exitCode(err error) int {
	switch {
	case run.IsUsage(err):
		return ExitUsage
	case errors.Is(err, run.ErrQuit):
		return ExitQuit
	}
	return ExitRuntime
}

// secondsMapper reads a duration as time.ParseDuration does, or a bare
// number as seconds: -i 5 and -i 0.5, as top, vmstat and BCC tools take
// them.
type secondsMapper struct{}

func (secondsMapper) Decode(ctx *kong.DecodeContext, target reflect.Value) error {
	s, err := popValue(ctx, "duration")
	if err != nil {
		return err
	}
	d, err := parseSeconds(s)
	if err != nil {
		return err
	}
	target.Set(reflect.ValueOf(d))
	return nil
}

// parseSeconds reads "1.5s", "500ms" or "5" (seconds).
func parseSeconds(s string) (time.Duration, error) {
	if f, err := strconv.ParseFloat(s, 64); err == nil && !math.IsNaN(f) && !math.IsInf(f, 0) {
		if math.Abs(f) > math.MaxInt64/float64(time.Second) {
			return 0, fmt.Errorf("%q seconds is too long", s)
		}
		return time.Duration(f * float64(time.Second)), nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("expected a duration (2s, 500ms) or a number of seconds but got %q", s)
	}
	return d, nil
}

// formatMapper reads an output format, taking json for ndjson.
type formatMapper struct{}

func (formatMapper) Decode(ctx *kong.DecodeContext, target reflect.Value) error {
	s, err := popValue(ctx, "format")
	if err != nil {
		return err
	}
	if s == "json" {
		s = "ndjson"
	}
	target.SetString(s)
	return nil
}

// logFor is the logger for args before they are parsed: a usage error
// is written as --log-format (or TCPTOP_LOG_FORMAT) asks, if it can tell.
func logFor(args []string, w io.Writer) run.Logger {
	format := os.Getenv(EnvPrefix + "_LOG_FORMAT")
	for i, a := range args {
		if a == "--" {
			break
		}
		if v, ok := strings.CutPrefix(a, "--log-format="); ok {
			format = v
		} else if a == "--log-format" && i+1 < len(args) {
			format = args[i+1]
		}
	}
	return run.NewLogger(w, format)
}
