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
// microsecond: with syslog-ng as root, as Debian runs it, and as nobody
// with tcptop holding the file capabilities the recipe names. Without
// them, tcptop's own error must arrive instead of vanishing.
func TestSyslogNGRecipe(t *testing.T) {
	testnet.RequireRoot(t)
	syslogng := testnet.RequireTool(t, "syslog-ng")
	recipe, err := os.ReadFile(filepath.Join(repoRoot, "docs/recipes/syslog-ng.conf"))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Count(string(recipe), recipeLogPath) != 1 {
		t.Fatalf("the recipe should name %s once, as its destination", recipeLogPath)
	}
	setcapLine := regexp.MustCompile(`setcap (cap_\S+\+ep) /usr/local/bin/tcptop`).FindSubmatch(recipe)

	t.Run("root", func(t *testing.T) {
		s := startSyslogNG(t, syslogng, string(recipe), tcptopBin, "")
		checkSyslogNGTransfer(t, s)
	})
	t.Run("nobody", func(t *testing.T) {
		if setcapLine == nil {
			t.Fatal("the recipe does not say which capabilities to give tcptop for a syslog-ng that is not root (setcap ... /usr/local/bin/tcptop)")
		}
		setpriv := testnet.RequireTool(t, "setpriv")
		bin := tcptopCopy(t, reachableDir(t), testnet.RequireTool(t, "setcap"), string(setcapLine[1]))
		s := startSyslogNG(t, syslogng, string(recipe), bin, setpriv)
		checkSyslogNGTransfer(t, s)
	})
	t.Run("nobody_without_capabilities", func(t *testing.T) {
		setpriv := testnet.RequireTool(t, "setpriv")
		bin := tcptopCopy(t, reachableDir(t), testnet.RequireTool(t, "setcap"), "")
		s := startSyslogNG(t, syslogng, string(recipe), bin, setpriv)
		eventually(t, 15*time.Second, func() bool {
			return s.find(func(r map[string]any) bool { return strings.Contains(fmt.Sprint(r["log"]), "tcptop: missing CAP_BPF") }) != nil
		}, func() string {
			return "tcptop's error did not reach the destination; it wrote: " + readFileString(s.out) + "; syslog-ng said: " + s.logs.String()
		})
		s.stop()
		requireNoTcptopLeft(t, bin)
	})
}

// syslogNG is a running syslog-ng with the recipe.
type syslogNG struct {
	out  string // the recipe's destination
	bin  string // the tcptop it starts
	logs output
	stop func()
}

// startSyslogNG runs the recipe with tcptop bin first in PATH; as nobody
// (as a unit with User= would) if setpriv is not empty.
func startSyslogNG(t *testing.T, syslogng, recipe, bin, setpriv string) *syslogNG {
	t.Helper()
	dir := reachableDir(t)
	if setpriv != "" {
		if err := os.Chown(dir, 65534, 65534); err != nil {
			t.Fatal(err)
		}
	}
	s := &syslogNG{out: filepath.Join(dir, "flows.json"), bin: bin, logs: newOutput(t, "syslog-ng.log")}
	writeFile(t, filepath.Join(dir, "tcptop.conf"), strings.Replace(recipe, recipeLogPath, s.out, 1))
	// As Debian's syslog-ng.conf does: a version line, then the snippet.
	conf := filepath.Join(dir, "syslog-ng.conf")
	writeFile(t, conf, fmt.Sprintf("@version: %s\n@include %q\n", syslogngConfigVersion(t, syslogng), filepath.Join(dir, "tcptop.conf")))
	// The recipe runs "tcptop" from PATH; the interval comes from the
	// environment, as a service's would.
	path := filepath.Join(dir, "bin")
	if err := os.Mkdir(path, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(bin, filepath.Join(path, "tcptop")); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(syslogng, "-F", "-f", conf, "-R", filepath.Join(dir, "persist"),
		"-p", filepath.Join(dir, "pid"), "-c", filepath.Join(dir, "ctl"))
	if setpriv != "" {
		cmd = exec.Command(setpriv, append([]string{"--reuid=65534", "--regid=65534", "--clear-groups"}, cmd.Args...)...)
	}
	cmd.Env = append(os.Environ(), "PATH="+path+":"+os.Getenv("PATH"), "TCPTOP_INTERVAL=200ms")
	cmd.Stdout, cmd.Stderr = s.logs.File, s.logs.File
	s.stop = startStoppable(t, cmd, "syslog-ng")
	return s
}

// find returns the first record written whose "tcptop" object matches.
func (s *syslogNG) find(match func(rec map[string]any) bool) map[string]any {
	for _, rec := range readJSONLines(s.out) {
		if r, ok := rec["tcptop"].(map[string]any); ok && match(r) {
			return rec
		}
	}
	return nil
}

// checkSyslogNGTransfer waits for tcptop to attach, makes the known
// transfer and checks its record, then stops syslog-ng.
func checkSyslogNGTransfer(t *testing.T, s *syslogNG) {
	t.Helper()
	hold := testnet.HeldClient(t, "tt-holdsrv", "tt-hold")
	// The held connection's record says tcptop is attached.
	port := func(r map[string]any, key string, want int) bool { return fmt.Sprint(r[key]) == fmt.Sprint(want) }
	eventually(t, 15*time.Second, func() bool {
		return s.find(func(r map[string]any) bool { return port(r, "local_port", hold.Port) }) != nil
	}, func() string {
		return "no record of the held connection; written: " + readFileString(s.out) + "; syslog-ng said: " + s.logs.String()
	})

	tr := knownTransfer(t)
	var rec map[string]any
	eventually(t, 10*time.Second, func() bool {
		rec = s.find(func(r map[string]any) bool {
			return port(r, "local_port", tr.client.Port) && fmt.Sprint(r["closed"]) == "true"
		})
		return rec != nil
	}, func() string { return "no closed record of the transfer; syslog-ng said: " + s.logs.String() })
	s.stop()
	requireNoTcptopLeft(t, s.bin)
	if l := s.find(func(r map[string]any) bool { return r["log"] != nil }); l != nil {
		t.Errorf("tcptop said: %v", l)
	}

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

func readFileString(path string) string {
	b, _ := os.ReadFile(path)
	return string(b)
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
func readJSONLines(path string) []map[string]any {
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
