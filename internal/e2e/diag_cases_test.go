package e2e_test

import (
	"fmt"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tcptop/tcptop/internal/testnet"
)

// rowsOf returns the records of the TCP connection of helper h (its
// local port and pid), in order.
func rowsOf(t *testing.T, r *running, h *testnet.Helper) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, rec := range r.records(t) {
		if rec["proto"] == "tcp" && rec["local_port"] == float64(h.Port) && rec["pid"] == float64(h.PID()) {
			out = append(out, rec)
		}
	}
	return out
}

// waitLimit waits until h's connection has shown limit want in two ticks
// in a row, and returns its records.
func waitLimit(t *testing.T, r *running, h *testnet.Helper, want string) []map[string]any {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		rows := rowsOf(t, r, h)
		for i := 1; i < len(rows); i++ {
			if rows[i-1]["limit"] == want && rows[i]["limit"] == want {
				return rows
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	var seen []string
	for _, row := range rowsOf(t, r, h) {
		seen = append(seen, fmt.Sprintf("%v(out+%v)", row["limit"], row["bytes_out_delta"]))
	}
	t.Fatalf("limit %q not seen in two ticks in a row; limits seen: %v; stderr %s", want, seen, r.stderr.String())
	return nil
}

// A sender whose receiver stops reading is held back by the receiver's
// window; --where selects it by its limit.
func TestLimitReceiverWindow(t *testing.T) {
	requireRoot(t)
	tt := startTcptop(t, "-o", "ndjson", "-i", "250ms")
	only := startTcptop(t, "-o", "ndjson", "-i", "250ms", "--where", `limit=="rwnd"`)
	tt.waitReady(t)
	only.waitReady(t)
	srv := testnet.Start(t, "tt-noread", "", "tcp-hold-noread", "127.0.0.1:0")
	defer srv.Release()
	flood := testnet.Start(t, "tt-flood", "", "tcp-flood", "127.0.0.1:"+strconv.Itoa(srv.Port), "0")
	defer flood.Release()
	waitLimit(t, tt, flood, "rwnd")
	only.waitLine(t, 5*time.Second, func(l string) bool {
		return strings.Contains(l, `"local_port":`+strconv.Itoa(flood.Port)+`,`) && strings.Contains(l, `"comm":"`+flood.Name+`"`)
	})
	for _, rec := range only.records(t) {
		if rec["limit"] != "rwnd" {
			t.Errorf("--where 'limit==\"rwnd\"' let through %v", rec)
		}
	}
}

// Over a slow link (tbf, 2 Mbit/s), a bulk sender with large buffers is
// held back by the network: its congestion window.
func TestLimitNetwork(t *testing.T) {
	requireRoot(t)
	clientNS, serverNS := shapedLink(t)
	tt := startTcptop(t, "-o", "ndjson", "-i", "500ms")
	tt.waitReady(t)
	sink := testnet.Start(t, "tt-sink", serverNS, "tcp-sink", shapedServerAddr+":0")
	defer sink.Release()
	flood := testnet.Start(t, "tt-flood", clientNS, "tcp-flood", fmt.Sprintf("%s:%d", shapedServerAddr, sink.Port), "0")
	defer flood.Release()
	waitLimit(t, tt, flood, "cwnd")
}

// A sender with a tiny send buffer (SO_SNDBUF 2048) is held back by it
// when the round trip is long and the congestion window is not the limit.
// Linux counts send-buffer-limited time when a transmission empties the
// send queue while the application waits for room, so the link is built
// for that: the round trip comes from the peer's acknowledgements through
// a slow tbf (the data itself goes unshaped, so nothing waits in a queue),
// segments are at most 4 KiB (gso_max_size: a send is otherwise let
// through as one 64 KiB segment whatever the buffer), and the congestion
// control is bbr (reno and cubic in slow start count a connection using
// half its window as window-limited), and the sender waits in blocking
// send() calls (one that gets EAGAIN is not counted). ss -ti agrees.
func TestLimitSendBuffer(t *testing.T) {
	requireRoot(t)
	testnet.RequireTool(t, "ss")
	clientNS, serverNS := link(t, "server", "tbf", "rate", "32kbit", "burst", "4kb", "latency", "2s")
	dev := strings.TrimPrefix(clientNS, "tt-c")
	if out, err := exec.Command("ip", "-n", clientNS, "link", "set", "ttc"+dev, "gso_max_size", "4096").CombinedOutput(); err != nil {
		t.Fatalf("gso_max_size: %v: %s", err, out)
	}
	tt := startTcptop(t, "-o", "ndjson", "-i", "500ms")
	tt.waitReady(t)
	sink := testnet.Start(t, "tt-sink", serverNS, "tcp-sink", shapedServerAddr+":0")
	defer sink.Release()
	flood := testnet.Start(t, "tt-flood", clientNS, "tcp-flood-blocking", fmt.Sprintf("%s:%d", shapedServerAddr, sink.Port), "2048", "bbr")
	defer flood.Release()
	waitLimit(t, tt, flood, "sndbuf")
	if share := limitedShare(ssInfoNS(t, clientNS, flood.Port), "sndbuf_limited"); share < 50 {
		t.Errorf("ss -ti says sndbuf_limited %.1f%% of the time, tcptop says sndbuf", share)
	}
}

// ssInfoNS is ssInfo in a network namespace.
func ssInfoNS(t *testing.T, ns string, port int) string {
	t.Helper()
	out, err := exec.Command("ip", "netns", "exec", ns, "ss", "-tinH", "state", "established", "sport", "= :"+strconv.Itoa(port)).CombinedOutput()
	if err != nil {
		t.Fatalf("ss: %v: %s", err, out)
	}
	return string(out)
}

// limitedShare reads the percentage ss -ti prints after a limited time,
// as in "sndbuf_limited:120ms(4.2%)"; 0 if absent.
func limitedShare(info, name string) float64 {
	m := regexp.MustCompile(`\b` + name + `:[0-9]+ms\(([0-9.]+)%\)`).FindStringSubmatch(info)
	if m == nil {
		return 0
	}
	v, _ := strconv.ParseFloat(m[1], 64)
	return v
}

// A request/response client idle between requests is held back by
// itself: the application had nothing to send.
func TestLimitApplication(t *testing.T) {
	requireRoot(t)
	tt := startTcptop(t, "-o", "ndjson", "-i", "500ms")
	tt.waitReady(t)
	echo := testnet.Start(t, "tt-echo", "", "tcp-echo", "127.0.0.1:0")
	defer echo.Release()
	cl := testnet.Start(t, "tt-reqresp", "", "tcp-reqresp", "127.0.0.1:"+strconv.Itoa(echo.Port), "40", "100", "150ms")
	defer cl.Release()
	rows := waitLimit(t, tt, cl, "app")
	for _, r := range rows {
		if l := r["limit"]; r["bytes_out_delta"].(float64) > 0 && l != "app" && l != "" {
			t.Errorf("request/response client: limit %v in a tick it sent %v bytes, want app", l, r["bytes_out_delta"])
		}
	}
}

// ssField reads one of ss -ti's "name:value" fields of the connection at
// local port port.
func ssInfo(t *testing.T, port int) string {
	t.Helper()
	out, err := exec.Command("ss", "-tinH", "state", "established", "sport", "= :"+strconv.Itoa(port)).CombinedOutput()
	if err != nil {
		t.Fatalf("ss: %v: %s", err, out)
	}
	return string(out)
}

func ssNumber(t *testing.T, info, name string) float64 {
	t.Helper()
	m := regexp.MustCompile(`\b` + name + `:([0-9.]+)`).FindStringSubmatch(info)
	if m == nil {
		return 0 // ss leaves out what is zero (notsent)
	}
	v, _ := strconv.ParseFloat(m[1], 64)
	return v
}

// cwnd, min_rtt_us, notsent_bytes and snd_wnd agree with ss -ti on a
// quiescent connection.
func TestDiagnosticsAgreeWithSS(t *testing.T) {
	requireRoot(t)
	testnet.RequireTool(t, "ss")
	tt := startTcptop(t, "-o", "ndjson", "-i", "250ms")
	tt.waitReady(t)
	srv := testnet.Start(t, "tt-server", "", "tcp-server", "127.0.0.1:0", "300000", "200000")
	cl := testnet.Start(t, "tt-client", "", "tcp-client", "127.0.0.1:"+strconv.Itoa(srv.Port), "300000", "200000", "hold")
	defer cl.Release()
	tt.waitLine(t, 5*time.Second, func(l string) bool {
		return strings.Contains(l, `"local_port":`+strconv.Itoa(cl.Port)+`,`) && strings.Contains(l, `"bytes_in":200000,`)
	})
	time.Sleep(time.Second) // quiescent, and read again by tcptop since
	info := ssInfo(t, cl.Port)
	rows := rowsOf(t, tt, cl)
	last := rows[len(rows)-1]
	for _, c := range []struct {
		field string
		ss    float64
	}{
		{"cwnd", ssNumber(t, info, "cwnd")},
		{"min_rtt_us", ssNumber(t, info, "minrtt") * 1000},
		{"notsent_bytes", ssNumber(t, info, "notsent")},
		{"snd_wnd", ssNumber(t, info, "snd_wnd")},
	} {
		if got := last[c.field].(float64); got != c.ss {
			t.Errorf("%s = %v, ss -ti says %v (%s)", c.field, got, c.ss, strings.TrimSpace(info))
		}
	}
	if last["cc"] == "" || last["cwnd"].(float64) == 0 {
		t.Errorf("no congestion control or cwnd: %v", last)
	}
}

// A sender whose receiver stopped reading before tcptop started (issue
// 16: the limit flickered between "rwnd" and "" on such a connection) is
// rwnd-limited in every row: the first, from the kernel's lifetime times
// as ss -ti shows them, and every tick after it, whichever way the tick
// reads the table. With neither map-element iterators nor walkers the
// table is not re-read between sweeps: the rows carry the limit last
// measured. A snapshot (-n 1) says so too.
func TestLimitStalledBeforeStart(t *testing.T) {
	requireRoot(t)
	testnet.RequireTool(t, "ss")
	srv := testnet.Start(t, "tt-noread", "", "tcp-hold-noread", "127.0.0.1:0")
	defer srv.Release()
	flood := testnet.Start(t, "tt-flood", "", "tcp-flood", "127.0.0.1:"+strconv.Itoa(srv.Port), "0")
	defer flood.Release()
	waitRwndLimited(t, flood.Port)
	where := fmt.Sprintf(`proto=="tcp" && local_port==%d && pid==%d`, flood.Port, flood.PID())
	for _, refuse := range []string{"", "iter/bpf_map_elem,raw_tp"} {
		t.Run("refuse="+refuse, func(t *testing.T) {
			t.Setenv(refuseEnv, refuse)
			tt := startTcptop(t, "-o", "ndjson", "-i", "250ms", "-n", "11", "--where", where)
			<-tt.done
			var limits []any
			for _, r := range tt.records(t) {
				limits = append(limits, r["limit"])
			}
			if len(limits) != 11 {
				t.Fatalf("%d rows, want 11 (one a tick); limits %v; stderr %s", len(limits), limits, tt.stderr.String())
			}
			for _, l := range limits {
				if l != "rwnd" {
					t.Errorf("limits %q, want rwnd in every tick; ss -ti: %s", limits, ssInfo(t, flood.Port))
					break
				}
			}
		})
	}
	t.Run("snapshot", func(t *testing.T) {
		tt := startTcptop(t, "-o", "ndjson", "-n", "1", "--where", where)
		<-tt.done
		recs := tt.records(t)
		if len(recs) != 1 || recs[0]["limit"] != "rwnd" {
			t.Errorf("tcptop -n 1: %v, want one row with limit rwnd; ss -ti: %s", recs, ssInfo(t, flood.Port))
		}
	})
}

// waitRwndLimited waits until ss -ti says the connection at local port
// port has been held back by the receiver's window most of its life, for
// at least a second.
func waitRwndLimited(t *testing.T, port int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		info := ssInfo(t, port)
		if limitedShare(info, "rwnd_limited") > 80 && ssNumber(t, info, "rwnd_limited") >= 1000 {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("the connection never stalled on the receiver's window: ss -ti: %s", ssInfo(t, port))
}
