package e2e_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"net/netip"
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

	"github.com/tcptop/tcptop/internal/cli"
	"github.com/tcptop/tcptop/internal/conn"
	"github.com/tcptop/tcptop/internal/testnet"
)

// TestFleetUsageErrors: bad --fields, --group-by, --header, --time-format
// and --log-format values exit 2 before anything is attached, naming the
// problem (and, for field names, the valid ones).
func TestFleetUsageErrors(t *testing.T) {
	allNames := strings.Join(conn.FieldNames(), ", ")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--fields", "comm,bogus"}, `tcptop: --fields: unknown field "bogus" (valid: ` + allNames + `) (see tcptop --help)` + "\n"},
		{[]string{"--fields", "comm,comm"}, "tcptop: --fields: comm named twice (see tcptop --help)\n"},
		{[]string{"--fields=,comm"}, "tcptop: --fields: an empty item in \",comm\" (want FIELD,FIELD,...) (see tcptop --help)\n"},
		{[]string{"--group-by", "bogus"}, `tcptop: --group-by: unknown field "bogus" (valid: proto, family,`},
		{[]string{"--group-by", "bytes_in"}, "tcptop: --group-by: cannot group by bytes_in: grouped rows sum it"},
		{[]string{"--group-by", "comm", "--fields", "comm,pid"}, `tcptop: --fields: unknown field "pid" (valid: timestamp, tick, comm, connections, bytes_in,`},
		{[]string{"--header", "sometimes"}, "--header"},
		{[]string{"--time-format", "iso"}, "--time-format"},
		{[]string{"--log-format", "xml"}, "--log-format"},
		{[]string{"--no-header", "--header", "always"}, "tcptop: --no-header and --header=always contradict each other\n"},
		{[]string{"--group-by", "comm", "--sort", "comm"}, "--sort orders flow rows: grouped rows (--group-by) are ordered by rate, then key"},
		{[]string{"--fields", "comm", "--screen", "always"}, "the live screen shows flows in columns of its own"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			// -n 1: should a case be accepted, it ends after a tick.
			if code := cli.Run(append(tc.args, "-n", "1", "-i", "10ms"), &stdout, &stderr); code != cli.ExitUsage {
				t.Errorf("exit %d, want %d; stderr %s", code, cli.ExitUsage, stderr.String())
			}
			if stdout.Len() != 0 || !strings.HasPrefix(stderr.String(), "tcptop: ") || !strings.Contains(stderr.String(), tc.want) {
				t.Errorf("stdout %q, stderr %q; want it to contain %q", stdout.String(), stderr.String(), tc.want)
			}
		})
	}
}

// TestUsageErrorAsJSON: with --log-format=json even a usage error is one
// JSON object.
func TestUsageErrorAsJSON(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := cli.Run([]string{"--log-format=json", "--fields", "bogus"}, &stdout, &stderr); code != cli.ExitUsage {
		t.Fatalf("exit %d", code)
	}
	line := checkJSONLogs(t, stderr.String(), 1)[0]
	if line["level"] != "error" || !strings.HasPrefix(line["msg"].(string), `--fields: unknown field "bogus"`) {
		t.Errorf("line %v", line)
	}
}

