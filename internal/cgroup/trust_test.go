package cgroup_test

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/tcptop/tcptop/internal/cgroup"
	"github.com/tcptop/tcptop/internal/testnet"
	"golang.org/x/sys/unix"
)

// TestResolverDelegatedCgroups builds runtimes' layouts in a real cgroup
// v2 hierarchy (a test cgroup standing in for the root) and marks some
// parents delegated the ways systemd does: an id below a parent owned by
// another user, or marked trusted.delegate or user.delegate, is not a
// container's; a mark saying 0 is no delegation.
func TestResolverDelegatedCgroups(t *testing.T) {
	testnet.RequireRoot(t)
	const id = "3f3c4a3b5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f7a8"
	root := testnet.NewCgroup(t, "root").Dir
	mkdir := func(rel string) string {
		t.Helper()
		dir := filepath.Join(root, rel)
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	mark := func(dir, name, value string) {
		t.Helper()
		if err := unix.Setxattr(dir, name, []byte(value), 0); err != nil {
			t.Fatalf("set %s on %s: %v", name, dir, err)
		}
	}
	mark(mkdir("system.slice"), "trusted.delegate", "1")
	trustedMark := mkdir("system.slice/docker-" + id + ".scope")
	mark(mkdir("docker"), "user.delegate", "1")
	userMark := mkdir("docker/" + id)
	if err := os.Chown(mkdir("kubepods"), 65534, 65534); err != nil {
		t.Fatal(err)
	}
	mkdir("kubepods/pod1")
	owned := mkdir("kubepods/pod1/" + id)
	mark(mkdir("k8s.io"), "user.delegate", "0")
	markedNo := mkdir("k8s.io/" + id)
	mkdir("machine.slice")
	mkdir("machine.slice/libpod-" + id + ".scope")
	plain := mkdir("machine.slice/libpod-" + id + ".scope/container")

	r := cgroup.NewResolver(root, time.Hour)
	for _, tc := range []struct{ dir, want string }{
		{trustedMark, ""},
		{userMark, ""},
		{owned, ""},
		{markedNo, id},
		{plain, id},
	} {
		var st syscall.Stat_t
		if err := syscall.Lstat(tc.dir, &st); err != nil {
			t.Fatal(err)
		}
		if n, ok := r.Name(st.Ino); !ok || n.Container != tc.want {
			t.Errorf("%s: Name = %+v, %v; want container %q", tc.dir, n, ok, tc.want)
		}
	}
}
