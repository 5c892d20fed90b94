package e2e_test

import (
	"fmt"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tcptop/tcptop/internal/testnet"
)

// closedRow waits for the closed record of the TCP connection of pid
// and returns it, failing if there is not exactly one.
func closedRow(t *testing.T, r *running, match func(map[string]any) bool) map[string]any {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		var closed []map[string]any
		for _, rec := range r.records(t) {
			if rec["proto"] == "tcp" && rec["closed"] == true && match(rec) {
				closed = append(closed, rec)
			}
		}
		if len(closed) > 1 {
			t.Fatalf("%d closed records, want 1: %v", len(closed), closed)
		}
		if len(closed) == 1 {
			return closed[0]
		}
		time.Sleep(100 * time.Millisecond)
	}
	var seen []string
	for _, rec := range r.records(t) {
		if rec["proto"] == "tcp" && match(rec) {
			seen = append(seen, fmt.Sprintf("%v/%v/%v", rec["state"], rec["closed"], rec["error"]))
		}
	}
	t.Fatalf("no closed record; its records: %v; stderr %s", seen, r.stderr.String())
	return nil
}

func byPID(pid int) func(map[string]any) bool {
	return func(rec map[string]any) bool { return rec["pid"] == float64(pid) }
}

// freePort returns a loopback port nothing listens on.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	return port
}

// run runs a command, failing the test on error.
func run(t *testing.T, args ...string) {
	t.Helper()
	if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
		t.Fatalf("%s: %v: %s", strings.Join(args, " "), err, out)
	}
}

// A connect that fails is a row, SYN_SENT then closed, with its pid and
// why it failed; --where 'error!=""' selects it.
func TestConnectRefused(t *testing.T) {
	requireRoot(t)
	tt := startTcptop(t, "-o", "ndjson", "-i", "250ms")
	failed := startTcptop(t, "-o", "ndjson", "-i", "250ms", "--where", `error!=""`)
	tt.waitReady(t)
	failed.waitReady(t)
	cl := testnet.Start(t, "tt-refused", "", "tcp-connect-fail", "127.0.0.1:"+strconv.Itoa(freePort(t)), "0")
	defer cl.Release()
	row := closedRow(t, tt, byPID(cl.PID()))
	// The failed connect()'s tcp_disconnect zeroes the kernel's counters:
	// the record keeps them as they were (the SYN out, the RST in).
	if row["error"] != "refused" || row["comm"] != "tt-refused" || row["state"] != "CLOSE" || row["rst_in"] != float64(1) ||
		row["packets_out"] != float64(1) || row["packets_in"] != float64(1) {
		t.Errorf("refused connect: %v, want error refused, comm tt-refused, rst_in 1, one segment each way", row)
	}
	if strings.Contains(tt.stderr.String(), "went backwards") {
		t.Errorf("counters went backwards: %s", tt.stderr.String())
	}
	closedRow(t, failed, byPID(cl.PID()))
	for _, rec := range failed.records(t) {
		if rec["error"] == "" {
			t.Errorf("--where 'error!=\"\"' let through %v", rec)
		}
	}
}

// failingLink makes a client namespace routed through a peer namespace
// that drops TCP to dropAddr (nftables) and has no route but an
// unreachable one to unreachAddr, so that connects to them time out or
// fail with an ICMP host unreachable.
func failingLink(t *testing.T) (clientNS string) {
	t.Helper()
	// iproute2's ip too: the guests of the kernel matrix have nft, but
	// busybox's ip, which has no netns.
	testnet.RequireTool(t, "ip", "netns", "list")
	testnet.RequireTool(t, "nft")
	suffix := strconv.Itoa(int(time.Now().UnixNano() % 100000))
	clientNS, peerNS := "tt-fc"+suffix, "tt-fp"+suffix
	for _, ns := range []string{clientNS, peerNS} {
		run(t, "ip", "netns", "add", ns)
		t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", ns).Run() })
		run(t, "ip", "-n", ns, "link", "set", "lo", "up")
	}
	vc, vp := "tfc"+suffix, "tfp"+suffix
	run(t, "ip", "link", "add", vc, "netns", clientNS, "type", "veth", "peer", "name", vp, "netns", peerNS)
	run(t, "ip", "-n", clientNS, "addr", "add", shapedClientAddr+"/24", "dev", vc)
	run(t, "ip", "-n", peerNS, "addr", "add", shapedServerAddr+"/24", "dev", vp)
	run(t, "ip", "-n", clientNS, "link", "set", vc, "up")
	run(t, "ip", "-n", peerNS, "link", "set", vp, "up")
	run(t, "ip", "-n", clientNS, "route", "add", "default", "via", shapedServerAddr)
	run(t, "ip", "netns", "exec", peerNS, "sysctl", "-qw", "net.ipv4.ip_forward=1")
	run(t, "ip", "-n", peerNS, "route", "add", "unreachable", unreachAddr+"/32")
	run(t, "ip", "netns", "exec", peerNS, "nft", "add table ip tt; add chain ip tt in { type filter hook input priority 0; }; add rule ip tt in tcp dport 9 drop")
	return clientNS
}

