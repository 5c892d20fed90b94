package e2e_test

import (
	"encoding/json"
	"fmt"
	"os/exec"
	"strings"
	"testing"

	"github.com/tcptop/tcptop/internal/testnet"
)

// TestREADMEListenersRecipe runs the README's --listeners recipe as
// written (with -i 4: a listener's refused clients send their SYNs again
// 1, 3 and 7 s after the first, so a tick of 4 s from the second to the
// eighth second sees one) on a listener with backlog 1 that never
// accepts, with 20 clients, in a network namespace of its own made before
// tcptop starts: the recipe names it, its owner and its full queue.
func TestREADMEListenersRecipe(t *testing.T) {
	requireRoot(t)
	testnet.RequireTool(t, "jq")
	testnet.RequireTool(t, "bash")
	recipeText := readmeRecipe(t, "# Listeners dropping connections")
	ns, _ := testnet.Netns(t, "tt-lq")
	h := testnet.Start(t, "tt-backlog", ns, "tcp-backlog", "1", "20")
	recipe := strings.Replace(recipeText, "tcptop ", tcptopBin+" -i 4 ", 1)
	out, err := exec.Command("bash", "-c", "set -o pipefail; "+recipe).Output()
	if err != nil {
		t.Fatalf("%s: %v\n%s", recipe, err, out)
	}
	var found int
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		var r struct {
			Comm           string
			PID, Port      int
			AcceptQueue    int `json:"accept_queue"`
			AcceptQueueMax int `json:"accept_queue_max"`
			Drops          int
		}
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("%q: %v", line, err)
		}
		if r.Comm != "tt-backlog" {
			continue // another listener of the host dropping now
		}
		found++
		want := fmt.Sprintf("pid %d port %d queue 2 of 1", h.PID(), h.Port)
		if got := fmt.Sprintf("pid %d port %d queue %d of %d", r.PID, r.Port, r.AcceptQueue, r.AcceptQueueMax); got != want || r.Drops <= 0 {
			t.Errorf("%s drops %d; want %s and drops", got, r.Drops, want)
		}
	}
	if found != 1 {
		t.Errorf("the recipe gave %d rows of the listener, want 1:\n%s", found, out)
	}
}
