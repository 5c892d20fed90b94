package cli

import (
	"bytes"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/tcptop/tcptop/internal/conn"
	"github.com/tcptop/tcptop/internal/source"
	"github.com/tcptop/tcptop/internal/testnet"
)

// completionScript runs tcptop --completion=shell and saves the script.
func completionScript(t *testing.T, shell string) (script, path string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	if code := Run([]string{"--completion=" + shell}, &stdout, &stderr); code != ExitOK || stderr.Len() > 0 {
		t.Fatalf("--completion=%s: exit %d, stderr %q", shell, code, stderr.String())
	}
	path = filepath.Join(t.TempDir(), "tcptop."+shell)
	if err := os.WriteFile(path, stdout.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return stdout.String(), path
}

// shellOutput runs a shell command line and returns its stdout.
func shellOutput(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).Output()
	if err != nil {
		var stderr []byte
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = ee.Stderr
		}
		t.Fatalf("%s %q: %v\n%s", name, args, err, stderr)
	}
	return string(out)
}

func TestCompletionScriptsNameEveryFlagAndValue(t *testing.T) {
	flags := flagSpecs(model(t, &Options{}).Model)
	for _, shell := range shells {
		script, _ := completionScript(t, shell)
		for _, f := range flags {
			if !strings.Contains(script, "--"+f.long) && !strings.Contains(script, "-l "+f.long) {
				t.Errorf("%s completion lacks --%s", shell, f.long)
			}
			if f.short != "" && !strings.Contains(script, "-"+f.short+" ") && !strings.Contains(script, "-"+f.short+`"`) && !strings.Contains(script, "-s "+f.short+" ") {
				t.Errorf("%s completion lacks -%s", shell, f.short)
			}
			if len(f.choices) > 0 && !strings.Contains(script, strings.Join(f.choices, " ")) {
				t.Errorf("%s completion lacks the values of --%s: %v", shell, f.long, f.choices)
			}
		}
	}
}

// bashComplete runs the completion function the way bash does at <TAB>:
// COMP_WORDS as readline split the line, COMP_CWORD the word under the
// cursor. It returns COMPREPLY, one candidate a line.
func bashComplete(t *testing.T, script string, words ...string) []string {
	t.Helper()
	quoted := make([]string, len(words))
	for i, w := range words {
		quoted[i] = "'" + strings.ReplaceAll(w, "'", `'\''`) + "'"
	}
	line := "source " + script + "; COMP_WORDS=(" + strings.Join(quoted, " ") + "); COMP_CWORD=" +
		strconv.Itoa(len(words)-1) + "; _tcptop; if ((${#COMPREPLY[@]})); then printf '%s\\n' \"${COMPREPLY[@]}\"; fi"
	out := strings.TrimSuffix(shellOutput(t, "bash", "--norc", "--noprofile", "-c", line), "\n")
	if out == "" {
		return nil
	}
	return strings.Split(out, "\n")
}

// prefixed is each of names with head before it.
func prefixed(head string, names ...string) []string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = head + n
	}
	return out
}

func TestBashCompletion(t *testing.T) {
	testnet.RequireTool(t, "bash")
	_, path := completionScript(t, "bash")
	shellOutput(t, "bash", "-n", path)
	if got := shellOutput(t, "bash", "--norc", "-c", "source "+path+"; complete -p tcptop"); !strings.Contains(got, "-F _tcptop tcptop") {
		t.Errorf("the script does not register _tcptop: %q", got)
	}
	for _, tc := range []struct {
		words []string
		want  []string
	}{
		{[]string{"tcptop", "--ou"}, []string{"--output"}},
		{[]string{"tcptop", "--output", ""}, outputFormats()},
		{[]string{"tcptop", "-o", "nd"}, []string{"ndjson"}},
		{[]string{"tcptop", "--output", "=", "c"}, []string{"csv"}},
		{[]string{"tcptop", "--output", "="}, outputFormats()},
		{[]string{"tcptop", "--hooks", ""}, source.HookPaths()},
		{[]string{"tcptop", "--completion", "="}, shells},
		{[]string{"tcptop", "--interval", ""}, nil},
		{[]string{"tcptop", "-o", "ndjson", "--no"}, []string{"--no-header"}},
		// Field names, from the schema, for the name at the end of the word.
		{[]string{"tcptop", "--sort", ""}, conn.FieldNames()},
		{[]string{"tcptop", "--sort", "=", "-rtt"}, []string{"-rtt_us", "-rttvar_us"}},
		{[]string{"tcptop", "--fields", "pid,remote_p"}, []string{"pid,remote_port"}},
		{[]string{"tcptop", "--fields", "pid,co"}, []string{"pid,comm", "pid,container_id", "pid,community_id", "pid,connect_us"}}, // schema order
		{[]string{"tcptop", "--group-by", ""}, conn.GroupKeyNames()},
		{[]string{"tcptop", "--group-by", "comm,bytes_"}, nil}, // grouped rows sum them
		{[]string{"tcptop", "-w", "rtt_us>5000&&co"}, prefixed("rtt_us>5000&&", "comm", "container_id", "community_id", "connect_us")},
		{[]string{"tcptop", "--where", "'rtt_us > 0 && comm"}, prefixed("rtt_us > 0 && ", "comm", "community_id")},
	} {
		got := bashComplete(t, path, tc.words...)
		if !slices.Equal(got, tc.want) {
			t.Errorf("%q: completions %q, want %q", strings.Join(tc.words, " "), got, tc.want)
		}
	}
}

