package e2e_test

import (
	"bufio"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tcptop/tcptop/internal/testnet"
)

// At the shortest interval, into a regular file, every tick is written
// (a file has no reader to fall behind: a tick is never joined for it)
// and stderr says nothing of a slow reader.
func TestFloorIntervalToFileJoinsNoTick(t *testing.T) {
	requireRoot(t)
	const ticks = 300
	testnet.HeldClient(t, "tt-server", "tt-client") // rows every tick
	out, err := os.Create(filepath.Join(t.TempDir(), "flows.ndjson"))
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	cmd := exec.Command(tcptopBin, "-o", "ndjson", "-i", "10ms", "-n", "300")
	var stderr syncBuffer
	cmd.Stdout, cmd.Stderr = out, &stderr
	if code := exitCodeOf(cmd.Run()); code != 0 {
		t.Fatalf("exit %d; stderr %s", code, stderr.String())
	}
	if strings.Contains(stderr.String(), "fell behind") {
		t.Errorf("a regular file taken for a slow reader: %s", stderr.String())
	}
	seen := map[float64]bool{}
	if _, err := out.Seek(0, 0); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(out)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var rec map[string]any
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			t.Fatalf("not a JSON line: %q", sc.Text())
		}
		seen[rec["tick"].(float64)] = true
	}
	for n := 1; n <= ticks; n++ {
		if !seen[float64(n)] {
			t.Fatalf("tick %d has no row (%d ticks with rows): joined for a file", n, len(seen))
		}
	}
}

// A reader that takes a little now and then, always behind a tick every
// 10 ms: ticks are joined, and stderr says so once, not at every tick
// written after a join.
func TestSlowReaderNotedOnce(t *testing.T) {
	requireRoot(t)
	testnet.HeldClient(t, "tt-server", "tt-client")
	p := startPiped(t, 4096, "-o", "ndjson", "-i", "10ms")
	held := programsOf(t, p.cmd.Process.Pid)
	buf := make([]byte, 512)
	for end := time.Now().Add(4 * time.Second); time.Now().Before(end); {
		if _, err := p.r.Read(buf); err != nil {
			t.Fatal(err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	go func() { _, _ = bufio.NewReader(p.r).WriteTo(io.Discard) }()
	if code := p.exited(t, 30*time.Second); code != 0 {
		t.Errorf("exit %d after SIGTERM, want 0; stderr %s", code, p.stderr.String())
	}
	if n := strings.Count(p.stderr.String(), "the reader of stdout fell behind"); n != 1 {
		t.Errorf("%d lines about the slow reader in 4 s, want 1 (at most one a minute): %s", n, p.stderr.String())
	}
	requireProgramsGone(t, held)
}
