package e2e_test

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/tcptop/tcptop/internal/cli"
	"github.com/tcptop/tcptop/internal/testnet"
)

// badInput is a command line tcptop must refuse: exit 2, one line on
// stderr naming the problem and the fix, nothing on stdout.
type badInput struct {
	name         string
	args         []string
	env          map[string]string
	problem, fix string
}

var hundredKB = strings.Repeat(`proto == "tcp" && `, 100<<10/18) + "true"

// nestedAll is issue 17's expression: all() levels deep over a literal
// list of n zeros (1.7 s per row at 3 of 300, nothing in 30 s at 4 of 440).
func nestedAll(levels, n int) string {
	list := "[" + strings.TrimSuffix(strings.Repeat("0,", n), ",") + "]"
	return strings.Repeat("all("+list+",{", levels) + "pid>=0" + strings.Repeat("})", levels)
}

var badInputs = []badInput{
	{"syntax", []string{"-w", `proto == `}, nil, "unexpected token EOF at 1:9", "check the syntax"},
	{"unknown field", []string{"-w", `rtt > 5000`}, nil, "unknown name rtt at 1:1 in `»rtt > 5000`", "did you mean rtt_us?"},
	{"unknown field, near another", []string{"-w", `remote_ip == "10.0.0.1"`}, nil, "unknown name remote_ip", "did you mean remote_addr?"},
	{"unquoted value", []string{"-w", `proto == tcp`}, nil, "unknown name tcp", `quote a string value: "tcp"`},
	{"type mismatch", []string{"-w", `proto > 5`}, nil, "mismatched types string and int", "a value of its type"},
	{"not a boolean", []string{"-w", `rtt_us + 1`}, nil, "expected bool, but got int", "must be true or false"},
	{"bad CIDR", []string{"-w", `remote_addr in cidr("10.0.0.0/33")`}, nil, `cidr("10.0.0.0/33"): not an IP prefix`, `like "10.0.0.0/8"`},
	{"bad regexp", []string{"-w", `comm matches "(a"`}, nil, "missing closing )", "at 1:14"},
	{"runaway regexp", []string{"-w", `comm matches repeat("(a*)*", 20000)`}, nil, "repeat() would build 100000 bytes", "over the 1024 that --where allows"},
	{"huge range", []string{"-w", `len(1..1000000000) > 0`}, nil, "the range 1..1000000000 is too big", "x in a..b"},
	{"huge repeat", []string{"-w", `len(repeat(repeat("x", 999999), 999999)) > 0`}, nil, "repeat() would build 999999 bytes", "1:12"},
	{"let", []string{"-w", `let x = comm + comm; x != ""`}, nil, "let is not supported", "write the value out"},
	{"a builder", []string{"-w", `reduce(1..64, #acc + #acc, "ab") != ""`}, nil, "reduce() is not supported", "any(), all()"},
	{"loops nested 4 deep over 440", []string{"-w", nestedAll(4, 440)}, nil, "this can cost 426696162 steps per row, over the 1000000 that --where allows", "nest fewer all()"},
	{"loops nested 3 deep over 300", []string{"-w", nestedAll(3, 300)}, nil, "steps per row, over the 1000000 that --where allows at 1:1", "loop over shorter lists"},
	{"too many nodes", []string{"-w", strings.Repeat("1+", 2100) + "1 > 0"}, nil, "exceeds maximum allowed nodes", "at most 2000"},
	{"100 KB expression", []string{"-w", hundredKB}, nil, fmt.Sprintf("the expression is %d bytes long", len(hundredKB)), "the limit is 8192"},
	{"deep nesting", []string{"-w", strings.Repeat("(", 50000) + "true"}, nil, "bytes long", "write a shorter one"},
	{"--where twice", []string{"-w", `proto == "tcp"`, "--where", `rtt_us > 5000`}, nil, "--where given twice", "combine the conditions with &&"},
	{"--where without a value", []string{"-w"}, nil, "--where needs a value", "give an expression"},
	{"--where from the environment", nil, map[string]string{"TCPTOP_WHERE": "rtt > 1"}, "unknown name rtt", "did you mean rtt_us?"},
	{"zero interval", []string{"-i", "0"}, nil, "--interval must be positive, got 0s", "give a duration such as 1s or 500ms, or a number of seconds"},
	{"interval below the floor", []string{"-i", "1ms"}, nil, "--interval must be at least 10ms, got 1ms", "give a duration"},
	{"negative interval", []string{"--interval=-1s"}, nil, "--interval must be positive, got -1s", "give a duration"},
	{"negative interval, short", []string{"-i", "-1s"}, nil, `--interval: expected duration value but got "-1s"`, "give a duration"},
	{"not a duration", []string{"-i", "abc"}, nil, `--interval: expected a duration (2s, 500ms) or a number of seconds but got "abc"`, "give a duration"},
	{"interval twice", []string{"-i", "1s", "--interval=2s"}, nil, "--interval given twice", "give it once"},
	{"negative UDP timeout", []string{"--udp-timeout=-1s"}, nil, "--udp-timeout must be 0 (never) or more", "or 0 to keep idle UDP flows"},
	{"negative count", []string{"-n", "-1"}, nil, `--count: expected int value but got "-1"`, "give a number of ticks"},
	{"negative count, long", []string{"--count=-1"}, nil, "--count must be 0 (forever) or more", "give a number of ticks"},
	{"not a count", []string{"-n", "x"}, nil, `--count: expected a valid 64 bit int but got "x"`, "give a number of ticks"},
	{"unknown format", []string{"-o", "yaml"}, nil, `--output must be one of "text","ndjson","csv","none" but got "yaml"`, "tcptop --help"},
	{"unknown format from the environment", nil, map[string]string{"TCPTOP_OUTPUT": "yaml"}, `but got "yaml" (from TCPTOP_OUTPUT="yaml")`, "tcptop --help"},
	{"unknown hooks", []string{"--hooks", "foo"}, nil, `--hooks must be one of "auto","tracepoint","fexit","kprobe"`, "tcptop --help"},
	{"unknown flag", []string{"--frobnicate"}, nil, "unknown flag --frobnicate", "tcptop --help"},
	{"a switch with a value", []string{"--changed=maybe"}, nil, `--changed: bool value must be true`, "tcptop --help"},
	{"unknown field to show", []string{"--fields=rtt"}, nil, `--fields: unknown field "rtt"`, "(valid: timestamp, tick"},
	{"unknown shell", []string{"--completion=tcsh"}, nil, `--completion must be one of "bash","zsh","fish"`, "tcptop --help"},
	{"-o none alone", []string{"-o", "none"}, nil, "--output none writes nothing", "add --listen ADDR to serve the metrics"},
	{"--listen without a port", []string{"--listen", "localhost"}, nil, `--listen must be HOST:PORT or :PORT, got "localhost"`, "such as :9917"},
	{"--listen with a bad port", []string{"--listen", ":99999"}, nil, `got ":99999"`, "such as :9917"},
	{"--max-series without --listen", []string{"--max-series", "5"}, nil, "--max-series applies to --listen ADDR", "add it, or drop --max-series"},
	{"no series", []string{"--listen", ":9917", "--max-series", "0"}, nil, "--max-series must be 1 or more, got 0", "such as 1000"},
	{"no such user", []string{"--user", "no-such-user-tcptop"}, nil, `--user "no-such-user-tcptop": no such user`, "getent passwd"},
	// What the user typed is echoed escaped (internal/escape), so an
	// argument cannot send the terminal an escape sequence.
	{"control bytes in an argument", []string{"1", "2", "\x1b]0;pwned\a"}, nil, `unexpected argument \x1b]0;pwned\x07`, "tcptop --help"},
	{"control bytes in a flag", []string{"--\x1b[2J"}, nil, `unknown flag --\x1b[2J`, "tcptop --help"},
	{"a newline in a flag", []string{"--a\ntcptop: fake"}, nil, `unknown flag --a (see`, "tcptop --help"}, // one line: the rest is cut
	{"control bytes in --where", []string{"-w", "comm == \"\x1b[2J\" &&"}, nil, "in `comm == \"\\x1b[2J\" &»&`", "check the syntax"},
	{"a bidi override in a value", []string{"-o", "\xff\u202e"}, nil, `but got "\xff\u202e"`, "tcptop --help"},
	// A byte that is not UTF-8 is echoed as itself, escaped (kong's
	// PopValueInto made it U+FFFD before tcptop read the value).
	{"an invalid byte in --user", []string{"--user", "\xffroot"}, nil, `--user "\xffroot": no such user`, "getent passwd"},
	{"empty user", []string{"--user", ""}, nil, "--user: an empty user", "USER:GROUP"},
	{"empty user from the environment", nil, map[string]string{"TCPTOP_USER": ""}, "--user: an empty user", `(from envar TCPTOP_USER="")`},
	{"user id that setresuid ignores", []string{"--user", "4294967295:0"}, nil, `--user "4294967295:0": id 4294967295 is out of range`, "0 to 4294967294"},
}