func TestZshCompletion(t *testing.T) {
	testnet.RequireTool(t, "zsh")
	_, path := completionScript(t, "zsh")
	shellOutput(t, "zsh", "-n", path)
	// Sourced after compinit, the script registers its function.
	got := shellOutput(t, "zsh", "-f", "-c", "autoload -Uz compinit && compinit -u -D && source "+path+" && print -r -- $_comps[tcptop]")
	if strings.TrimSpace(got) != "_tcptop" {
		t.Errorf("zsh: tcptop completes with %q, want _tcptop", got)
	}
}

func TestFishCompletion(t *testing.T) {
	testnet.RequireTool(t, "fish")
	_, path := completionScript(t, "fish")
	shellOutput(t, "fish", "--no-config", "-n", path)
	complete := func(line string) []string {
		out := shellOutput(t, "fish", "--no-config", "-c", "source "+path+"; complete -C "+fishQuote(line))
		var got []string
		for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
			c, _, _ := strings.Cut(l, "\t")
			got = append(got, c)
		}
		slices.Sort(got) // fish sorts its candidates
		return got
	}
	if got, want := complete("tcptop --output "), slices.Sorted(slices.Values(outputFormats())); !slices.Equal(got, want) {
		t.Errorf("fish: --output completes to %q, want %q", got, want)
	}
	if got := complete("tcptop --udp"); !slices.Equal(got, []string{"--udp-timeout"}) {
		t.Errorf("fish: --udp completes to %q", got)
	}
	for line, want := range map[string][]string{
		"tcptop --sort ":                       conn.FieldNames(),
		"tcptop --sort=-rtt_":                  {"--sort=-rtt_us"},
		"tcptop --fields pid,remote_p":         {"pid,remote_port"},
		"tcptop --group-by container_":         {"container_id"},
		"tcptop --where 'rtt_us>0&&container_": {"rtt_us>0&&container_id"},
		`tcptop --where "rtt_us > 0 && cgroup`: {"rtt_us > 0 && cgroup", "rtt_us > 0 && cgroup_id"},
	} {
		if got := complete(line); !slices.Equal(got, slices.Sorted(slices.Values(want))) {
			t.Errorf("fish: %q completes to %q, want %q", line, got, want)
		}
	}
	// Every description, of a flag or of a field, is one short line.
	for _, line := range []string{"tcptop -", "tcptop --sort "} {
		out := shellOutput(t, "fish", "--no-config", "-c", "source "+path+"; complete -C "+fishQuote(line))
		for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
			c, desc, _ := strings.Cut(l, "\t")
			if n := utf8.RuneCountInString(desc); n == 0 || n > maxSummary {
				t.Errorf("fish: %q has a description of %d characters, want 1 to %d: %q", c, n, maxSummary, desc)
			}
		}
	}
}

// TestCompletionFieldFlags: the flags whose values are field names are
// tagged with the schema list they take, and no tag names another.
func TestCompletionFieldFlags(t *testing.T) {
	app := model(t, &Options{}).Model
	got := map[string]string{}
	for _, f := range flagSpecs(app) {
		if f.names != "" {
			got[f.long] = f.names
		}
	}
	want := map[string]string{"where": "field", "sort": "field", "fields": "field", "group-by": "group-key"}
	if !maps.Equal(got, want) {
		t.Errorf("flags completing schema names %v, want %v", got, want)
	}
	for _, f := range app.Flags {
		if list := f.Tag.Get("complete"); list != "" && nameLists[list] == nil {
			t.Errorf("--%s: complete:%q names no list (%v)", f.Name, list, slices.Sorted(maps.Keys(nameLists)))
		}
	}
}

func TestShortLine(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"Stop after this many ticks (0: run until interrupted).", "Stop after this many ticks"},
		{"Output format: text (aligned columns), ndjson or csv.", "Output format"},
		{"Print a script and exit, e.g. source <(tcptop --completion=bash).", "Print a script and exit"},
		// A clause of a word or two is not enough on its own.
		{"TCP: segments received over the connection's life, the kernel's segs_in counter (as in ss -ti).", "TCP: segments received over the connection's life"},
		{"Process (thread group) ID that last sent or received on the socket, taken in process context; 0 if none.", "Process (thread group) ID that last sent or received on…"},
		{"Tick number, starting at 1.", "Tick number, starting at 1"},
	} {
		got := shortLine(tc.in)
		if got != tc.want {
			t.Errorf("shortLine(%q) = %q, want %q", tc.in, got, tc.want)
		}
		if n := utf8.RuneCountInString(got); n > maxSummary {
			t.Errorf("shortLine(%q) has %d characters, more than %d", tc.in, n, maxSummary)
		}
	}
}
