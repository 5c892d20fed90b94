package e2e_test

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tcptop/tcptop/internal/cli"
	"github.com/tcptop/tcptop/internal/conn"
	"github.com/tcptop/tcptop/internal/testnet"
)

// TestZshCompletesFieldNames types at an interactive zsh, in tmux, with
// the completion loaded the way a user loads it, presses Tab, and reads
// the screen: zsh's completion system runs only at a terminal.
func TestZshCompletesFieldNames(t *testing.T) {
	zsh := testnet.RequireTool(t, "zsh")
	var script, stderr bytes.Buffer
	if code := cli.Run([]string{"--completion=zsh"}, &script, &stderr); code != cli.ExitOK {
		t.Fatalf("--completion=zsh: exit %d: %s", code, stderr.String())
	}
	path := filepath.Join(t.TempDir(), "_tcptop")
	if err := os.WriteFile(path, script.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	tm := newTmux(t)
	tm.run("new-session", "-d", "-s", "screen", "-x", "160", "-y", "80", zsh, "-f")
	// LISTMAX=0: list without asking while the list fits the screen.
	// With the default (100) zsh asked first once --sort's candidates
	// (five per field) reached 280, the fields of 2026-12-07's listeners.
	tm.run("send-keys", "-t", "screen", "LISTMAX=0; PS1='$ '; autoload -Uz compinit && compinit -u -D && source "+path+" && clear", "Enter")
	tm.waitPane("the prompt", 10*time.Second, func(lines []string) bool { return slices.Contains(lines, "$") || slices.Contains(lines, "$ ") })
	tab := func(line string) {
		tm.run("send-keys", "-t", "screen", "C-u", "clear", "Enter")
		tm.waitPane("a clear screen", 10*time.Second, func(lines []string) bool { return strings.TrimSpace(lines[0]) == "$" })
		tm.run("send-keys", "-t", "screen", "-l", line)
		tm.run("send-keys", "-t", "screen", "Tab")
	}

	tab("tcptop --sort ")
	tm.waitPane("every field name listed", 10*time.Second, func(lines []string) bool {
		listed := map[string]bool{}
		for _, l := range lines {
			if name, _, ok := strings.Cut(l, " -- "); ok {
				listed[strings.TrimSpace(name)] = true
			}
		}
		for _, n := range conn.FieldNames() {
			if !listed[n] {
				return false
			}
		}
		return true
	})
	for line, want := range map[string]string{
		"tcptop --fields pid,remote_p":               "tcptop --fields pid,remote_port",
		"tcptop --sort=-rtt_u":                       "tcptop --sort=-rtt_us",
		"tcptop --group-by=container_":               "tcptop --group-by=container_id",
		"tcptop --where 'rtt_us > 0 && container_":   "tcptop --where 'rtt_us > 0 && container_id'", // zsh closes the quote
		"tcptop --where 'rtt_us > 0' --group-by cgr": "tcptop --where 'rtt_us > 0' --group-by cgroup",
	} {
		tab(line)
		tm.waitPane(want, 10*time.Second, func(lines []string) bool {
			return strings.TrimRight(lines[0], " ") == "$ "+want
		})
	}
}
