// Package cgroup names the cgroup v2 of a flow's owner: the path of a
// cgroup id (the kernel's bpf_get_current_cgroup_id) relative to the root
// of the v2 hierarchy, and the container that a path belongs to. Paths are
// found by walking the hierarchy (world-readable, so it works after
// tcptop has dropped its privileges), cached, and walked again on a miss
// at most once per interval.
package cgroup

import (
	"bufio"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Mount returns where the cgroup v2 hierarchy is mounted, from
// /proc/self/mounts: /sys/fs/cgroup on a unified host,
// /sys/fs/cgroup/unified on a hybrid one.
func Mount() (string, error) {
	f, err := os.Open("/proc/self/mounts")
	if err != nil {
		return "", err
	}
	defer f.Close()
	return mountIn(f)
}

// ErrNoV2 says no cgroup v2 hierarchy is mounted.
var ErrNoV2 = errors.New("no cgroup2 file system mounted")

// mountIn finds the first cgroup2 mount in a mounts table.
func mountIn(r io.Reader) (string, error) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) >= 3 && f[2] == "cgroup2" {
			return unescapeMount(f[1]), nil
		}
	}
	if err := sc.Err(); err != nil {
		return "", err
	}
	return "", ErrNoV2
}

// unescapeMount undoes the octal escapes of /proc/self/mounts (\040 for a
// space, ...).
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) && isOctal(s[i+1]) && isOctal(s[i+2]) && isOctal(s[i+3]) {
			b.WriteByte((s[i+1]-'0')<<6 | (s[i+2]-'0')<<3 | (s[i+3] - '0'))
			i += 3
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func isOctal(c byte) bool { return c >= '0' && c <= '7' }

// MaxDirs bounds a walk of the hierarchy: a host with more cgroups than
// this has the rest unnamed ("").
const MaxDirs = 1 << 17

// Resolver turns cgroup ids into paths and container ids. A cgroup's id
// is the inode number of its directory in the v2 hierarchy (kernfs ids,
// on 64-bit kernels). It is safe for concurrent use.
type Resolver struct {
	root     string
	interval time.Duration

	mu      sync.Mutex
	names   map[uint64]Name // from the last walk
	walked  time.Time       // when the last walk started; zero before the first
	walks   int
	lastErr error
}

// Name is what a cgroup is called: its path relative to the root of the
// hierarchy ("/system.slice/ssh.service", "/" for the root) and the id of
// the container it belongs to, or "".
type Name struct {
	Path      string
	Container string
}

// NewResolver returns a resolver of the hierarchy mounted at root that
// walks it again, on a miss, at most once per interval. The first walk
// happens at the first Name.
func NewResolver(root string, interval time.Duration) *Resolver {
	return &Resolver{root: filepath.Clean(root), interval: interval}
}

// Name returns the name of cgroup id, or false if no cgroup has that id
// (it is gone, or new since the last walk and a walk is not due yet).
func (r *Resolver) Name(id uint64) (Name, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if n, ok := r.names[id]; ok {
		return n, true
	}
	if !r.walked.IsZero() && time.Since(r.walked) < r.interval {
		return Name{}, false
	}
	r.walk()
	n, ok := r.names[id]
	return n, ok
}

// Walks returns how many times the hierarchy was walked, and the error of
// the last walk, if it failed.
func (r *Resolver) Walks() (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.walks, r.lastErr
}

// walk replaces the cache with the hierarchy as it is now: cgroups that
// are gone are forgotten, so the cache is bounded by the hierarchy.
// Walking from the root down, it counts for each cgroup how many leading
// elements of its path root named (see delegated): only those may name
// a container.
func (r *Resolver) walk() {
	r.walked = time.Now()
	r.walks++
	names := make(map[uint64]Name, max(len(r.names), 64))
	named := map[string]int{} // directory → what its children inherit
	var rootUID uint32
	n := 0
	r.lastErr = filepath.WalkDir(r.root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if path == r.root {
				return err
			}
			return nil // a cgroup removed during the walk
		}
		if !d.IsDir() {
			return nil
		}
		if n++; n > MaxDirs {
			return filepath.SkipAll
		}
		var st syscall.Stat_t
		if syscall.Lstat(path, &st) != nil {
			return nil
		}
		rel, depth := strings.TrimPrefix(path, r.root), 0
		if rel == "" {
			rel, rootUID = "/", st.Uid
		} else {
			depth = strings.Count(rel, "/")
		}
		k := named[filepath.Dir(path)] // 0 for the root
		named[path] = k
		if k == depth && !delegated(path, &st, rootUID) {
			named[path] = k + 1
		}
		names[st.Ino] = Name{Path: rel, Container: ContainerID(rel, k)}
		return nil
	})
	r.names = names
}
