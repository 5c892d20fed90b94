package e2e_test

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tcptop/tcptop/internal/testnet"
)

// A connection whose first SYN a full accept queue dropped (testnet's
// tcp-syn-retry) is what --where 'syn_retrans>0' selects: the client's
// rows, with one SYN sent again and a connect of 1 to 3 s; the server's
// side of it (one SYN-ACK, never resent) and the connections that got
// through at once are not.
func TestWhereSynRetrans(t *testing.T) {
	requireRoot(t)
	only := startTcptop(t, "-o", "ndjson", "-i", "250ms", "--where", "syn_retrans>0")
	only.waitReady(t)
	h := testnet.Start(t, "tt-synretry", "", "tcp-syn-retry", "127.0.0.1:0", "100", "200")
	h.Wait(t, 30*time.Second)
	port := `"local_port":` + strconv.Itoa(h.Port) + `,`
	only.waitLine(t, 10*time.Second, func(l string) bool {
		return strings.Contains(l, port) && strings.Contains(l, `"closed":true`)
	})
	var client int
	for _, rec := range only.records(t) {
		if n, _ := rec["syn_retrans"].(float64); n <= 0 {
			t.Errorf("--where 'syn_retrans>0' let through %v", rec)
		}
		if rec["proto"] != "tcp" || rec["local_port"] != float64(h.Port) {
			continue
		}
		client++
		us, _ := rec["connect_us"].(float64)
		floor := float64(testnet.InitialRTOFloor.Microseconds())
		if rec["syn_retrans"] != 1.0 || us < floor || us >= 3e6 || rec["direction"] != "out" || rec["pid"] != float64(h.PID()) {
			t.Errorf("client row %v: want syn_retrans 1, %.0f <= connect_us < 3e6, direction out, pid %d", rec, floor, h.PID())
		}
	}
	if client == 0 {
		t.Errorf("no row of the client (port %d); stderr %s", h.Port, only.stderr.String())
	}
}
