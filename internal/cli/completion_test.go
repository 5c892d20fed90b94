package cli

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/tcptop/tcptop/internal/emit"
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
// cursor.
func bashComplete(t *testing.T, script string, words ...string) []string {
	t.Helper()
	quoted := make([]string, len(words))
	for i, w := range words {
		quoted[i] = "'" + w + "'"
	}
	line := "source " + script + "; COMP_WORDS=(" + strings.Join(quoted, " ") + "); COMP_CWORD=" +
		strconv.Itoa(len(words)-1) + "; _tcptop; printf '%s\\n' \"${COMPREPLY[@]}\""
	return strings.Fields(shellOutput(t, "bash", "--norc", "--noprofile", "-c", line))
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
		{[]string{"tcptop", "--output", ""}, emit.Formats()},
		{[]string{"tcptop", "-o", "nd"}, []string{"ndjson"}},
		{[]string{"tcptop", "--output", "=", "c"}, []string{"csv"}},
		{[]string{"tcptop", "--output", "="}, emit.Formats()},
		{[]string{"tcptop", "--hooks", ""}, source.HookPaths()},
		{[]string{"tcptop", "--completion", "="}, shells},
		{[]string{"tcptop", "--interval", ""}, nil},
		{[]string{"tcptop", "-o", "ndjson", "--no"}, []string{"--no-header"}},
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
		out := shellOutput(t, "fish", "--no-config", "-c", "source "+path+"; complete -C '"+line+"'")
		var got []string
		for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
			c, _, _ := strings.Cut(l, "\t")
			got = append(got, c)
		}
		slices.Sort(got) // fish sorts its candidates
		return got
	}
	if got, want := complete("tcptop --output "), slices.Sorted(slices.Values(emit.Formats())); !slices.Equal(got, want) {
		t.Errorf("fish: --output completes to %q, want %q", got, want)
	}
	if got := complete("tcptop --udp"); !slices.Equal(got, []string{"--udp-timeout"}) {
		t.Errorf("fish: --udp completes to %q", got)
	}
}
