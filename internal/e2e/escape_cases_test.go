package e2e_test

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tcptop/tcptop/internal/testnet"
)

// TestHostileNamesEscaped: a process named with a terminal escape, a
// backslash and invalid UTF-8, in a cgroup whose directory name holds the
// same, shows in CSV, NDJSON and text with both escaped \xNN (as
// docs/security.md says), and no raw control byte reaches stdout.
func TestHostileNamesEscaped(t *testing.T) {
	requireRoot(t)
	const leaf = "tt_evil\x1b[31m\xff"
	cg := testnet.NewCgroup(t, leaf)
	wantComm := `tt\x1b[2J\x5c\xffx`
	wantCgroup := strings.TrimSuffix(cg.Path, leaf) + `tt_evil\x1b[31m\xff`
	const out, in = 1111, 2222
	where := fmt.Sprintf("cgroup_id == %d", cg.ID)
	tts := map[string]*running{}
	for _, format := range []string{"csv", "ndjson", "text"} {
		tts[format] = startTcptop(t, "-o", format, "-i", "200ms", "--where", where, "--fields", "comm,cgroup,bytes_out,bytes_in")
	}
	for _, tt := range tts {
		tt.waitReady(t)
	}
	srv := testnet.Start(t, "tt-esrv", "", "tcp-server", "127.0.0.1:0", strconv.Itoa(out), strconv.Itoa(in))
	defer srv.Release()
	cl := testnet.Start(t, "tt\x1b[2J\\\xffx", "", "tcp-client-gated", "127.0.0.1:"+strconv.Itoa(srv.Port), strconv.Itoa(freePort(t)), strconv.Itoa(out), strconv.Itoa(in))
	defer cl.Release()
	cg.Add(t, cl.PID())
	cl.Say(t, "go")

	tts["csv"].waitLine(t, 20*time.Second, func(l string) bool {
		return l == fmt.Sprintf("%s,%s,%d,%d", wantComm, wantCgroup, out, in)
	})
	tts["ndjson"].waitLine(t, 20*time.Second, func(l string) bool {
		var r map[string]any
		return json.Unmarshal([]byte(l), &r) == nil && r["comm"] == wantComm && r["cgroup"] == wantCgroup && r["bytes_out"] == float64(out)
	})
	tts["text"].waitLine(t, 20*time.Second, func(l string) bool {
		f := strings.Fields(l)
		return len(f) == 4 && f[0] == wantComm && f[1] == wantCgroup && f[2] == "1.1KiB"
	})
	for format, tt := range tts {
		tt.stop(t, syscall.SIGTERM)
		// Named: the flake seen once said "stderr" whichever it was.
		checkNoControlBytes(t, format+" stdout", strings.Join(tt.snapshot(), "\n")+"\n")
		checkNoControlBytes(t, format+" stderr", tt.stderr.String())
		if t.Failed() {
			t.Logf("%s:\n%s", format, strings.Join(tt.snapshot(), "\n"))
		}
	}
}

// TestScreenEscapesHostileNames: on the live screen in a real terminal
// (tmux), a process named with an ESC[2J (clear the screen), a
// backslash and invalid UTF-8 shows escaped, as in every format, and the
// terminal acts on none of it.
func TestScreenEscapesHostileNames(t *testing.T) {
	requireRoot(t)
	tm := newTmux(t)
	sink := testnet.Start(t, "tt-esink", "", "tcp-sink", "127.0.0.1:0")
	defer sink.Release()
	talker := testnet.Start(t, "tt\x1b[2J\\\xffx", "", "tcp-paced", "127.0.0.1:"+strconv.Itoa(sink.Port), "40000")
	defer talker.Release()
	r := startScreenAt(t, tm, 160, 30, "", "-i", "300ms", "-p", strconv.Itoa(talker.PID()))
	lines := tm.waitPane("the escaped name", 20*time.Second, func(lines []string) bool {
		for _, row := range screenRows(lines) {
			if slices.Contains(strings.Fields(row), `tt\x1b[2J\x5c\xffx`) {
				return true
			}
		}
		return false
	})
	if !strings.Contains(lines[0], "tcptop") {
		t.Errorf("the status line is gone (the screen was cleared?):\n%s", strings.Join(lines, "\n"))
	}
	tm.run("send-keys", "-t", "screen", "q")
	r.exited(t, false)
}
