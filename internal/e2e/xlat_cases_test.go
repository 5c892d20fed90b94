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

// TestXlatThroughDNAT: tcptop itself, after giving up every capability
// but the ones docs/security.md lists, names where a connection to a
// service address really went. An nftables DNAT in the client's
// namespace (nat hook output) sends 10.96.0.10:80 to the server in the
// other namespace. The client's closed record has the service as
// remote_addr:remote_port, the server as xlat_remote_addr:port, and the
// exact bytes; the server's record joins it by the translated tuple.
func TestXlatThroughDNAT(t *testing.T) {
	requireRoot(t)
	testnet.RequireTool(t, "nft", "--version")
	const sent, answered = 100000, 54321
	clientNS, serverNS := link(t, "server", "tbf", "rate", "1gbit", "burst", "256kb", "latency", "50ms")
	server := testnet.Start(t, "tt-xsrv", serverNS, "tcp-server", shapedServerAddr+":0", strconv.Itoa(sent), strconv.Itoa(answered))
	defer server.Release()
	for _, args := range [][]string{
		{"ip", "-n", clientNS, "route", "add", "10.96.0.0/16", "via", shapedServerAddr},
		{"ip", "netns", "exec", clientNS, "nft", "add table ip tt_xlat"},
		{"ip", "netns", "exec", clientNS, "nft", "add chain ip tt_xlat out { type nat hook output priority -100 ; }"},
		{"ip", "netns", "exec", clientNS, "nft", fmt.Sprintf("add rule ip tt_xlat out ip daddr 10.96.0.10 tcp dport 80 dnat to %s:%d", shapedServerAddr, server.Port)},
	} {
		if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
			t.Fatalf("%s: %v: %s", strings.Join(args, " "), err, out)
		}
	}
	tt := startTcptop(t, "-o", "ndjson", "-i", "200ms")
	tt.waitReady(t)
	client := testnet.Start(t, "tt-xcli", clientNS, "tcp-client", "10.96.0.10:80", strconv.Itoa(sent), strconv.Itoa(answered))
	client.Wait(t, 10*time.Second)
	tt.waitLine(t, 5*time.Second, func(l string) bool {
		return strings.Contains(l, `"xlat_remote_addr":"`+shapedServerAddr+`"`) && strings.Contains(l, `"closed":true`)
	})
	tt.waitLine(t, 5*time.Second, func(l string) bool {
		return strings.Contains(l, fmt.Sprintf(`"local_port":%d`, server.Port)) && strings.Contains(l, `"closed":true`)
	})
	tt.stop(t, syscall.SIGTERM)
	var cli, srv map[string]any
	for _, r := range tt.records(t) {
		switch {
		case r["closed"] != true || r["proto"] != "tcp":
		case r["remote_addr"] == "10.96.0.10":
			cli = r
		case r["local_addr"] == shapedServerAddr && r["local_port"] == float64(server.Port):
			srv = r
		}
	}
	if cli == nil || srv == nil {
		t.Fatalf("closed records: client %v, server %v", cli, srv)
	}
	t.Logf("client %v:%v -> %v:%v xlat_remote %v:%v; server %v:%v -> %v:%v", cli["local_addr"], cli["local_port"], cli["remote_addr"], cli["remote_port"],
		cli["xlat_remote_addr"], cli["xlat_remote_port"], srv["local_addr"], srv["local_port"], srv["remote_addr"], srv["remote_port"])
	for k, want := range map[string]any{"remote_port": float64(80), "xlat_remote_addr": shapedServerAddr, "xlat_remote_port": float64(server.Port),
		"xlat_local_addr": "", "xlat_local_port": float64(0), "bytes_out": float64(sent), "bytes_in": float64(answered)} {
		if cli[k] != want {
			t.Errorf("client %s = %v, want %v", k, cli[k], want)
		}
	}
	for k, want := range map[string]any{"remote_addr": cli["local_addr"], "remote_port": cli["local_port"], "xlat_remote_addr": "",
		"bytes_in": float64(sent), "bytes_out": float64(answered)} {
		if srv[k] != want {
			t.Errorf("server %s = %v, want %v (the join by the translated tuple)", k, srv[k], want)
		}
	}
}
