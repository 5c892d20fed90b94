package source

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

func TestStatusUIDAndUnifiedCgroup(t *testing.T) {
	for _, tc := range []struct {
		status string
		uid    uint32
		ok     bool
	}{
		{"Name:\tnginx\nUid:\t101\t0\t0\t0\nGid:\t101\t101\t101\t101\n", 101, true}, // real uid, not effective
		{"Name:\tx\nUid:\t0\t0\t0\t0\n", 0, true},
		{"Name:\tx\n", 0, false},
		{"Uid:\tabc\n", 0, false},
	} {
		if uid, ok := statusUID([]byte(tc.status)); uid != tc.uid || ok != tc.ok {
			t.Errorf("statusUID(%q) = %d, %v; want %d, %v", tc.status, uid, ok, tc.uid, tc.ok)
		}
	}
	for _, tc := range []struct {
		cgroup, path string
		ok           bool
	}{
		{"0::/system.slice/nginx.service\n", "/system.slice/nginx.service", true},
		{"12:memory:/user.slice\n1:name=systemd:/user.slice\n0::/user.slice/user-1000.slice\n", "/user.slice/user-1000.slice", true},
		{"12:memory:/docker/abc\n", "", false}, // cgroup v1 only
	} {
		if path, ok := unifiedCgroup([]byte(tc.cgroup)); path != tc.path || ok != tc.ok {
			t.Errorf("unifiedCgroup(%q) = %q, %v; want %q, %v", tc.cgroup, path, ok, tc.path, tc.ok)
		}
	}
}

// ownersByInode on a made-up /proc and cgroup tree: the socket's holder
// with its name (raw, as the kernel has it), real uid and cgroup id.
func TestOwnersByInodeFromProc(t *testing.T) {
	proc, cg := t.TempDir(), t.TempDir()
	write := func(path, text string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.MkdirAll(filepath.Join(cg, "svc.slice", "web"), 0o755); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(filepath.Join(cg, "svc.slice", "web"))
	if err != nil {
		t.Fatal(err)
	}
	write(proc+"/42/comm", "we\x1bb\n")
	write(proc+"/42/status", "Name:\tweb\nUid:\t33\t33\t33\t33\n")
	write(proc+"/42/cgroup", "0::/svc.slice/web\n")
	if err := os.MkdirAll(proc+"/42/fd", 0o755); err != nil {
		t.Fatal(err)
	}
	for fd, target := range map[string]string{"3": "socket:[777]", "4": "/dev/null", "5": "socket:[778]"} {
		if err := os.Symlink(target, proc+"/42/fd/"+fd); err != nil {
			t.Fatal(err)
		}
	}
	write(proc+"/self/comm", "x\n") // not a pid: skipped
	got := ownersByInode(proc, cg, map[uint32]bool{777: true, 999: true})
	want := owner{pid: 42, uid: 33, cgroupID: inodeOf(t, st), comm: "we\x1bb"}
	if len(got) != 1 || got[777] != want {
		t.Errorf("owners = %+v, want only 777: %+v", got, want)
	}
	if got := ownersByInode(proc, "", map[uint32]bool{778: true}); got[778].cgroupID != 0 || got[778].pid != 42 {
		t.Errorf("without cgroup v2: %+v, want pid 42 and no cgroup", got[778])
	}
}

func inodeOf(t *testing.T, fi os.FileInfo) uint64 {
	t.Helper()
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		t.Fatal("no inode")
	}
	return st.Ino
}
