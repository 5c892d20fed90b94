package cli

import (
	"bytes"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tcptop/tcptop/internal/conn"
)

// parse parses args as Run does, without running anything.
func parse(t *testing.T, args ...string) (Options, error) {
	t.Helper()
	var opts Options
	_, err := model(t, &opts).Parse(args)
	return opts, err
}

func TestHabitsParse(t *testing.T) {
	for _, tt := range []struct {
		args     []string
		interval time.Duration
		count    int
	}{
		{nil, time.Second, 0},
		{[]string{"-i", "5"}, 5 * time.Second, 0},
		{[]string{"-i", "0.5"}, 500 * time.Millisecond, 0},
		{[]string{"-i", "2s"}, 2 * time.Second, 0},
		{[]string{"--interval=250ms"}, 250 * time.Millisecond, 0},
		{[]string{"5"}, 5 * time.Second, 0},                 // tcptop 5, as BCC tcptop
		{[]string{"2", "3"}, 2 * time.Second, 3},            // tcptop 2 3, as vmstat
		{[]string{"1.5s", "3"}, 1500 * time.Millisecond, 3}, // a duration works too
		{[]string{"-i", "5", "5"}, 5 * time.Second, 0},      // the same value twice is fine
		{[]string{"-n", "3", "-i", "2", "2", "3"}, 2 * time.Second, 3},
	} {
		opts, err := parse(t, tt.args...)
		if err != nil || opts.Interval != tt.interval || opts.Count != tt.count {
			t.Errorf("%q: interval %v count %d (%v), want %v and %d", tt.args, opts.Interval, opts.Count, err, tt.interval, tt.count)
		}
	}
}

func TestIntervalVariableTakesSeconds(t *testing.T) {
	t.Setenv("TCPTOP_INTERVAL", "3")
	if opts, err := parse(t); err != nil || opts.Interval != 3*time.Second {
		t.Errorf("TCPTOP_INTERVAL=3: %v, %v", opts.Interval, err)
	}
	// A positional interval is the command line: it wins over the variable.
	if opts, err := parse(t, "7"); err != nil || opts.Interval != 7*time.Second {
		t.Errorf("TCPTOP_INTERVAL=3 tcptop 7: %v, %v", opts.Interval, err)
	}
}

func TestShorthands(t *testing.T) {
	if opts, err := parse(t, "-o", "json"); err != nil || opts.Output != "ndjson" {
		t.Errorf("-o json: %q, %v; want ndjson", opts.Output, err)
	}
	if opts, err := parse(t, "-p", "12,34", "-p", "56"); err != nil || !slices.Equal(opts.PIDs, []int{12, 34, 56}) {
		t.Errorf("-p 12,34 -p 56: %v, %v", opts.PIDs, err)
	}
	if opts, err := parse(t, "--sort=-comm,pid", "--top", "5", "--screen", "never"); err != nil ||
		opts.Sort != "-comm,pid" || opts.Top != 5 || opts.Screen != "never" {
		t.Errorf("--sort --top --screen: %+v, %v", opts, err)
	}
	var stdout, stderr bytes.Buffer
	if code := Run([]string{"-V"}, &stdout, &stderr); code != ExitOK || !strings.HasPrefix(stdout.String(), "tcptop ") {
		t.Errorf("-V: exit %d, stdout %q", code, stdout.String())
	}
	stdout.Reset()
	Run([]string{"--help"}, &stdout, &stderr)
	if !strings.Contains(stdout.String(), "ndjson") || strings.Contains(stdout.String(), `"json"`) {
		t.Errorf("--help should list ndjson (json only as its other name):\n%s", stdout.String())
	}
}

// TestBadHabitsAreUsageErrors: each bad value is exit 2, one line on
// stderr naming the problem, nothing on stdout, before anything is loaded
// (these run without root).
func TestBadHabitsAreUsageErrors(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"-i", "0"}, "--interval must be positive"},
		{[]string{"-i", "soon"}, "number of seconds"},
		{[]string{"-i", "5x"}, "5x"},
		{[]string{"-i", "1e300"}, "too long"},
		{[]string{"0"}, "--interval must be positive"},
		{[]string{"soon"}, "soon"},
		{[]string{"1", "x"}, "count"},
		{[]string{"1", "2", "3"}, "unexpected argument 3"},
		{[]string{"-i", "2", "5"}, "interval given twice"},
		{[]string{"-n", "2", "1", "3"}, "count given twice"},
		{[]string{"-p", "0"}, "--pid"},
		{[]string{"-p", "12,abc"}, "abc"},
		{[]string{"--pid="}, "--pid"},
		{[]string{"--top", "-1"}, "--top"},
		{[]string{"--top", "many"}, "--top"},
		{[]string{"--sort", "bogus"}, `unknown field "bogus" (want one of timestamp, tick, proto`},
		{[]string{"--sort=rate_in,,pid"}, `--sort: an empty item in "rate_in,,pid"`},
		{[]string{"--screen", "sometimes"}, "--screen"},
		{[]string{"--screen=always", "-o", "csv"}, "--screen=always"},
		{[]string{"-o", "yaml"}, "--output"},
		{[]string{"-p", "7", "-w", "bogus > 1"}, "unknown name bogus"},
	} {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := Run(tt.args, &stdout, &stderr)
			msg := stderr.String()
			if code != ExitUsage || stdout.Len() != 0 || !strings.HasPrefix(msg, "tcptop: ") || !strings.Contains(msg, tt.want) {
				t.Errorf("exit %d, stdout %q, stderr %q; want exit 2, nothing on stdout, a message with %q", code, stdout.String(), msg, tt.want)
			}
			if strings.Count(msg, "\n") != 1 {
				t.Errorf("want one line on stderr, got %q", msg)
			}
		})
	}
}

func TestFilterExprFoldsPIDs(t *testing.T) {
	for _, tt := range []struct {
		where string
		pids  []int
		want  string
	}{
		{"", nil, ""},
		{`proto=="tcp"`, nil, `proto=="tcp"`},
		{"", []int{1, 22}, "pid in [1, 22]"},
		{`comm=="a" || comm=="b" // x`, []int{5}, "pid in [5] && (comm==\"a\" || comm==\"b\" // x\n)"},
	} {
		if got := filterExpr(tt.where, tt.pids); got != tt.want {
			t.Errorf("filterExpr(%q, %v) = %q, want %q", tt.where, tt.pids, got, tt.want)
		}
	}
	opts := Options{Where: `comm=="a" || comm=="b"`, PIDs: []int{5, 6}}
	flt, _, err := compileRows(&opts)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		row  conn.Row
		want bool
	}{
		{conn.Row{PID: 5, Comm: "a"}, true},
		{conn.Row{PID: 6, Comm: "b"}, true},
		{conn.Row{PID: 7, Comm: "a"}, false}, // -p and --where both hold: and, not or
		{conn.Row{PID: 5, Comm: "c"}, false},
	} {
		if got, _ := flt.Match(&tt.row); got != tt.want {
			t.Errorf("-p 5,6 -w %q on %+v: %v", opts.Where, tt.row, got)
		}
	}
}
