package e2e_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
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
	"github.com/tcptop/tcptop/internal/testnet"
)

// readmeProm is the README's Prometheus section: the command that runs
// tcptop and the scrape job, both used here as written.
func readmeProm(t *testing.T) (args []string, job string) {
	t.Helper()
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile("(?s)\n## Prometheus\n.*?```sh\nsudo tcptop ([^\n]*)\n```.*?```yaml\n(.*?)```").FindSubmatch(readme)
	if m == nil {
		t.Fatal("README has no ## Prometheus section with a ```sh tcptop command and a ```yaml scrape job")
	}
	return strings.Fields(string(m[1])), string(m[2])
}

// startPrometheus runs Debian's prometheus with the README's scrape job,
// every second, and returns the URL of its HTTP API.
func startPrometheus(t *testing.T, job string) string {
	t.Helper()
	bin := testnet.RequireTool(t, "prometheus", "--version")
	dir := t.TempDir()
	cfg := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(cfg, []byte("global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n"+job), 0o644); err != nil {
		t.Fatal(err)
	}
	addr := "127.0.0.1:" + strconv.Itoa(freePort(t))
	cmd := exec.Command(bin, "--config.file="+cfg, "--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+addr)
	log := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	api := "http://" + addr
	deadline := time.Now().Add(30 * time.Second)
	for {
		if resp, err := http.Get(api + "/-/ready"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return api
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("prometheus not ready: %s", log.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// promQuery returns the values of an instant query's series.
func promQuery(t *testing.T, api, q string) []float64 {
	t.Helper()
	resp, err := http.Get(api + "/api/v1/query?query=" + url.QueryEscape(q))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		Status string
		Data   struct {
			Result []struct{ Value [2]any }
		}
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || body.Status != "success" {
		t.Fatalf("query %s: %v (status %q)", q, err, body.Status)
	}
	var out []float64
	for _, r := range body.Data.Result {
		v, _ := strconv.ParseFloat(fmt.Sprint(r.Value[1]), 64)
		out = append(out, v)
	}
	return out
}

// awaitQuery polls q until it has one series of value want.
func awaitQuery(t *testing.T, api, q string, want float64) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	var got []float64
	for time.Now().Before(deadline) {
		if got = promQuery(t, api, q); len(got) == 1 && got[0] == want {
			return
		}
		time.Sleep(250 * time.Millisecond)
	}
	t.Errorf("%s = %v, want [%v]", q, got, want)
}

// TestPrometheusCountsAKnownTransfer: Prometheus scrapes tcptop -o none
// --listen every second with the README's scrape job; after a TCP
// transfer of known size closes, its counters hold exactly its bytes,
// the connection opened and closed once, and promtool check metrics
// passes on a scrape of the live endpoint.
func TestPrometheusCountsAKnownTransfer(t *testing.T) {
	requireRoot(t)
	promtool := testnet.RequireTool(t, "promtool", "--version")
	args, job := readmeProm(t)
	tt := startTcptop(t, args...)
	tt.waitReady(t)
	api := startPrometheus(t, job)
	awaitQuery(t, api, `up{job="tcptop"}`, 1)

	const sent, received = 123457, 654321
	srv := testnet.Start(t, "tt-prom-srv", "", "tcp-server", "127.0.0.1:0", strconv.Itoa(sent), strconv.Itoa(received))
	cl := testnet.Start(t, "tt-prom-cl", "", "tcp-client", "127.0.0.1:"+strconv.Itoa(srv.Port), strconv.Itoa(sent), strconv.Itoa(received))
	cl.Wait(t, 10*time.Second)
	srv.Wait(t, 10*time.Second)

	client := fmt.Sprintf(`{comm="tt-prom-cl",proto="tcp",direction="out",service_port="%d"}`, srv.Port)
	// The server's label set is its own port (service_port), not the
	// client's ephemeral one.
	server := fmt.Sprintf(`{comm="tt-prom-srv",proto="tcp",direction="in",service_port="%d"}`, srv.Port)
	awaitQuery(t, api, "tcptop_connections_closed_total"+client, 1)
	awaitQuery(t, api, "tcptop_sent_bytes_total"+client, sent)
	awaitQuery(t, api, "tcptop_received_bytes_total"+client, received)
	awaitQuery(t, api, "tcptop_connections_opened_total"+client, 1)
	awaitQuery(t, api, "tcptop_received_bytes_total"+server, sent)
	awaitQuery(t, api, "tcptop_sent_bytes_total"+server, received)
	awaitQuery(t, api, "tcptop_rtt_seconds_count"+client+" > bool 0", 1)

	listen := args[slices.Index(args, "--listen")+1]
	_, port, _ := net.SplitHostPort(listen)
	resp, err := http.Get("http://127.0.0.1:" + port + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	scrape, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	check := exec.Command(promtool, "check", "metrics")
	check.Stdin = strings.NewReader(string(scrape))
	if out, err := check.CombinedOutput(); err != nil {
		t.Errorf("promtool check metrics: %v\n%s", err, out)
	}
	if code := tt.stop(t, syscall.SIGTERM); code != 0 {
		t.Errorf("tcptop exit %d: %s", code, tt.stderr.String())
	}
}

// TestListenPortInUse: a port something holds is a runtime error named
// on one line, found before the kernel is touched (no root needed to
// get there), with nothing on stdout.
func TestListenPortInUse(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var stdout, stderr bytes.Buffer
	code := cli.Run([]string{"-o", "none", "--listen", ln.Addr().String()}, &stdout, &stderr)
	want := "tcptop: --listen " + ln.Addr().String() + ": listen tcp " + ln.Addr().String() + ": bind: address already in use (pick another port, or stop what listens there)\n"
	if code != cli.ExitRuntime || stdout.Len() > 0 || stderr.String() != want {
		t.Errorf("exit %d, stdout %q, stderr %q; want 1, nothing, %q", code, stdout.String(), stderr.String(), want)
	}
}

// scrapeSamples gets http://addr/metrics and returns its samples,
// `name{labels}` → value.
func scrapeSamples(t *testing.T, addr string) map[string]float64 {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	out := map[string]float64{}
	for _, l := range strings.Split(string(body), "\n") {
		i := strings.LastIndexByte(l, ' ')
		if l == "" || l[0] == '#' || i < 0 {
			continue
		}
		out[l[:i]], _ = strconv.ParseFloat(l[i+1:], 64)
	}
	return out
}

// TestMetricsBoundedUnder5000Ports: one program sends a datagram to each
// of 5,000 ports; with --max-series 100 the metrics keep 100 label sets,
// the rest folded into other, and their sum is still exactly what was sent.
func TestMetricsBoundedUnder5000Ports(t *testing.T) {
	requireRoot(t)
	const n, size = 5000, 100
	addr := "127.0.0.1:" + strconv.Itoa(freePort(t))
	tt := startTcptop(t, "-o", "none", "--listen", addr, "--max-series", "100", "-i", "200ms",
		"--where", `comm == "tt-prom-spray"`)
	tt.waitReady(t)
	spray := testnet.Start(t, "tt-prom-spray", "", "udp-spray", "127.0.0.1", "40000", strconv.Itoa(n), strconv.Itoa(size))
	defer spray.Release()
	deadline := time.Now().Add(20 * time.Second)
	var sets, bytes, packets float64
	var got map[string]float64
	for time.Now().Before(deadline) {
		got = scrapeSamples(t, addr)
		sets, bytes, packets = 0, 0, 0
		for k, v := range got {
			switch {
			case strings.HasPrefix(k, "tcptop_sent_bytes_total{"):
				sets++
				bytes += v
			case strings.HasPrefix(k, "tcptop_sent_packets_total{"):
				packets += v
			}
		}
		if bytes == n*size {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	other := `{comm="other",direction="other",proto="other",service_port="other"}`
	if sets != 100 || got["tcptop_metrics_series"] != 100 || bytes != n*size || packets != n ||
		got["tcptop_metrics_overflow_rows_total"] < n-99 || got["tcptop_sent_bytes_total"+other] != (n-99)*size {
		t.Errorf("%v label sets (want 100), tcptop_metrics_series %v, %v bytes (want %d), %v packets (want %d), overflow rows %v (want at least %d), other's bytes %v (want %d)",
			sets, got["tcptop_metrics_series"], bytes, n*size, packets, n, got["tcptop_metrics_overflow_rows_total"], n-99,
			got["tcptop_sent_bytes_total"+other], (n-99)*size)
	}
	if !strings.Contains(tt.stderr.String(), "--max-series 100 reached") {
		t.Errorf("the overflow was not reported: %s", tt.stderr.String())
	}
}
