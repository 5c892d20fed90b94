package source

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"

	"github.com/cilium/ebpf/link"
	"golang.org/x/sys/unix"
)

// openSweepsInNamespaces opens the TCP iterator once in every other
// network namespace on the host, so that the first tick finds the
// connections older than tcptop there too. An iterator reads the
// namespace of the task that opens it, so each is opened from inside the
// namespace (setns, which needs CAP_SYS_ADMIN: this runs before the
// privileges are dropped) and read later, from anywhere. Namespaces made
// after tcptop started need none of this: the probes see every
// connection opened in them. With nameSockets (paths that read cookies
// from the socket), the sockets there are named too, from inside, as
// nameExistingSockets does in tcptop's own namespace.
func openSweepsInNamespaces(it *link.Iter, procRoot string, nameSockets bool) ([]io.ReadCloser, error) {
	var readers []io.ReadCloser
	var nameErr error
	err := inOtherNamespaces(procRoot, func(p string) {
		if nameSockets {
			if err := nameExistingSockets(); err != nil && nameErr == nil {
				nameErr = fmt.Errorf("naming sockets in %s: %w", p, err)
			}
		}
		if rd, err := it.Open(); err == nil {
			readers = append(readers, rd)
		}
	})
	if err != nil {
		return readers, err
	}
	return readers, nameErr
}

// inOtherNamespaces calls fn from inside every network namespace on the
// host but tcptop's own (inNamespaces: it runs before the privileges are
// dropped). p is the namespace's path.
func inOtherNamespaces(procRoot string, fn func(p string)) error {
	self, err := nsInode(filepath.Join(procRoot, "self/ns/net"))
	if err != nil {
		return err
	}
	paths := namespaces(procRoot, self)
	if len(paths) == 0 {
		return nil
	}
	return inNamespaces(paths, filepath.Join(procRoot, "thread-self/ns/net"), fn)
}

// inNamespaces calls fn from inside each network namespace of paths
// (setns, which needs CAP_SYS_ADMIN), on a thread locked to it, and
// takes the thread back to home, the path of its own, after each.
func inNamespaces(paths []string, home string, fn func(p string)) error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread() // only once back in tcptop's own namespace (below)
	back, err := os.Open(home)
	if err != nil {
		return err
	}
	defer back.Close()
	for _, p := range paths {
		f, err := os.Open(p)
		if err != nil {
			continue // the namespace went away
		}
		err = unix.Setns(int(f.Fd()), unix.CLONE_NEWNET)
		f.Close()
		if err != nil {
			continue
		}
		fn(p)
		if err := unix.Setns(int(back.Fd()), unix.CLONE_NEWNET); err != nil {
			// This thread is stranded in another namespace: never reuse it.
			runtime.LockOSThread()
			return fmt.Errorf("return to tcptop's network namespace: %w", err)
		}
	}
	return nil
}

// namespaces lists one path for each network namespace other than self:
// those of processes, and those named in /run/netns (which may have none).
func namespaces(procRoot string, self uint64) []string {
	seen := map[uint64]bool{self: true}
	var paths []string
	add := func(p string) {
		if ino, err := nsInode(p); err == nil && !seen[ino] {
			seen[ino] = true
			paths = append(paths, p)
		}
	}
	procs, _ := filepath.Glob(filepath.Join(procRoot, "[0-9]*/ns/net"))
	for _, p := range procs {
		add(p)
	}
	named, _ := filepath.Glob("/run/netns/*")
	for _, p := range named {
		add(p)
	}
	return paths
}

func nsInode(path string) (uint64, error) {
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		return 0, err
	}
	return st.Ino, nil
}
