package cli

import (
	"bytes"
	"os/exec"
	"strings"
	"testing"

	"github.com/tcptop/tcptop/internal/conn"
	"github.com/tcptop/tcptop/internal/testnet"
)

func TestManPageHasEveryFlagVariableFieldAndExitCode(t *testing.T) {
	var b bytes.Buffer
	if err := WriteManPage(&b); err != nil {
		t.Fatal(err)
	}
	page := b.String()
	want := []string{".TH TCPTOP 1", ".SH SYNOPSIS", ".SH OPTIONS", ".SH ENVIRONMENT", ".SH OUTPUT FIELDS", ".SH EXIT STATUS", ".SH EXAMPLES"}
	for _, f := range flagSpecs(model(t, &Options{}).Model) {
		want = append(want, `\fB\-\-`+roff(f.long)+`\fR`)
		if f.env != "" {
			want = append(want, `\fB`+roff(f.env)+`\fR`)
		}
	}
	for _, f := range conn.Fields {
		want = append(want, ".B "+f.Name+"\n")
	}
	for _, s := range want {
		if !strings.Contains(page, s) {
			t.Errorf("man page lacks %q", s)
		}
	}
	exits := page[strings.Index(page, ".SH EXIT STATUS"):]
	exits = exits[:strings.Index(exits, ".SH EXAMPLES")]
	for _, code := range []string{"0 ok", "1 runtime error", "2 usage error"} {
		if !strings.Contains(strings.Join(strings.Fields(exits), " "), code) {
			t.Errorf("EXIT STATUS lacks %q:\n%s", code, exits)
		}
	}
}

// The page renders without a single groff warning, and the rendered text
// shows options the way a reader types them.
func TestManPageRenders(t *testing.T) {
	testnet.RequireTool(t, "groff")
	var b bytes.Buffer
	if err := WriteManPage(&b); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("groff", "-man", "-Tascii", "-ww", "-P-cbou")
	cmd.Stdin = &b
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil || stderr.Len() > 0 {
		t.Fatalf("groff: %v: %s", err, stderr.String())
	}
	text := stdout.String()
	for _, s := range []string{"--udp-timeout=DURATION", "--output=text|ndjson|csv", "TCPTOP_UDP_TIMEOUT", "EXIT STATUS"} {
		if !strings.Contains(text, s) {
			t.Errorf("rendered page lacks %q", s)
		}
	}
}