// Addresses of TEST-NET-3 (RFC 5737), routed only inside failingLink's
// namespaces.
const unreachAddr = "203.0.113.9"

func TestConnectTimeoutAndUnreachable(t *testing.T) {
	requireRoot(t)
	clientNS := failingLink(t)
	tt := startTcptop(t, "-o", "ndjson", "-i", "250ms")
	tt.waitReady(t)
	// TCP_SYNCNT 1: the SYN and one retransmission, about 3 s.
	dropped := testnet.Start(t, "tt-timeout", clientNS, "tcp-connect-fail", shapedServerAddr+":9", "1")
	defer dropped.Release()
	unreach := testnet.Start(t, "tt-unreach", clientNS, "tcp-connect-fail", unreachAddr+":80", "0")
	defer unreach.Release()
	for _, c := range []struct {
		h    *testnet.Helper
		want string
	}{{dropped, "timeout"}, {unreach, "unreachable"}} {
		row := closedRow(t, tt, func(rec map[string]any) bool { return rec["comm"] == c.h.Name })
		if row["error"] != c.want || row["pid"] == float64(0) {
			t.Errorf("%s: %v, want error %s with its pid", c.h.Name, row, c.want)
		}
		// A connect that fails within a tick has only its closed record.
		for _, rec := range tt.records(t) {
			if rec["comm"] == c.h.Name && rec["closed"] == false && rec["state"] != "SYN_SENT" && rec["state"] != "CLOSE" {
				t.Errorf("%s: a record in state %v, want SYN_SENT until the closed record", c.h.Name, rec["state"])
			}
		}
		if row["local_port"] == float64(0) || row["remote_port"] == float64(0) {
			t.Errorf("%s: closed record without its ports: %v", c.h.Name, row)
		}
	}
}

// An RST in the middle of a transfer: both ends close with error reset,
// one having sent it and the other received it.
func TestResetMidTransfer(t *testing.T) {
	requireRoot(t)
	tt := startTcptop(t, "-o", "ndjson", "-i", "250ms")
	tt.waitReady(t)
	srv := testnet.Start(t, "tt-aborter", "", "tcp-abort-server", "127.0.0.1:0", "100000")
	defer srv.Release()
	flood := testnet.Start(t, "tt-flood", "", "tcp-flood", "127.0.0.1:"+strconv.Itoa(srv.Port), "0")
	defer flood.Release()
	// By port and process: another package's test running beside this one
	// may have had a connection on the same local port.
	sender := closedRow(t, tt, func(rec map[string]any) bool {
		return rec["local_port"] == float64(flood.Port) && rec["comm"] == flood.Name
	})
	aborter := closedRow(t, tt, func(rec map[string]any) bool {
		return rec["remote_port"] == float64(flood.Port) && rec["comm"] == srv.Name
	})
	for _, c := range []struct {
		name          string
		row           map[string]any
		rstIn, rstOut float64
	}{{"sender", sender, 1, 0}, {"aborter", aborter, 0, 1}} {
		if c.row["error"] != "reset" || c.row["rst_in"] != c.rstIn || c.row["rst_out"] != c.rstOut {
			t.Errorf("%s: error %v rst_in %v rst_out %v, want reset %v %v", c.name, c.row["error"], c.row["rst_in"], c.row["rst_out"], c.rstIn, c.rstOut)
		}
	}
}
