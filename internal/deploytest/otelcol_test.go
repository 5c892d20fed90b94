package deploytest

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tcptop/tcptop/internal/testnet"
)

// TestOTelCollectorRecipe runs the collector built from docs/recipes/otelcol
// with its config.yaml as packaged collectors run, an unprivileged user,
// and tcptop as the unit runs it (a user of its own with the unit's
// ambient capabilities) appending NDJSON to the file the recipe's drop-in
// and tmpfiles lines set up; it checks the known transfer's closing record
// arrives as a log record with tcptop's fields as typed attributes and
// tcptop's timestamp as its time. Building the collector takes minutes, so
// the test runs under `make test-recipes`, which builds it and names it in
// OTELCOL_BIN.
func TestOTelCollectorRecipe(t *testing.T) {
	otelcol := os.Getenv("OTELCOL_BIN")
	if otelcol == "" {
		t.Skip("OTELCOL_BIN not set: make test-recipes builds the collector and runs this test")
	}
	testnet.RequireRoot(t)
	dir := reachableDir(t)
	ndjson := serviceFile(t, dir)
	file, err := os.OpenFile(ndjson, os.O_WRONLY|os.O_APPEND, 0) // as systemd does, as root
	if err != nil {
		t.Fatal(err)
	}
	defer file.Close()

	config := filepath.Join(dir, "config.yaml")
	b, err := os.ReadFile(filepath.Join(repoRoot, "docs/recipes/otelcol/config.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, config, string(b))
	col := exec.Command(otelcol, "--config", config)
	col.Env = append(os.Environ(), "OTELCOL_TCPTOP_FILE="+ndjson)
	col.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: collectorUID, Gid: collectorGID}}
	colOut := newOutput(t, "otelcol.log")
	col.Stdout, col.Stderr = colOut.File, colOut.File
	stopCol := startStoppable(t, col, "otelcol")
	eventually(t, 30*time.Second, func() bool { return strings.Contains(colOut.String(), "Everything is ready") },
		func() string { return "collector did not start: " + colOut.String() })

	tt := exec.Command(tcptopBin, "--output=ndjson", "--interval=200ms", "--verbose")
	tt.SysProcAttr = &syscall.SysProcAttr{
		Credential:  &syscall.Credential{Uid: serviceUID, Gid: serviceUID},
		AmbientCaps: unitCaps(t),
	}
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

// The users of the test's services: a collector's own (nobody, its group
// standing for otelcol-contrib's) and one from the range DynamicUser=
// allocates from, for tcptop.
const (
	collectorUID, collectorGID = 65534, 65534
	serviceUID                 = 61234
)

// serviceFile sets up, under root, the file the recipe's drop-in has the
// tcptop service append to, as its tmpfiles lines say, with the
// collector's group standing for theirs; it returns the file's path.
func serviceFile(t *testing.T, root string) string {
	t.Helper()
	var out, stderr []string
	for _, l := range confLines(t, "docs/recipes/otelcol/tcptop-file.conf") {
		if v, ok := strings.CutPrefix(l, "StandardOutput=append:"); ok {
			out = append(out, v)
		}
		if v, ok := strings.CutPrefix(l, "StandardError="); ok {
			stderr = append(stderr, v)
		}
	}
	if len(out) != 1 || !slices.Equal(stderr, []string{"journal"}) {
		t.Fatalf("the drop-in should set StandardOutput=append:FILE and StandardError=journal once each: %v, %v", out, stderr)
	}
	made := false
	for _, l := range confLines(t, "docs/recipes/otelcol/tcptop.tmpfiles.conf") {
		f := strings.Fields(l)
		if len(f) < 5 || (f[0] != "d" && f[0] != "f") {
			t.Fatalf("tmpfiles line %q: want d or f, path, mode, user, group", l)
		}
		mode, err := strconv.ParseUint(f[2], 8, 32)
		if err != nil || f[3] != "root" {
			t.Fatalf("tmpfiles line %q: want an octal mode and user root", l)
		}
		path := filepath.Join(root, f[1])
		if f[0] == "d" {
			err = os.MkdirAll(path, 0o755) // the folders above it: for all to reach
		} else {
			err = os.WriteFile(path, nil, 0o600)
			made = made || f[1] == out[0]
		}
		if err == nil {
			err = os.Chown(path, 0, collectorGID)
		}
		if err == nil {
			err = os.Chmod(path, os.FileMode(mode))
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if !made {
		t.Fatalf("the tmpfiles lines do not create %s, the drop-in's file", out[0])
	}
	return filepath.Join(root, out[0])
}

// confLines are the lines of a file of the repository that are not
// blank or comments.
func confLines(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot, path))
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, l := range strings.Split(string(b), "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") && !strings.HasPrefix(l, "[") {
			lines = append(lines, l)
		}
	}
	return lines
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
