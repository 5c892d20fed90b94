package deploytest

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/tcptop/tcptop/internal/testnet"
)

// recipeLogPath is where docs/recipes/syslog-ng.conf writes; the test
// writes to its own directory instead, and changes nothing else.
const recipeLogPath = "/var/log/tcptop/flows.json"

// TestSyslogNGRecipe runs syslog-ng with the recipe, which starts tcptop
// itself, and checks that a known transfer's closing record arrives with
// its exact counters, its owner and its timestamp parsed to the
// microsecond.
func TestSyslogNGRecipe(t *testing.T) {
	testnet.RequireRoot(t)
	syslogng := testnet.RequireTool(t, "syslog-ng")
	dir := t.TempDir()
	out := filepath.Join(dir, "flows.json")

	recipe, err := os.ReadFile(filepath.Join(repoRoot, "docs/recipes/syslog-ng.conf"))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Count(string(recipe), recipeLogPath) != 1 {
		t.Fatalf("the recipe should name %s once, as its destination", recipeLogPath)
	}
	writeFile(t, filepath.Join(dir, "tcptop.conf"), strings.Replace(string(recipe), recipeLogPath, out, 1))
	// As Debian's syslog-ng.conf does: a version line, then the snippet.
	conf := filepath.Join(dir, "syslog-ng.conf")
	writeFile(t, conf, fmt.Sprintf("@version: %s\n@include %q\n", syslogngConfigVersion(t, syslogng), filepath.Join(dir, "tcptop.conf")))
	// The recipe runs "tcptop" from PATH; the interval comes from the
	// environment, as a service's would.
	bin := filepath.Join(dir, "bin")
	if err := os.Mkdir(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(tcptopBin, filepath.Join(bin, "tcptop")); err != nil {
		t.Fatal(err)
	}

	hold := testnet.HeldClient(t, "tt-holdsrv", "tt-hold")
	cmd := exec.Command(syslogng, "-F", "-f", conf, "-R", filepath.Join(dir, "persist"),
		"-p", filepath.Join(dir, "pid"), "-c", filepath.Join(dir, "ctl"))
	cmd.Env = append(os.Environ(), "PATH="+bin+":"+os.Getenv("PATH"), "TCPTOP_INTERVAL=200ms")
	logs := newOutput(t, "syslog-ng.log")
	cmd.Stdout, cmd.Stderr = logs.File, logs.File
	stop := startStoppable(t, cmd, "syslog-ng")

	// The held connection's record says tcptop is attached.
	find := func(match func(rec map[string]any) bool) map[string]any {
		for _, rec := range readJSONLines(t, out) {
			if r, ok := rec["tcptop"].(map[string]any); ok && match(r) {
				return rec
			}
		}
		return nil
	}
	port := func(r map[string]any, key string, want int) bool { return fmt.Sprint(r[key]) == fmt.Sprint(want) }
	eventually(t, 15*time.Second, func() bool {
		return find(func(r map[string]any) bool { return port(r, "local_port", hold.Port) }) != nil
	}, func() string { return "no record of the held connection; syslog-ng said: " + logs.String() })

	tr := knownTransfer(t)
	var rec map[string]any
	eventually(t, 10*time.Second, func() bool {
		rec = find(func(r map[string]any) bool {
			return port(r, "local_port", tr.client.Port) && fmt.Sprint(r["closed"]) == "true"
		})
		return rec != nil
	}, func() string { return "no closed record of the transfer; syslog-ng said: " + logs.String() })
	stop()
	requireNoTcptopLeft(t)

	r := rec["tcptop"].(map[string]any)
	t.Logf("record written by syslog-ng: %v", rec)
	want := map[string]any{
		"proto": "tcp", "remote_port": tr.serverPort, "bytes_out": tr.bytesOut, "bytes_in": tr.bytesIn,
		"pid": tr.client.PID(), "comm": "tt-deploy", "closed": true,
	}
	for k, v := range want {
		// syslog-ng 3.x writes every value as a string, 4.x keeps JSON types.
		if fmt.Sprint(r[k]) != fmt.Sprint(v) {
			t.Errorf("%s = %v, want %v", k, r[k], v)
		}
	}
	// The date-parser made the record's own timestamp the message's time,
	// to the microsecond.
	iso, _ := rec["time"].(string)
	if !regexp.MustCompile(`\.\d{6}\+00:00$`).MatchString(iso) {
		t.Errorf("time %q: want six fraction digits in UTC", iso)
	}
	got, err := time.Parse(time.RFC3339Nano, iso)
	if stamp := parseTimestamp(t, fmt.Sprint(r["timestamp"])); err != nil || !got.Equal(stamp) {
		t.Errorf("message time %q (%v), want the record's timestamp %v", iso, err, stamp)
	}
}

// syslogngConfigVersion is the "Config version" syslog-ng --version prints.
func syslogngConfigVersion(t *testing.T, syslogng string) string {
	t.Helper()
	out, err := exec.Command(syslogng, "--version").Output()
	if err != nil {
		t.Fatalf("syslog-ng --version: %v", err)
	}
	m := regexp.MustCompile(`(?m)^Config version: (\S+)`).FindSubmatch(out)
	if m == nil {
		t.Fatalf("no config version in %q", out)
	}
	return string(m[1])
}

// readJSONLines decodes each complete line of path; a missing file is
// empty.
func readJSONLines(t *testing.T, path string) []map[string]any {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	var recs []map[string]any
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			continue // a line still being written
		}
		recs = append(recs, m)
	}
	return recs
}