// TestBadInput runs every bad command line in process: the filter and the
// writer are made before the kernel is touched (TestBadInputLoadsNothing
// checks that with the real binary).
func TestBadInput(t *testing.T) {
	for _, tc := range badInputs {
		t.Run(tc.name, func(t *testing.T) {
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			var stdout, stderr bytes.Buffer
			code := cli.Run(tc.args, &stdout, &stderr)
			checkUsageError(t, code, stdout.String(), stderr.String(), tc)
		})
	}
}

func checkUsageError(t *testing.T, code int, stdout, stderr string, tc badInput) {
	t.Helper()
	if code != cli.ExitUsage {
		t.Errorf("exit code %d, want %d; stderr: %.300s", code, cli.ExitUsage, stderr)
	}
	if stdout != "" {
		t.Errorf("stdout not empty: %.300q", stdout)
	}
	if !strings.HasPrefix(stderr, "tcptop: ") || strings.Count(stderr, "\n") != 1 || !strings.HasSuffix(stderr, "\n") {
		t.Errorf("stderr is not one tcptop: line: %.300q", stderr)
	}
	checkNoControlBytes(t, "stderr", stderr)
	// The longest is --fields', which lists every field name (and grows
	// with the schema: 807 with drops).
	if n := utf8.RuneCountInString(stderr); n > 1000 {
		t.Errorf("stderr is %d characters long: %.300q", n, stderr)
	}
	for _, want := range []string{tc.problem, tc.fix} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr %q does not say %q", stderr, want)
		}
	}
}

