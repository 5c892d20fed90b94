package cgroup

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestMountIn(t *testing.T) {
	for _, tc := range []struct {
		name, mounts, want string
		err                error
	}{
		{"unified", "sysfs /sys sysfs rw 0 0\ncgroup2 /sys/fs/cgroup cgroup2 rw,nosuid 0 0\n", "/sys/fs/cgroup", nil},
		{"hybrid", "tmpfs /sys/fs/cgroup tmpfs rw 0 0\ncgroup /sys/fs/cgroup/cpu cgroup rw,cpu 0 0\ncgroup2 /sys/fs/cgroup/unified cgroup2 rw 0 0\n", "/sys/fs/cgroup/unified", nil},
		{"escaped", "none /mnt/my\\040cgroups cgroup2 rw 0 0\n", "/mnt/my cgroups", nil},
		{"v1 only", "cgroup /sys/fs/cgroup/cpu cgroup rw,cpu 0 0\n", "", ErrNoV2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := mountIn(strings.NewReader(tc.mounts))
			if got != tc.want || !errors.Is(err, tc.err) {
				t.Errorf("mountIn = %q, %v; want %q, %v", got, err, tc.want, tc.err)
			}
		})
	}
}

// TestMountHere checks the running system when it has a cgroup v2 mount:
// its root directory is the root cgroup, whose id is 1.
func TestMountHere(t *testing.T) {
	root, err := Mount()
	if errors.Is(err, ErrNoV2) {
		t.Skip("no cgroup2 mount here")
	}
	if err != nil {
		t.Fatal(err)
	}
	r := NewResolver(root, time.Second)
	if n, ok := r.Name(1); !ok || n.Path != "/" {
		t.Errorf("Name(1) = %+v, %v; want the root, /", n, ok)
	}
}

func ino(t *testing.T, path string) uint64 {
	t.Helper()
	var st syscall.Stat_t
	if err := syscall.Lstat(path, &st); err != nil {
		t.Fatal(err)
	}
	return st.Ino
}

// TestResolver walks a directory tree standing in for the hierarchy: ids
// are the directories' inode numbers, a miss walks again only once the
// interval has passed, and a walk forgets what is gone.
func TestResolver(t *testing.T) {
	root := t.TempDir()
	a := filepath.Join(root, "system.slice", "ssh.service")
	if err := os.MkdirAll(a, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(a, "cgroup.procs"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	r := NewResolver(root, time.Hour)
	if n, ok := r.Name(ino(t, a)); !ok || n.Path != "/system.slice/ssh.service" {
		t.Errorf("Name = %+v, %v", n, ok)
	}
	if n, ok := r.Name(ino(t, root)); !ok || n.Path != "/" {
		t.Errorf("root: Name = %+v, %v", n, ok)
	}
	if _, ok := r.Name(ino(t, filepath.Join(a, "cgroup.procs"))); ok {
		t.Error("a file resolved as a cgroup")
	}
	b := filepath.Join(root, "new")
	if err := os.Mkdir(b, 0o755); err != nil {
		t.Fatal(err)
	}
	if _, ok := r.Name(ino(t, b)); ok {
		t.Error("a miss walked again before the interval passed")
	}
	if n, err := r.Walks(); n != 1 || err != nil {
		t.Errorf("%d walks (%v), want 1", n, err)
	}
	r.interval = 0
	if n, ok := r.Name(ino(t, b)); !ok || n.Path != "/new" {
		t.Errorf("after the interval: Name = %+v, %v", n, ok)
	}
	idA := ino(t, a)
	if err := os.RemoveAll(filepath.Join(root, "system.slice")); err != nil {
		t.Fatal(err)
	}
	r.Name(1 << 62) // a miss: walks again
	if _, ok := r.names[idA]; ok {
		t.Error("a removed cgroup stayed in the cache")
	}
}

func TestResolverMissingRoot(t *testing.T) {
	r := NewResolver(filepath.Join(t.TempDir(), "absent"), 0)
	if _, ok := r.Name(1); ok {
		t.Error("resolved in a missing hierarchy")
	}
	if _, err := r.Walks(); err == nil {
		t.Error("the failed walk was not reported")
	}
}

// TestResolverContainers: container ids come only from names that the
// owner of the hierarchy's root gave, in directories no one else may
// write to, and cover the container's own cgroups below.
func TestResolverContainers(t *testing.T) {
	root := t.TempDir()
	mkdir := func(rel string, mode os.FileMode) string {
		t.Helper()
		dir := filepath.Join(root, rel)
		if err := os.Mkdir(dir, mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(dir, mode); err != nil { // whatever the umask
			t.Fatal(err)
		}
		return dir
	}
	mkdir("system.slice", 0o755)
	ctr := mkdir("system.slice/docker-"+id1+".scope", 0o755)
	inner := mkdir("system.slice/docker-"+id1+".scope/docker", 0o755)
	nested := mkdir("system.slice/docker-"+id1+".scope/docker/"+id2, 0o755)
	mkdir("kubepods", 0o777) // anyone may name a cgroup here
	mkdir("kubepods/pod1", 0o755)
	open := mkdir("kubepods/pod1/"+id2, 0o755)
	r := NewResolver(root, time.Hour)
	for _, tc := range []struct{ dir, want string }{
		{ctr, id1},
		{inner, id1},
		{nested, id1},
		{open, ""},
		{root, ""},
	} {
		if n, ok := r.Name(ino(t, tc.dir)); !ok || n.Container != tc.want {
			t.Errorf("%s: Name = %+v, %v; want container %q", strings.TrimPrefix(tc.dir, root), n, ok, tc.want)
		}
	}
}
