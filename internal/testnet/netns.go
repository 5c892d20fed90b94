package testnet

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"

	"golang.org/x/sys/unix"
)

// netnsDir is where named network namespaces are bound, as `ip netns`
// does, so `ip -n NAME` and tcptop's tests read the same names.
const netnsDir = "/run/netns"

// AddNetns makes a network namespace bound at /run/netns/name with its
// loopback up, without iproute2 (busybox's ip in the test VMs has no
// netns), and returns its inode number (what tcptop writes as netns). It
// is unbound when the test ends.
func AddNetns(t testing.TB, name string) uint64 {
	t.Helper()
	path := filepath.Join(netnsDir, name)
	if err := os.MkdirAll(netnsDir, 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_RDONLY, 0o444)
	if err != nil {
		t.Fatalf("network namespace %s: %v", name, err)
	}
	f.Close()
	t.Cleanup(func() { _ = unix.Unmount(path, unix.MNT_DETACH); _ = os.Remove(path) })
	err = onThreadOfItsOwn(func() error {
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			return fmt.Errorf("unshare: %w", err)
		}
		self := fmt.Sprintf("/proc/self/task/%d/ns/net", unix.Gettid())
		if err := unix.Mount(self, path, "", unix.MS_BIND, ""); err != nil {
			return fmt.Errorf("bind %s: %w", path, err)
		}
		return loopbackUp()
	})
	if err != nil {
		t.Fatalf("network namespace %s: %v", name, err)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return inode(st)
}

// startIn starts cmd inside the network namespace bound at
// /run/netns/name: a child takes the namespaces of the thread that forks
// it.
func startIn(name string, cmd *exec.Cmd) error {
	return onThreadOfItsOwn(func() error {
		if err := enter(name); err != nil {
			return err
		}
		return cmd.Start()
	})
}

// RunIn runs cmd to its end inside the network namespace bound at
// /run/netns/name (see AddNetns), as `ip netns exec` does, for the
// guests of the kernel matrix, whose busybox ip has no netns. The caller
// sets cmd's output as for cmd.Run.
func RunIn(name string, cmd *exec.Cmd) error {
	if err := startIn(name, cmd); err != nil {
		return err
	}
	return cmd.Wait()
}

// enter moves the calling thread into the network namespace bound at
// /run/netns/name.
func enter(name string) error {
	fd, err := unix.Open(filepath.Join(netnsDir, name), unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	if err := unix.Setns(fd, unix.CLONE_NEWNET); err != nil {
		return fmt.Errorf("enter network namespace %s: %w", name, err)
	}
	return nil
}

// onThreadOfItsOwn runs fn on a locked OS thread and puts that thread
// back in its network namespace after, so a namespace fn enters never
// leaks into other goroutines. (Exiting locked is not enough: the thread
// may be the main one, which Go never ends, and /proc/self/ns/net is the
// main thread's.) A thread that cannot go back is never unlocked.
func onThreadOfItsOwn(fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		home, err := os.Open("/proc/thread-self/ns/net")
		if err != nil {
			errc <- err
			return
		}
		defer home.Close()
		err = fn()
		if back := unix.Setns(int(home.Fd()), unix.CLONE_NEWNET); back != nil {
			errc <- fmt.Errorf("return to the test's network namespace: %w", back)
			return
		}
		runtime.UnlockOSThread()
		errc <- err
	}()
	return <-errc
}

// loopbackUp sets lo up in the calling thread's network namespace.
func loopbackUp() error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq("lo")
	if err != nil {
		return err
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, ifr); err != nil {
		return fmt.Errorf("lo flags: %w", err)
	}
	ifr.SetUint16(ifr.Uint16() | unix.IFF_UP)
	if err := unix.IoctlIfreq(fd, unix.SIOCSIFFLAGS, ifr); err != nil {
		return fmt.Errorf("lo up: %w", err)
	}
	return nil
}

// InNetns runs fn on a thread inside the network namespace bound at
// /run/netns/name (see AddNetns): a socket fn opens stays in that
// namespace, used from any goroutine after.
func InNetns(t testing.TB, name string, fn func() error) {
	t.Helper()
	err := onThreadOfItsOwn(func() error {
		if err := enter(name); err != nil {
			return err
		}
		return fn()
	})
	if err != nil {
		t.Fatalf("in network namespace %s: %v", name, err)
	}
}