// checkNoControlBytes fails if text (what: "stderr", "csv stdout"),
// lines ending in "\n", carries a character a terminal acts on or
// invalid UTF-8, naming the line.
func checkNoControlBytes(t *testing.T, what, text string) {
	t.Helper()
	for _, line := range strings.SplitAfter(text, "\n") {
		if !utf8.ValidString(line) || strings.ContainsFunc(line, func(r rune) bool {
			return r != '\n' && (unicode.IsControl(r) || unicode.In(r, unicode.Cf, unicode.Zl, unicode.Zp))
		}) {
			t.Errorf("%s carries a raw control byte or invalid UTF-8 in the line %q (of %d bytes)", what, line, len(text))
		}
	}
}

// TestUsageErrorsEchoNoControlBytes runs the binary as a shell would,
// with the arguments of issue 17 (tcptop 1 2 $'\e]0;pwned\a', tcptop
// --$'\e[2J'), in both log formats: exit 2, and stderr without a raw
// control byte.
func TestUsageErrorsEchoNoControlBytes(t *testing.T) {
	for _, args := range [][]string{{"1", "2", "\x1b]0;pwned\a"}, {"--\x1b[2J"}, {"-w", "comm == \"\x1b[2J\xff\" &&"}} {
		for _, logFormat := range []string{"text", "json"} {
			cmd := exec.Command(tcptopBin, args...)
			cmd.Env = append(os.Environ(), "TCPTOP_LOG_FORMAT="+logFormat)
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			err := cmd.Run()
			if code := exitCodeOf(err); code != cli.ExitUsage || stdout.Len() > 0 {
				t.Errorf("%q (%s): exit %d, stdout %q; want exit 2 and nothing", args, logFormat, code, stdout.String())
			}
			if strings.Count(stderr.String(), "\n") != 1 {
				t.Errorf("%q (%s): stderr is not one line: %q", args, logFormat, stderr.String())
			}
			checkNoControlBytes(t, "stderr", stderr.String())
		}
	}
}

