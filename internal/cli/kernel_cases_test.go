package cli_test

import (
	"encoding/json"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tcptop/tcptop/internal/testnet"
)

func TestSignalsDetachEverything(t *testing.T) {
	requireRoot(t)
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
		t.Run(sig.String(), func(t *testing.T) {
			tt := startTcptop(t, "-o", "ndjson", "-i", "100ms")
			tt.waitReady(t)
			if len(tcptopProgramsLoaded(t)) == 0 {
				t.Fatal("no tcptop programs loaded while running: the check below would prove nothing")
			}
			time.Sleep(250 * time.Millisecond)
			if code := tt.stop(t, sig); code != 0 {
				t.Errorf("exit %d after %v, want 0; stderr %s", code, sig, tt.stderr.String())
			}
			requireNoProgramsLeft(t)
		})
	}
}

func TestClosedStdoutEndsQuietly(t *testing.T) {
	requireRoot(t)
	// A held connection guarantees a row every tick, so head gets its line
	// and tcptop's next write finds the pipe closed.
	srv := testnet.Start(t, "tt-server", "", "tcp-server", "127.0.0.1:0", "10", "10")
	cl := testnet.Start(t, "tt-client", "", "tcp-client", "127.0.0.1:"+strconv.Itoa(srv.Port), "10", "10", "hold")
	defer cl.Release()
	cmd := exec.Command("bash", "-c", `"$0" -o ndjson -i 100ms | head -1; exit "${PIPESTATUS[0]}"`, tcptopBin)
	out, err := cmd.Output()
	if code := exitCodeOf(err); code != 0 {
		t.Errorf("tcptop exit %d with a closed stdout, want 0: %v", code, err)
	}
	if strings.Count(string(out), "\n") != 1 || !json.Valid([]byte(strings.TrimSpace(string(out)))) {
		t.Errorf("head -1 got %q", out)
	}
	if ee, ok := err.(*exec.ExitError); ok && len(ee.Stderr) > 0 {
		t.Errorf("tcptop was not quiet: %s", ee.Stderr)
	}
	requireNoProgramsLeft(t)
}

func TestUDPFlowsPerPeerThenExpire(t *testing.T) {
	requireRoot(t)
	tt := startTcptop(t, "-o", "ndjson", "-i", "200ms", "--udp-timeout", "1s")
	tt.waitReady(t)
	srv := testnet.Start(t, "tt-udpserver", "", "udp-server", "127.0.0.1:0", "50")
	defer srv.Release()
	peers := map[float64]float64{} // client port → datagrams
	for _, n := range []int{2, 4, 6} {
		c := testnet.Start(t, "tt-udpclient", "", "udp-client", "127.0.0.1:"+strconv.Itoa(srv.Port), strconv.Itoa(n), "20")
		c.Wait(t, 10*time.Second)
		peers[float64(c.Port)] = float64(n)
	}
	isServerFlow := func(r map[string]any) bool {
		return r["proto"] == "udp" && r["local_port"] == float64(srv.Port)
	}
	// All three flows in one tick, with exact counts.
	tt.waitLine(t, 5*time.Second, func(string) bool {
		seen := map[float64]bool{}
		lastTick := map[float64]float64{}
		for _, r := range tt.records(t) {
			if isServerFlow(r) {
				lastTick[r["tick"].(float64)]++
			}
		}
		for _, r := range tt.records(t) {
			n, ok := peers[r["remote_port"].(float64)]
			if isServerFlow(r) && ok && lastTick[r["tick"].(float64)] == 3 &&
				r["packets_in"] == n && r["bytes_in"] == n*20 && r["packets_out"] == n && r["bytes_out"] == n*50 &&
				r["pid"] == float64(srv.PID()) && r["state"] == "" {
				seen[r["remote_port"].(float64)] = true
			}
		}
		return len(seen) == 3
	})
	// Idle for longer than --udp-timeout: the flows disappear for good.
	time.Sleep(1800 * time.Millisecond)
	recs := tt.records(t)
	lastTick := recs[len(recs)-1]["tick"].(float64)
	time.Sleep(600 * time.Millisecond)
	for _, r := range tt.records(t) {
		if isServerFlow(r) && r["tick"].(float64) > lastTick {
			t.Fatalf("UDP flow still reported after the idle timeout: %v", r)
		}
	}
	if code := tt.stop(t, syscall.SIGTERM); code != 0 {
		t.Errorf("exit %d", code)
	}
}
