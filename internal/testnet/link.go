package testnet

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

func init() {
	roles["resolver-exec"] = resolverExec
}

// Link joins the namespaces bound at /run/netns/a and /run/netns/b (see
// AddNetns) with a veth pair, va in a with address addrA (CIDR) and vb in
// b with addrB, both up. It speaks netlink itself: busybox's ip in the
// test VMs has no netns. The pair goes with its namespaces.
func Link(t testing.TB, a, va, addrA, b, vb, addrB string) {
	t.Helper()
	nsA, err := netns.GetFromPath(filepath.Join(netnsDir, a))
	if err != nil {
		t.Fatalf("namespace %s: %v", a, err)
	}
	defer nsA.Close()
	nsB, err := netns.GetFromPath(filepath.Join(netnsDir, b))
	if err != nil {
		t.Fatalf("namespace %s: %v", b, err)
	}
	defer nsB.Close()
	veth := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: va, Namespace: netlink.NsFd(int(nsA))},
		PeerName: vb, PeerNamespace: netlink.NsFd(int(nsB))}
	if err := netlink.LinkAdd(veth); err != nil {
		t.Fatalf("veth %s-%s between %s and %s: %v", va, vb, a, b, err)
	}
	for _, end := range []struct {
		ns        netns.NsHandle
		dev, cidr string
	}{{nsA, va, addrA}, {nsB, vb, addrB}} {
		if err := linkUp(end.ns, end.dev, end.cidr); err != nil {
			t.Fatalf("%s: %v", end.dev, err)
		}
	}
}

// linkUp gives dev in ns its address and sets it up.
func linkUp(ns netns.NsHandle, dev, cidr string) error {
	// Route only: by default the handle opens xfrm and netfilter sockets
	// too, which a kernel without those modules loaded (the test VMs)
	// refuses.
	h, err := netlink.NewHandleAt(ns, unix.NETLINK_ROUTE)
	if err != nil {
		return err
	}
	defer h.Close()
	l, err := h.LinkByName(dev)
	if err != nil {
		return err
	}
	addr, err := netlink.ParseAddr(cidr)
	if err != nil {
		return err
	}
	if err := h.AddrAdd(l, addr); err != nil {
		return err
	}
	return h.LinkSetUp(l)
}

// Getent runs `getent ARGS...` (glibc's, so getaddrinfo and glibc's stub
// resolver) in the network namespace bound at /run/netns/ns with
// resolvConf as its /etc/resolv.conf, as `ip netns exec` does with
// /etc/netns/NS/resolv.conf, and returns its output.
func Getent(t testing.TB, ns, resolvConf string, args ...string) string {
	t.Helper()
	getent, err := exec.LookPath("getent")
	if err != nil {
		t.Fatalf("getent (glibc's, libc-bin): %v", err)
	}
	dir := t.TempDir()
	conf := filepath.Join(dir, "resolv.conf")
	if err := os.WriteFile(conf, []byte(resolvConf), 0o644); err != nil {
		t.Fatal(err)
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(self, append([]string{conf, getent}, args...)...)
	cmd.Env = append(os.Environ(), roleEnv+"=resolver-exec")
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := startIn(ns, cmd); err != nil {
		t.Fatalf("getent in %s: %v", ns, err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err = <-done:
	case <-time.After(20 * time.Second):
		_ = cmd.Process.Kill()
		err = fmt.Errorf("no answer in 20 s: %v", <-done)
	}
	if err != nil {
		t.Fatalf("getent %s in %s: %v: %s%s", strings.Join(args, " "), ns, err, out.String(), errb.String())
	}
	return out.String()
}

// resolverExec CONF PROGRAM ARGS...: in a mount namespace of its own
// (private, so nothing leaks back), CONF is bound over /etc/resolv.conf,
// then PROGRAM replaces this process. The bind needs /etc/resolv.conf to
// exist (the test VMs' initramfs has one).
func resolverExec(args []string) error {
	// unshare and exec on one thread: the new mount namespace is that
	// thread's, and execve keeps the calling thread's.
	runtime.LockOSThread()
	if err := unix.Unshare(unix.CLONE_NEWNS); err != nil {
		return fmt.Errorf("unshare mount namespace: %w", err)
	}
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return fmt.Errorf("make / private: %w", err)
	}
	if err := unix.Mount(args[0], "/etc/resolv.conf", "", unix.MS_BIND, ""); err != nil {
		return fmt.Errorf("bind %s over /etc/resolv.conf: %w", args[0], err)
	}
	return syscall.Exec(args[1], args[1:], os.Environ())
}
