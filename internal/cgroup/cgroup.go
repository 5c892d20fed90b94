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

// Resolver turns cgroup ids into paths. A cgroup's id is the inode number
// of its directory in the v2 hierarchy (kernfs ids, on 64-bit kernels).
// It is safe for concurrent use.
type Resolver struct {
	root     string
	interval time.Duration

	mu      sync.Mutex
	paths   map[uint64]string // from the last walk
	walked  time.Time         // when the last walk started; zero before the first
	walks   int
	lastErr error
}

// NewResolver returns a resolver of the hierarchy mounted at root that
// walks it again, on a miss, at most once per interval. The first walk
// happens at the first Path.
func NewResolver(root string, interval time.Duration) *Resolver {
	return &Resolver{root: root, interval: interval}
}

// Path returns the path of cgroup id relative to the root of the
// hierarchy ("/system.slice/ssh.service", "/" for the root), or false if
// no cgroup has that id (it is gone, or new since the last walk and a walk
// is not due yet).
func (r *Resolver) Path(id uint64) (string, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if p, ok := r.paths[id]; ok {
		return p, true
	}
	if !r.walked.IsZero() && time.Since(r.walked) < r.interval {
		return "", false
	}
	r.walk()
	p, ok := r.paths[id]
	return p, ok
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
func (r *Resolver) walk() {
	r.walked = time.Now()
	r.walks++
	paths := make(map[uint64]string, max(len(r.paths), 64))
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
		rel := strings.TrimPrefix(path, r.root)
		if rel == "" {
			rel = "/"
		}
		paths[st.Ino] = rel
		return nil
	})
	r.paths = paths
}
