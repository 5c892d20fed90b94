package e2e_test

import (
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tcptop/tcptop/internal/testnet"
)

// Addresses from TEST-NET-1 (RFC 5737), used only inside the namespaces
// this test creates.
const (
	shapedClientAddr = "192.0.2.1"
	shapedServerAddr = "192.0.2.2"
)

// shapedLink makes two namespaces joined by a veth pair whose client side
// is shaped with tbf (netem is not available on these kernels): a bulk
// sender fills the 400 ms queue, so its smoothed RTT grows to hundreds of
// milliseconds.
func shapedLink(t *testing.T) (clientNS, serverNS string) {
	t.Helper()
	return link(t, "client", "tbf", "rate", "2mbit", "burst", "8kb", "latency", "400ms")
}

// link makes two namespaces joined by a veth pair and adds the qdisc
// given to the side named ("client" or "server"), on its egress.
func link(t *testing.T, side string, qdisc ...string) (clientNS, serverNS string) {
	t.Helper()
	testnet.RequireTool(t, "ip", "netns", "list")
	testnet.RequireTool(t, "tc", "qdisc", "show")
	suffix := strconv.Itoa(int(time.Now().UnixNano() % 100000))
	clientNS, serverNS = "tt-c"+suffix, "tt-s"+suffix
	vc, vs := "ttc"+suffix, "tts"+suffix
	run := func(args ...string) {
		t.Helper()
		if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
			t.Fatalf("%s: %v: %s", strings.Join(args, " "), err, out)
		}
	}
	run("ip", "netns", "add", clientNS)
	t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", clientNS).Run() })
	run("ip", "netns", "add", serverNS)
	t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", serverNS).Run() })
	run("ip", "link", "add", vc, "netns", clientNS, "type", "veth", "peer", "name", vs, "netns", serverNS)
	run("ip", "-n", clientNS, "addr", "add", shapedClientAddr+"/24", "dev", vc)
	run("ip", "-n", serverNS, "addr", "add", shapedServerAddr+"/24", "dev", vs)
	for _, ns := range [][2]string{{clientNS, vc}, {serverNS, vs}} {
		run("ip", "-n", ns[0], "link", "set", ns[1], "up")
		run("ip", "-n", ns[0], "link", "set", "lo", "up")
	}
	ns, dev := clientNS, vc
	if side == "server" {
		ns, dev = serverNS, vs
	}
	run(append([]string{"ip", "netns", "exec", ns, "tc", "qdisc", "add", "dev", dev, "root"}, qdisc...)...)
	return clientNS, serverNS
}

func TestRTTFilterSelectsShapedConnection(t *testing.T) {
	requireRoot(t)
	clientNS, serverNS := shapedLink(t)
	const where = `proto=="tcp" && rtt_us>5000`
	all := startTcptop(t, "-o", "ndjson", "-i", "250ms")
	filtered := startTcptop(t, "-o", "ndjson", "-i", "250ms", "--where", where)
	all.waitReady(t)
	filtered.waitReady(t)

	// 400 kB through 2 Mbit/s takes about 1.6 s; the loopback transfer
	// of the same size is instant.
	sink := testnet.Start(t, "tt-sink", serverNS, "tcp-sink", shapedServerAddr+":0")
	defer sink.Release()
	shaped := testnet.Start(t, "tt-shaped", clientNS, "tcp-many", fmt.Sprintf("%s:%d", shapedServerAddr, sink.Port), "1", "400000")
	lsink := testnet.Start(t, "tt-sink", "", "tcp-sink", "127.0.0.1:0")
	defer lsink.Release()
	local := testnet.Start(t, "tt-local", "", "tcp-server", "127.0.0.1:0", "400000", "1000")
	lcl := testnet.Start(t, "tt-local", "", "tcp-client", "127.0.0.1:"+strconv.Itoa(local.Port), "400000", "1000", "hold")
	defer lcl.Release()
	shaped.Wait(t, 30*time.Second)

	isShaped := func(l string) bool {
		return strings.Contains(l, `"remote_addr":"`+shapedServerAddr+`"`) && strings.Contains(l, `"closed":true`)
	}
	all.waitLine(t, 5*time.Second, isShaped)
	filtered.waitLine(t, 5*time.Second, isShaped)
	all.stop(t, syscall.SIGTERM)
	filtered.stop(t, syscall.SIGTERM)

	var shapedRTT, loopRTT float64 = -1, -1
	for _, r := range all.records(t) {
		switch {
		case r["remote_addr"] == shapedServerAddr && r["closed"] == true:
			shapedRTT = r["rtt_us"].(float64)
		case r["local_port"] == float64(lcl.Port) && r["proto"] == "tcp":
			loopRTT = r["rtt_us"].(float64)
		}
	}
	if shapedRTT <= 5000 {
		t.Errorf("shaped connection rtt_us = %v, want > 5000", shapedRTT)
	}
	if loopRTT < 0 || loopRTT >= 5000 {
		t.Errorf("loopback connection rtt_us = %v, want 0 <= rtt < 5000", loopRTT)
	}
	recs := filtered.records(t)
	if len(recs) == 0 {
		t.Fatal("filtered run printed nothing")
	}
	for _, r := range recs {
		if r["proto"] != "tcp" || r["rtt_us"].(float64) <= 5000 {
			t.Errorf("--where %q let through %v", where, r)
		}
		if r["local_port"] == float64(lcl.Port) {
			t.Errorf("loopback connection passed the rtt filter: %v", r)
		}
	}
}