// TestBadInputLoadsNothing runs the real binary, as root, on a few bad
// command lines under strace: it must exit 2 without loading a program or
// attaching anything. The one bpf() call allowed is cilium/ebpf/rlimit's,
// made when the package loads, before main: an unnamed one-element array
// map, created to see how the kernel accounts memory, and closed at once.
func TestBadInputLoadsNothing(t *testing.T) {
	requireRoot(t)
	strace := testnet.RequireTool(t, "strace")
	// An unknown --user too: issue 16 found it caught after attaching.
	noSuchUser := slices.IndexFunc(badInputs, func(b badInput) bool { return b.name == "no such user" })
	for _, i := range []int{0, 8, 9, 13, 18, 22, 23, noSuchUser, len(badInputs) - 4, len(badInputs) - 3, len(badInputs) - 1} {
		tc := badInputs[i]
		t.Run(tc.name, func(t *testing.T) {
			trace := filepath.Join(t.TempDir(), "strace.out")
			cmd := exec.Command(strace, append([]string{"-f", "-qq", "-e", "trace=bpf,perf_event_open", "-e", "signal=none", "-o", trace, tcptopBin}, tc.args...)...)
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			checkUsageError(t, exitCodeOf(cmd.Run()), stdout.String(), stderr.String(), tc)
			calls, err := os.ReadFile(trace)
			if err != nil {
				t.Fatal(err)
			}
			for _, call := range strings.Split(strings.TrimSpace(string(calls)), "\n") {
				syscall := strings.Contains(call, "bpf(") || strings.Contains(call, "perf_event_open(")
				if syscall && !strings.Contains(call, rlimitProbe) {
					t.Errorf("tcptop made a bpf call on a usage error: %s", call)
				}
			}
		})
	}
}

// rlimitProbe is the map cilium/ebpf/rlimit creates when it loads.
const rlimitProbe = `bpf(BPF_MAP_CREATE, {map_type=BPF_MAP_TYPE_ARRAY, key_size=4, value_size=4, max_entries=1, map_flags=0, inner_map_fd=0, map_name=""`

// TestClosedStdoutIsAnError: started with stdout closed (>&-), tcptop
// says so and exits 1 at once, instead of writing into the /dev/null Go
// puts in its place for as long as it runs. A stdout sent to /dev/null on
// purpose is fine (a usage error shows that it got past the check).
func TestClosedStdoutIsAnError(t *testing.T) {
	cmd := exec.Command("sh", "-c", `exec "$0" --count 1 >&-`, tcptopBin)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	code := exitCodeOf(cmd.Run())
	if code != cli.ExitRuntime || stderr.String() != "tcptop: stdout is closed: redirect it to a file or a pipe, as in tcptop > flows.txt\n" {
		t.Errorf("exit %d, stderr %q; want 1 and the closed-stdout line", code, stderr.String())
	}
	cmd = exec.Command("sh", "-c", `exec "$0" --count 0s >/dev/null`, tcptopBin)
	stderr.Reset()
	cmd.Stderr = &stderr
	if code := exitCodeOf(cmd.Run()); code != cli.ExitUsage || strings.Contains(stderr.String(), "closed") {
		t.Errorf("stdout on /dev/null: exit %d, stderr %q; want the usage error", code, stderr.String())
	}
}
