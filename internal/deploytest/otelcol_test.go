package deploytest

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tcptop/tcptop/internal/testnet"
)

// TestOTelCollectorRecipe runs the collector built from docs/recipes/otelcol
// with its config.yaml, tcptop appending NDJSON to the file the filelog
// receiver tails, and checks the known transfer's closing record arrives
// as a log record with tcptop's fields as typed attributes and tcptop's
// timestamp as its time. Building the collector takes minutes, so the
// test runs under `make test-recipes`, which builds it and names it in
// OTELCOL_BIN.
func TestOTelCollectorRecipe(t *testing.T) {
	otelcol := os.Getenv("OTELCOL_BIN")
	if otelcol == "" {
		t.Skip("OTELCOL_BIN not set: make test-recipes builds the collector and runs this test")
	}
	testnet.RequireRoot(t)
	ndjson := filepath.Join(t.TempDir(), "flows.ndjson")
	file, err := os.OpenFile(ndjson, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer file.Close()

	col := exec.Command(otelcol, "--config", filepath.Join(repoRoot, "docs/recipes/otelcol/config.yaml"))
	col.Env = append(os.Environ(), "OTELCOL_TCPTOP_FILE="+ndjson)
	colOut := newOutput(t, "otelcol.log")
	col.Stdout, col.Stderr = colOut.File, colOut.File
	stopCol := startStoppable(t, col, "otelcol")
	eventually(t, 30*time.Second, func() bool { return strings.Contains(colOut.String(), "Everything is ready") },
		func() string { return "collector did not start: " + colOut.String() })

	tt := exec.Command(tcptopBin, "--output=ndjson", "--interval=200ms", "--verbose")
	ttErr := newOutput(t, "tcptop.err")
	tt.Stdout, tt.Stderr = file, ttErr.File
	stopTcptop := startStoppable(t, tt, "tcptop")
	eventually(t, 10*time.Second, func() bool { return strings.Contains(ttErr.String(), "tcptop: attached") },
		func() string { return "tcptop did not attach: " + ttErr.String() })

	tr := knownTransfer(t)
	var rec logRecord
	eventually(t, 15*time.Second, func() bool {
		for _, r := range debugLogRecords(colOut.String()) {
			if r.attrs["local_port"] == "Int("+strconv.Itoa(tr.client.Port)+")" && r.attrs["closed"] == "Bool(true)" {
				rec = r
				return true
			}
		}
		return false
	}, func() string { return "no log record of the transfer's close; collector said: " + colOut.String() })
	stopTcptop()
	stopCol()
	t.Logf("the debug exporter printed:\n%s", rec.text)

	want := map[string]string{
		"proto": "Str(tcp)", "remote_port": "Int(" + strconv.Itoa(tr.serverPort) + ")",
		"bytes_out": "Int(" + strconv.Itoa(tr.bytesOut) + ")", "bytes_in": "Int(" + strconv.Itoa(tr.bytesIn) + ")",
		"pid": "Int(" + strconv.Itoa(tr.client.PID()) + ")", "comm": "Str(tt-deploy)", "closed": "Bool(true)",
	}
	for k, v := range want {
		if rec.attrs[k] != v {
			t.Errorf("attribute %s = %q, want %q", k, rec.attrs[k], v)
		}
	}
	stamp := parseTimestamp(t, strings.TrimSuffix(strings.TrimPrefix(rec.attrs["timestamp"], "Str("), ")"))
	// The debug exporter prints the record's time as Go's time.String.
	got, err := time.Parse("2006-01-02 15:04:05.999999999 -0700 MST", rec.timestamp)
	if err != nil || !got.Equal(stamp) {
		t.Errorf("record time %q (%v), want the tcptop timestamp %v", rec.timestamp, err, stamp)
	}
}

// logRecord is one "LogRecord #N" block of the debug exporter's detailed
// output.
type logRecord struct {
	text      string
	timestamp string
	attrs     map[string]string // name → Type(value)
}

var (
	recordStart = regexp.MustCompile(`(?m)^LogRecord #\d+$`)
	timeLine    = regexp.MustCompile(`(?m)^Timestamp: (.+)$`)
	attrLine    = regexp.MustCompile(`(?m)^\s+-> ([\w.]+): (\w+\(.*\))$`)
)

// debugLogRecords parses every log record the debug exporter printed.
func debugLogRecords(out string) []logRecord {
	var recs []logRecord
	starts := recordStart.FindAllStringIndex(out, -1)
	for i, s := range starts {
		end := len(out)
		if i+1 < len(starts) {
			end = starts[i+1][0]
		}
		block := out[s[0]:end]
		if j := strings.Index(block, "\nTrace ID:"); j >= 0 {
			block = block[:j]
		}
		r := logRecord{text: block, attrs: map[string]string{}}
		if m := timeLine.FindStringSubmatch(block); m != nil {
			r.timestamp = m[1]
		}
		for _, m := range attrLine.FindAllStringSubmatch(block, -1) {
			r.attrs[m[1]] = m[2]
		}
		recs = append(recs, r)
	}
	return recs
}
