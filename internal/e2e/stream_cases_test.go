package e2e_test

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/tcptop/tcptop/internal/testnet"
)

// runTcptop runs tcptop to its end (give it -n) and returns its stdout.
func runTcptop(t *testing.T, args ...string) string {
	t.Helper()
	cmd := exec.Command(tcptopBin, args...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("tcptop %v: %v: %s", args, err, stderr.String())
	}
	return string(out)
}

// pacedPair starts two connections with steady rates: tt-talker sends
// 400 kB/s, tt-listener receives 40 kB/s. It returns their pids.
func pacedPair(t *testing.T) (talker, listener *testnet.Helper) {
	t.Helper()
	sink := testnet.Start(t, "tt-sink", "", "tcp-sink", "127.0.0.1:0")
	talker = testnet.Start(t, "tt-talker", "", "tcp-paced", "127.0.0.1:"+strconv.Itoa(sink.Port), "400000")
	feeder := testnet.Start(t, "tt-feeder", "", "tcp-paced-server", "127.0.0.1:0", "40000")
	listener = testnet.Start(t, "tt-listener", "", "tcp-paced", "127.0.0.1:"+strconv.Itoa(feeder.Port), "0")
	t.Cleanup(func() { talker.Release(); listener.Release(); feeder.Release(); sink.Release() })
	return talker, listener
}

// TestTextStreamIsOneFieldPerColumn splits real text output as awk does:
// every row has one field per column, then only its markers, even for a
// process whose name has blanks (escaped as \x20).
func TestTextStreamIsOneFieldPerColumn(t *testing.T) {
	requireRoot(t)
	awk := testnet.RequireTool(t, "awk")
	srv := testnet.Start(t, "tt-server", "", "tcp-server", "127.0.0.1:0", "5000", "70000")
	cl := testnet.Start(t, "tt spaced name", "", "tcp-client", "127.0.0.1:"+strconv.Itoa(srv.Port), "5000", "70000", "hold")
	defer cl.Release()
	out := runTcptop(t, "-o", "text", "-p", fmt.Sprintf("%d,%d", cl.PID(), srv.PID()), "-n", "3", "-i", "0.3")

	header := ""
	for _, line := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		f := strings.Fields(line)
		switch {
		case strings.HasPrefix(line, "--- tick "):
		case strings.HasPrefix(line, "PROTO "):
			header = line
		default:
			if len(f) < 13 {
				t.Errorf("row of %d fields: %q", len(f), line)
				continue
			}
			for _, m := range f[13:] {
				if m != "[CLOSED]" && m != "[PARTIAL]" {
					t.Errorf("field %q after the columns is not a marker: %q", m, line)
				}
			}
		}
	}
	if header == "" || len(strings.Fields(header)) != 13 {
		t.Fatalf("header %q, output:\n%s", header, out)
	}
	comms := pipeTo(t, out, awk, `$1 == "tcp" { print $4, $5 }`)
	want := fmt.Sprintf(`%d tt\x20spaced\x20name`, cl.PID())
	if !strings.Contains(comms, want+"\n") || !strings.Contains(comms, fmt.Sprintf("%d tt-server\n", srv.PID())) {
		t.Errorf("awk's $4 and $5 are not pid and name on every row, want %q in:\n%s", want, comms)
	}
}

// TestTextStreamHeaderWhenIdle: an empty first tick prints its tick line
// and the header, so an idle host shows that tcptop runs.
func TestTextStreamHeaderWhenIdle(t *testing.T) {
	requireRoot(t)
	out := runTcptop(t, "--screen=never", "-w", "pid == -1", "-n", "2", "-i", "0.2")
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "--- tick 1 ") || !strings.HasSuffix(lines[0], " 0 flows ---") || !strings.HasPrefix(lines[1], "PROTO ") {
		t.Errorf("want the first tick's line and the header only, got:\n%s", out)
	}
}

// TestSortAndTopInEveryFormat: --sort=-comm --top 1 keeps, in each tick,
// the one row whose name comes first, in every format.
func TestSortAndTopInEveryFormat(t *testing.T) {
	requireRoot(t)
	talker, listener := pacedPair(t)
	pids := fmt.Sprintf("%d,%d", talker.PID(), listener.PID())
	comms := map[string]func(t *testing.T, out string) []string{
		"ndjson": func(t *testing.T, out string) []string {
			var got []string
			for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
				var r struct{ Comm string }
				if err := json.Unmarshal([]byte(l), &r); err != nil {
					t.Fatalf("%q: %v", l, err)
				}
				got = append(got, r.Comm)
			}
			return got
		},
		"csv": func(t *testing.T, out string) []string {
			recs, err := csv.NewReader(strings.NewReader(out)).ReadAll()
			if err != nil || len(recs) < 1 {
				t.Fatalf("csv: %v", err)
			}
			col := slices.Index(recs[0], "comm")
			var got []string
			for _, r := range recs[1:] {
				got = append(got, r[col])
			}
			return got
		},
		"text": func(t *testing.T, out string) []string {
			var got []string
			for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
				if f := strings.Fields(l); f[0] == "tcp" {
					got = append(got, f[4])
				}
			}
			return got
		},
	}
	for format, parse := range comms {
		t.Run(format, func(t *testing.T) {
			out := runTcptop(t, "-o", format, "-p", pids, "--sort=-comm", "--top", "1", "-n", "3", "-i", "0.3")
			got := parse(t, out)
			if len(got) != 3 || got[0] != "tt-listener" || got[1] != "tt-listener" || got[2] != "tt-listener" {
				t.Errorf("want tt-listener alone in each of 3 ticks, got %v:\n%s", got, out)
			}
		})
	}
}

// TestREADMEAwkRecipe runs the README's awk recipe (top talkers by
// process, from the text stream) on real traffic: the talker's average
// send rate comes out near what it sends.
func TestREADMEAwkRecipe(t *testing.T) {
	requireRoot(t)
	testnet.RequireTool(t, "awk")
	testnet.RequireTool(t, "bash")
	recipeText := readmeRecipe(t, "# Top talkers")
	talker, listener := pacedPair(t)
	// The recipe as written, on this test's two processes only (the host
	// may be busy with others).
	recipe := strings.Replace(recipeText, "tcptop ", fmt.Sprintf("%s -i 0.5 -p %d,%d ", tcptopBin, talker.PID(), listener.PID()), 1)
	out, err := exec.Command("bash", "-c", "set -o pipefail; "+recipe).CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", recipe, err, out)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	f := strings.Fields(lines[0])
	if len(f) != 2 || f[1] != "tt-talker" {
		t.Fatalf("the talker should lead:\n%s", out)
	}
	// 400,000 B/s, averaged over its ticks: well within half and twice.
	if rate, _ := strconv.ParseFloat(f[0], 64); rate < 200_000 || rate > 800_000 {
		t.Errorf("the talker sends 400000 B/s, the recipe says %v:\n%s", rate, out)
	}
}

// readmeRecipe is the command of the README's recipe whose comment line
// starts with heading: from its line starting "tcptop " to the end of its
// code block.
func readmeRecipe(t *testing.T, heading string) string {
	t.Helper()
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile("(?s)" + regexp.QuoteMeta(heading) + "[^\n]*\n(tcptop .*?)\n```").FindSubmatch(readme)
	if m == nil {
		t.Fatalf("README has no %q recipe", heading)
	}
	return string(m[1])
}