var logTime = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$`)

// checkJSONLogs checks that every line of stderr is a JSON object with
// time, level and msg (at least n lines), and returns them.
func checkJSONLogs(t *testing.T, stderr string, n int) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, l := range strings.Split(strings.TrimSuffix(stderr, "\n"), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("stderr line is not JSON: %q: %v", l, err)
		}
		if !logTime.MatchString(fmt.Sprint(m["time"])) || !strings.Contains("error warn info", fmt.Sprint(m["level"])) || m["msg"] == nil {
			t.Errorf("line without time, level or msg: %q", l)
		}
		out = append(out, m)
	}
	if len(out) < n {
		t.Fatalf("%d lines on stderr, want at least %d: %q", len(out), n, stderr)
	}
	return out
}

// rowsWhere returns the records (not stats) for which match is true.
func rowsWhere(recs []map[string]any, match func(map[string]any) bool) []map[string]any {
	var out []map[string]any
	for _, r := range recs {
		if r["type"] == nil && match(r) {
			out = append(out, r)
		}
	}
	return out
}

// TestSameTupleTwoNamespacesTwoCgroups: two clients in two network
// namespaces, each moved into a cgroup of its own before it connects,
// with the same 5-tuple (127.0.0.1:40404 → 127.0.0.1:8080), are two rows,
// each with its namespace, cgroup and exact bytes.
func TestSameTupleTwoNamespacesTwoCgroups(t *testing.T) {
	requireRoot(t)
	type side struct {
		ns      string
		netns   uint64
		cg      *testnet.Cgroup
		out, in int
		client  *testnet.Helper
	}
	sides := []*side{{out: 1111, in: 2222}, {out: 3333, in: 4444}}
	for i, s := range sides {
		s.ns, s.netns = testnet.Netns(t, "tt-f")
		s.cg = testnet.NewCgroup(t, string(rune('a'+i)))
	}
	where := fmt.Sprintf(`local_port == 40404 && remote_port == 8080 && netns in [%d, %d]`, sides[0].netns, sides[1].netns)
	tt := startTcptop(t, "-o", "ndjson", "-i", "200ms", "--where", where)
	tt.waitReady(t)
	for _, s := range sides {
		srv := testnet.Start(t, "tt-fsrv", s.ns, "tcp-server", "127.0.0.1:8080", strconv.Itoa(s.out), strconv.Itoa(s.in))
		defer srv.Release()
		s.client = testnet.Start(t, "tt-fleet", s.ns, "tcp-client-gated", "127.0.0.1:8080", "40404", strconv.Itoa(s.out), strconv.Itoa(s.in))
		defer s.client.Release()
		s.cg.Add(t, s.client.PID())
		s.client.Say(t, "go")
	}
	done := func(s *side) func(string) bool {
		return func(l string) bool {
			return strings.Contains(l, fmt.Sprintf(`"bytes_in":%d,"bytes_out":%d,`, s.in, s.out)) &&
				strings.Contains(l, fmt.Sprintf(`"netns":%d,`, s.netns)) && strings.Contains(l, `"cgroup":"`+s.cg.Path+`"`)
		}
	}
	for _, s := range sides {
		tt.waitLine(t, 10*time.Second, done(s))
	}
	tt.stop(t, syscall.SIGTERM)
	last := map[float64]map[string]any{} // netns → its last row
	for _, r := range tt.records(t) {
		last[r["netns"].(float64)] = r
	}
	if len(last) != 2 {
		t.Fatalf("rows in %d namespaces, want 2: %v", len(last), last)
	}
	for _, s := range sides {
		r := last[float64(s.netns)]
		want := map[string]any{"proto": "tcp", "local_addr": "127.0.0.1", "local_port": 40404.0, "remote_addr": "127.0.0.1", "remote_port": 8080.0,
			"bytes_out": float64(s.out), "bytes_in": float64(s.in), "pid": float64(s.client.PID()), "comm": "tt-fleet",
			"cgroup": s.cg.Path, "cgroup_id": float64(s.cg.ID), "container_id": "", "uid": 0.0, "direction": "out", "netns": float64(s.netns),
			"community_id": conn.CommunityID(conn.TCP, netipAP("127.0.0.1:40404"), netipAP("127.0.0.1:8080"))}
		for k, v := range want {
			if r[k] != v {
				t.Errorf("netns %d: %s = %v, want %v (row %v)", s.netns, k, r[k], v, r)
			}
		}
	}
}

// TestDirectionBothEnds: the client end of a loopback connection is
// "out", the server end "in".
func TestDirectionBothEnds(t *testing.T) {
	requireRoot(t)
	tt := startTcptop(t, "-o", "ndjson", "-i", "200ms", "--where", `comm in ["tt-dsrv", "tt-dcli"]`)
	tt.waitReady(t)
	srv := testnet.Start(t, "tt-dsrv", "", "tcp-server", "127.0.0.1:0", "10", "20")
	cl := testnet.Start(t, "tt-dcli", "", "tcp-client", "127.0.0.1:"+strconv.Itoa(srv.Port), "10", "20", "hold")
	defer cl.Release()
	end := func(local, remote int) func(string) bool {
		return func(l string) bool {
			return strings.Contains(l, fmt.Sprintf(`"local_port":%d,"remote_addr":"127.0.0.1","remote_port":%d,`, local, remote)) &&
				strings.Contains(l, `"bytes_in":`)
		}
	}
	tt.waitLine(t, 5*time.Second, end(cl.Port, srv.Port))
	tt.waitLine(t, 5*time.Second, end(srv.Port, cl.Port))
	tt.stop(t, syscall.SIGTERM)
	for _, c := range []struct {
		local, remote int
		dir           string
	}{{cl.Port, srv.Port, "out"}, {srv.Port, cl.Port, "in"}} {
		rows := rowsWhere(tt.records(t), func(r map[string]any) bool {
			return r["local_port"] == float64(c.local) && r["remote_port"] == float64(c.remote)
		})
		if len(rows) == 0 {
			t.Fatalf("no rows for %d → %d", c.local, c.remote)
		}
		for _, r := range rows {
			if r["direction"] != c.dir {
				t.Errorf("%d → %d: direction %q, want %q", c.local, c.remote, r["direction"], c.dir)
			}
		}
	}
}

// TestSortKeepsCommunityIDs: with --sort, each row carries its own
// flow's community_id (it once carried the tick's last row's): two held
// connections, both ends, every tick.
func TestSortKeepsCommunityIDs(t *testing.T) {
	requireRoot(t)
	var ports []string
	for range 2 {
		srv := testnet.Start(t, "tt-cidsrv", "", "tcp-server", "127.0.0.1:0", "10", "20")
		cl := testnet.Start(t, "tt-cidcli", "", "tcp-client", "127.0.0.1:"+strconv.Itoa(srv.Port), "10", "20", "hold")
		defer cl.Release()
		ports = append(ports, strconv.Itoa(srv.Port), strconv.Itoa(cl.Port))
	}
	where := "local_port in [" + strings.Join(ports, ",") + "]"
	out, err := exec.Command(tcptopBin, "-o", "ndjson", "-n", "2", "-i", "200ms", "--sort", "rate_out", "--where", where).Output()
	if err != nil {
		t.Fatalf("tcptop: %v: %s", err, out)
	}
	ids := map[string]int{}
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		var r map[string]any
		if err := json.Unmarshal([]byte(l), &r); err != nil {
			t.Fatalf("not JSON: %q: %v", l, err)
		}
		local := netip.AddrPortFrom(netip.MustParseAddr(r["local_addr"].(string)), uint16(r["local_port"].(float64)))
		remote := netip.AddrPortFrom(netip.MustParseAddr(r["remote_addr"].(string)), uint16(r["remote_port"].(float64)))
		if want := conn.CommunityID(conn.TCP, local, remote); r["community_id"] != want {
			t.Errorf("%v → %v: community_id %v, want %s", local, remote, r["community_id"], want)
		}
		ids[fmt.Sprint(r["community_id"])]++
	}
	// Two connections, two ends each, two ticks.
	if n := slices.Collect(maps.Values(ids)); len(n) != 2 || n[0] != 4 || n[1] != 4 {
		t.Errorf("community_id counts %v, want two IDs of 4 rows each:\n%s", ids, out)
	}
}

// TestStartAndDuration holds a connection for two seconds: start is when
// it connected, duration_ms on its closed record how long it was held
// (to the kernel's release of the socket, not to the tick after).
func TestStartAndDuration(t *testing.T) {
	requireRoot(t)
	const interval = 200 * time.Millisecond
	tt := startTcptop(t, "-o", "ndjson", "-i", interval.String(), "--where", `comm == "tt-held"`)
	tt.waitReady(t)
	srv := testnet.Start(t, "tt-hsrv", "", "tcp-server", "127.0.0.1:0", "10", "20")
	before := time.Now()
	cl := testnet.Start(t, "tt-held", "", "tcp-client", "127.0.0.1:"+strconv.Itoa(srv.Port), "10", "20", "hold")
	connected := time.Now()
	time.Sleep(2 * time.Second)
	released := time.Now()
	cl.Release()
	cl.Wait(t, 5*time.Second)
	tt.waitLine(t, 5*time.Second, func(l string) bool { return strings.Contains(l, `"closed":true`) })
	// Not when the client exited: its socket, closed first, is released
	// when the server's FIN comes, which a loaded machine may delay; but
	// never after its closed record was read.
	closed := time.Now()
	tt.stop(t, syscall.SIGTERM)
	rows := rowsWhere(tt.records(t), func(r map[string]any) bool {
		return r["local_port"] == float64(cl.Port) && r["pid"] == float64(cl.PID())
	})
	const slack = 50 * time.Millisecond // the kernel's clock against this one
	var first time.Time
	for i, r := range rows {
		start, err := time.Parse(time.RFC3339Nano, r["start"].(string))
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			first = start
		}
		if !start.Equal(first) {
			t.Errorf("start moved: %v, then %v", first, start)
		}
		stamp, _ := time.Parse(time.RFC3339Nano, r["timestamp"].(string))
		if d := r["duration_ms"].(float64); r["closed"] != true && d != float64(stamp.Sub(start).Milliseconds()) {
			t.Errorf("duration_ms %v, timestamp - start is %v", d, stamp.Sub(start))
		}
	}
	if first.Before(before.Add(-slack)) || first.After(connected.Add(slack)) {
		t.Errorf("start %v, want between %v and %v", first, before, connected)
	}
	last := rows[len(rows)-1]
	held := time.Duration(last["duration_ms"].(float64)) * time.Millisecond
	// The closed record's duration ends when the kernel released the
	// socket, not at the tick that read it.
	if last["closed"] != true || held < released.Sub(connected)-slack || held > closed.Sub(before)+slack {
		t.Errorf("closed record held %v (closed=%v), want %v to %v", held, last["closed"], released.Sub(connected), closed.Sub(before))
	}
}

// TestGroupByCommExact groups a known workload by process: two
// connections of tt-ga (to two servers with different sizes) and one of
// tt-gb. Each tick's groups sum exactly; the deltas over all ticks add up
// to the bytes moved.
func TestGroupByCommExact(t *testing.T) {
	requireRoot(t)
	tt := startTcptop(t, "-o", "ndjson", "-i", "200ms", "--group-by", "comm", "--where", `comm in ["tt-ga", "tt-gb"]`)
	tt.waitReady(t)
	small := testnet.Start(t, "tt-gsrv", "", "tcp-answer", "127.0.0.1:0", "1000", "3000")
	defer small.Release()
	large := testnet.Start(t, "tt-gsrv", "", "tcp-answer", "127.0.0.1:0", "5000", "7000")
	defer large.Release()
	for _, c := range []struct {
		comm    string
		srv     *testnet.Helper
		out, in string
	}{{"tt-ga", small, "1000", "3000"}, {"tt-ga", large, "5000", "7000"}, {"tt-gb", small, "1000", "3000"}} {
		h := testnet.Start(t, c.comm, "", "tcp-client", "127.0.0.1:"+strconv.Itoa(c.srv.Port), c.out, c.in, "hold")
		defer h.Release()
	}
	want := map[string][3]float64{"tt-ga": {2, 10000, 6000}, "tt-gb": {1, 3000, 1000}} // connections, bytes_in, bytes_out
	settled := func(string) bool {
		byTick := map[float64]int{}
		for _, r := range tt.records(t) {
			w, ok := want[fmt.Sprint(r["comm"])]
			if ok && r["connections"] == w[0] && r["bytes_in"] == w[1] && r["bytes_out"] == w[2] {
				byTick[r["tick"].(float64)]++
			}
		}
		for _, n := range byTick {
			if n == 2 {
				return true
			}
		}
		return false
	}
	tt.waitLine(t, 10*time.Second, settled)
	time.Sleep(500 * time.Millisecond)
	tt.stop(t, syscall.SIGTERM)
	recs := tt.records(t)
	deltas := map[string][2]float64{}
	for _, r := range recs {
		if keys := len(r); keys != len(conn.GroupFieldNames([]string{"comm"})) {
			t.Fatalf("grouped row with %d keys: %v", keys, r)
		}
		comm := r["comm"].(string)
		if _, ok := want[comm]; !ok {
			t.Fatalf("a group --where should have left out: %v", r)
		}
		d := deltas[comm]
		deltas[comm] = [2]float64{d[0] + r["bytes_in_delta"].(float64), d[1] + r["bytes_out_delta"].(float64)}
		// A connection caught in SYN_SENT has no RTT yet (seen in a
		// loaded VM: a group of one connection, no bytes, rtt 0); one
		// that has moved data has measured one.
		moved := r["bytes_in"].(float64)+r["bytes_out"].(float64) > 0
		if max, mean := r["rtt_max_us"].(float64), r["rtt_mean_us"].(float64); mean > max || moved && max <= 0 {
			t.Errorf("rtt max %v mean %v in %v", max, mean, r)
		}
	}
	for comm, w := range want {
		if d := deltas[comm]; d != [2]float64{w[1], w[2]} {
			t.Errorf("%s: deltas add up to %v in, %v out; want %v, %v", comm, d[0], d[1], w[1], w[2])
		}
	}
}

// TestCronAppendsOneHeader appends three one-tick CSV snapshots to one
// file, as `tcptop -o csv -n 1 >> file` from cron does: one header, three
// rows, and Miller reads the numbers as numbers.
func TestCronAppendsOneHeader(t *testing.T) {
	requireRoot(t)
	mlr := testnet.RequireTool(t, "mlr")
	srv := testnet.Start(t, "tt-server", "", "tcp-server", "127.0.0.1:0", "5000", "7000")
	cl := testnet.Start(t, "tt-cron", "", "tcp-client", "127.0.0.1:"+strconv.Itoa(srv.Port), "5000", "7000", "hold")
	defer cl.Release()
	file := filepath.Join(t.TempDir(), "snap.csv")
	for range 3 {
		// The port and the name: a connection of a test running beside
		// this one (another package's) may have the same local port,
		// to another peer.
		cmd := exec.Command("sh", "-c", `exec "$0" -o csv -n 1 -i 200ms -w "local_port == $1 && comm == \"tt-cron\"" >> "$2"`, tcptopBin, strconv.Itoa(cl.Port), file)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("tcptop: %v: %s", err, out)
		}
	}
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	header := strings.Join(conn.FieldNames(), ",")
	if len(lines) != 4 || lines[0] != header || strings.Count(string(b), "timestamp,") != 1 {
		t.Fatalf("want the header once and three rows, got:\n%s", b)
	}
	out, err := exec.Command(mlr, "--icsv", "--ojson", "cat", file).Output()
	if err != nil {
		t.Fatal(err)
	}
	var recs []map[string]any
	if err := json.Unmarshal(out, &recs); err != nil {
		t.Fatalf("mlr output: %v\n%s", err, out)
	}
	if len(recs) != 3 {
		t.Fatalf("mlr read %d records, want 3", len(recs))
	}
	for _, r := range recs {
		if r["local_port"] != float64(cl.Port) || r["bytes_out"] != 5000.0 || r["bytes_in"] != 7000.0 || r["comm"] != "tt-cron" {
			t.Errorf("mlr record %v: want typed numbers local_port=%d bytes_out=5000 bytes_in=7000", r, cl.Port)
		}
		if _, ok := r["rate_in"].(float64); !ok {
			t.Errorf("rate_in %v (%T) is not a number", r["rate_in"], r["rate_in"])
		}
	}
}

// TestHeaderAfterOtherOutput: a file a script writes a line to before
// tcptop (opened with >, not >>) still gets the CSV header; an append (>>)
// to that file then gets none.
func TestHeaderAfterOtherOutput(t *testing.T) {
	requireRoot(t)
	cl := testnet.HeldClient(t, "tt-hsrv", "tt-hcli")
	file := filepath.Join(t.TempDir(), "report.csv")
	tcptop := `"$0" -o csv -n 1 -i 200ms -w "local_port == $1 && comm == \"tt-hcli\""` // see TestCronAppendsOneHeader
	for _, script := range []string{`(echo "# report"; ` + tcptop + `) > "$2"`, tcptop + ` >> "$2"`} {
		if out, err := exec.Command("sh", "-c", script, tcptopBin, strconv.Itoa(cl.Port), file).CombinedOutput(); err != nil {
			t.Fatalf("%s: %v: %s", script, err, out)
		}
	}
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	row := regexp.MustCompile(`^\d{4}-\d\d-\d\dT[^,]*,1,tcp,ipv4,127\.0\.0\.1,` + strconv.Itoa(cl.Port) + `,`)
	if len(lines) != 4 || lines[0] != "# report" || lines[1] != strings.Join(conn.FieldNames(), ",") || !row.MatchString(lines[2]) || !row.MatchString(lines[3]) {
		t.Fatalf("want the line, the header and two rows, got:\n%s", b)
	}
}

// TestFieldsAndTimeFormatEndToEnd: the real binary with --fields and
// --time-format=unix_ms writes exactly those CSV columns, with times as
// milliseconds. The connection is older than tcptop and its client end
// holds no listening port: its direction is unknown ("").
func TestFieldsAndTimeFormatEndToEnd(t *testing.T) {
	requireRoot(t)
	srv := testnet.Start(t, "tt-server", "", "tcp-server", "127.0.0.1:0", "10", "20")
	cl := testnet.Start(t, "tt-picked", "", "tcp-client", "127.0.0.1:"+strconv.Itoa(srv.Port), "10", "20", "hold")
	defer cl.Release()
	before := time.Now().UnixMilli()
	out, err := exec.Command(tcptopBin, "-o", "csv", "-n", "2", "-i", "200ms", "-w", "local_port == "+strconv.Itoa(cl.Port)+` && comm == "tt-picked"`,
		"--fields", "timestamp,comm,bytes_out,direction,start", "--time-format", "unix_ms").Output()
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
	if len(lines) != 3 || lines[0] != "timestamp,comm,bytes_out,direction,start" {
		t.Fatalf("output:\n%s", out)
	}
	for _, l := range lines[1:] {
		f := strings.Split(l, ",")
		ts, err1 := strconv.ParseInt(f[0], 10, 64)
		start, err2 := strconv.ParseInt(f[4], 10, 64)
		if err1 != nil || err2 != nil || ts < before || ts > time.Now().UnixMilli() || start > ts || f[1] != "tt-picked" || f[2] != "10" || f[3] != "" {
			t.Errorf("row %q", l)
		}
	}
}

// TestStatsEveryTick: --stats writes one stats record per tick, also for
// ticks without rows (here --where lets none through); in CSV it goes to
// stderr.
func TestStatsEveryTick(t *testing.T) {
	requireRoot(t)
	out, err := exec.Command(tcptopBin, "-o", "ndjson", "-n", "4", "-i", "200ms", "--where", "false", "--stats").Output()
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
	if len(lines) != 4 {
		t.Fatalf("want 4 stats lines, got:\n%s", out)
	}
	for i, l := range lines {
		var r map[string]any
		if err := json.Unmarshal([]byte(l), &r); err != nil {
			t.Fatal(err)
		}
		if len(r) != len(conn.StatsFields) || r["type"] != "stats" || r["tick"] != float64(i+1) || r["rows"] != 0.0 ||
			r["rss_bytes"].(float64) < 1<<20 || r["cpu_ms"].(float64) < 0 || r["flows"] != r["tcp_flows"].(float64)+r["udp_flows"].(float64) {
			t.Errorf("stats record %d: %s", i+1, l)
		}
		if r["tcp_table_size"].(float64) < 1024 || r["udp_table_size"].(float64) < 1024 ||
			r["tcp_table_entries"].(float64) > r["tcp_table_size"].(float64) || r["udp_table_entries"].(float64) > r["udp_table_size"].(float64) {
			t.Errorf("table fill in stats record %d: %s", i+1, l)
		}
	}
	cmd := exec.Command(tcptopBin, "-o", "csv", "-n", "2", "-i", "200ms", "--where", "false", "--stats")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	csv, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	if string(csv) != strings.Join(conn.FieldNames(), ",")+"\n" {
		t.Errorf("CSV stdout %q, want the header only", csv)
	}
	if n := strings.Count(stderr.String(), "tcptop: stats timestamp="); n != 2 {
		t.Errorf("%d stats lines on stderr, want 2: %s", n, stderr.String())
	}
}

// TestLogFormatJSONEndToEnd: with --log-format=json every line tcptop
// writes on stderr, -v's included, is a JSON object.
func TestLogFormatJSONEndToEnd(t *testing.T) {
	requireRoot(t)
	cmd := exec.Command(tcptopBin, "-v", "--log-format=json", "-o", "csv", "-n", "2", "-i", "200ms", "--where", "false", "--stats")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%v: %s", err, stderr.String())
	}
	lines := checkJSONLogs(t, stderr.String(), 4)
	levels := map[string]int{}
	for _, l := range lines {
		levels[l["level"].(string)]++
		if l["msg"] == "stats" && l["type"] != "stats" {
			t.Errorf("stats line without the record: %v", l)
		}
	}
	if !strings.HasPrefix(lines[0]["msg"].(string), "attached ") || levels["info"] < 4 {
		t.Errorf("want -v's attached line first and info lines: %v", lines)
	}
}

func netipAP(s string) netip.AddrPort { return netip.MustParseAddrPort(s) }

// TestOlderConnectionInNamespace: a connection in another network
// namespace, opened before tcptop started by a process in a cgroup of
// its own, is a row from the first tick, partial, with its namespace and
// its owner's cgroup.
func TestOlderConnectionInNamespace(t *testing.T) {
	requireRoot(t)
	ns, inode := testnet.Netns(t, "tt-o")
	cg := testnet.NewCgroup(t, "older")
	srv := testnet.Start(t, "tt-osrv", ns, "tcp-server", "127.0.0.1:8080", "100", "200")
	defer srv.Release()
	cl := testnet.Start(t, "tt-older", ns, "tcp-client-gated", "127.0.0.1:8080", "40405", "100", "200")
	defer cl.Release()
	cg.Add(t, cl.PID())
	cl.Say(t, "go")
	time.Sleep(300 * time.Millisecond) // the exchange is done before tcptop starts
	out, err := exec.Command(tcptopBin, "-o", "ndjson", "-n", "1", "-i", "300ms", "--where", fmt.Sprintf("netns == %d && local_port == 40405", inode)).Output()
	if err != nil {
		t.Fatal(err)
	}
	var r map[string]any
	if err := json.Unmarshal(out, &r); err != nil || strings.Count(string(out), "\n") != 1 {
		t.Fatalf("want one row, got %q (%v)", out, err)
	}
	for k, v := range map[string]any{"partial": true, "netns": float64(inode), "cgroup": cg.Path, "cgroup_id": float64(cg.ID),
		"bytes_out": 100.0, "bytes_in": 200.0, "comm": "tt-older", "pid": float64(cl.PID())} {
		if r[k] != v {
			t.Errorf("%s = %v, want %v (row %v)", k, r[k], v, r)
		}
	}
}
