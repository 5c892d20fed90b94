package e2e_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tcptop/tcptop/internal/testnet"
)

// TestContainerIDNotFromDelegatedCgroup: nobody, in a cgroup subtree
// delegated to it the way systemd delegates one, makes a cgroup named as
// docker names a container's, docker-<64 hex>.scope, moves itself there
// and connects. Its row shows that cgroup's path, and no container_id.
func TestContainerIDNotFromDelegatedCgroup(t *testing.T) {
	requireRoot(t)
	const nobody = 65534
	id := strings.Repeat("f", 64)
	deleg := testnet.NewCgroup(t, "user@65534.service")
	deleg.Delegate(t, nobody)
	fake := filepath.Join(deleg.Dir, "docker-"+id+".scope")
	tt := startTcptop(t, "-o", "ndjson", "-i", "200ms", "--where", `comm == "tt-spoof"`)
	tt.waitReady(t)
	srv := testnet.Start(t, "tt-spoofsrv", "", "tcp-server", "127.0.0.1:0", "1234", "4321")
	defer srv.Release()
	cl := testnet.StartAs(t, nobody, "tt-spoof", "", "tcp-client-cgroup", fake, "127.0.0.1:"+strconv.Itoa(srv.Port), "0", "1234", "4321")
	defer cl.Release()
	deleg.Add(t, cl.PID()) // as systemd starts the user's manager in it
	cl.Say(t, "go")
	line := tt.waitLine(t, 20*time.Second, func(l string) bool { return strings.Contains(l, `"bytes_in":4321,"bytes_out":1234,`) })
	var r map[string]any
	if err := json.Unmarshal([]byte(line), &r); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(fake)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"container_id": "", "cgroup": deleg.Path + "/docker-" + id + ".scope",
		"cgroup_id": float64(st.Sys().(*syscall.Stat_t).Ino), "uid": float64(nobody), "pid": float64(cl.PID())}
	for k, v := range want {
		if r[k] != v {
			t.Errorf("%s = %v, want %v (row %s)", k, r[k], v, line)
		}
	}
}
