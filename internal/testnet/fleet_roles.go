package testnet

import (
	"bufio"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/tcptop/tcptop/internal/cgroup"
	"golang.org/x/sys/unix"
)

func init() {
	roles["tcp-client-gated"] = tcpClientGated
	roles["tcp-client-cgroup"] = tcpClientCgroup
}

// tcpClientGated ADDR LOCALPORT OUT IN: print ready, wait for a line on
// stdin (the test moves the process into a cgroup meanwhile), then
// connect from LOCALPORT, send OUT bytes, read IN bytes, and hold the
// connection until stdin closes.
func tcpClientGated(args []string) error {
	in, err := readyWaitGo()
	if err != nil {
		return err
	}
	return exchangeAndHold(in, args)
}

// readyWaitGo prints ready and waits for a line on stdin.
func readyWaitGo() (*bufio.Reader, error) {
	ready(0)
	in := bufio.NewReader(os.Stdin)
	if _, err := in.ReadString('\n'); err != nil {
		return nil, fmt.Errorf("wait for go: %w", err)
	}
	return in, nil
}

// tcpClientCgroup DIR ADDR LOCALPORT OUT IN is tcpClientGated that, on
// the line, makes cgroup DIR and moves itself into it before it
// connects: as a user may in a cgroup subtree delegated to it.
func tcpClientCgroup(args []string) error {
	in, err := readyWaitGo()
	if err != nil {
		return err
	}
	if err := os.Mkdir(args[0], 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(args[0], "cgroup.procs"), []byte("0"), 0); err != nil {
		return fmt.Errorf("move into %s: %w", args[0], err)
	}
	return exchangeAndHold(in, args[1:])
}

// exchangeAndHold ADDR LOCALPORT OUT IN: connect from LOCALPORT, send
// OUT bytes, read IN bytes, and hold the connection until in closes.
func exchangeAndHold(in io.Reader, args []string) error {
	d := net.Dialer{LocalAddr: &net.TCPAddr{Port: atoi(args[1])}}
	c, err := d.Dial("tcp", args[0])
	if err != nil {
		return err
	}
	defer c.Close()
	if _, err := c.Write(make([]byte, atoi(args[2]))); err != nil {
		return err
	}
	if _, err := io.CopyN(io.Discard, c, int64(atoi(args[3]))); err != nil {
		return fmt.Errorf("read reply: %w", err)
	}
	_, _ = io.Copy(io.Discard, in)
	return nil
}

// Say writes a line to the helper's stdin (tcp-client-gated waits for
// one).
func (h *Helper) Say(t testing.TB, line string) {
	t.Helper()
	if _, err := io.WriteString(h.stdin, line+"\n"); err != nil {
		t.Fatalf("helper %s: %v", h.Name, err)
	}
}

// Cgroup is a cgroup v2 made for a test under the hierarchy's root.
type Cgroup struct {
	Dir  string // its directory
	Path string // relative to the hierarchy's root, as tcptop writes it
	ID   uint64 // its id (the directory's inode number)
}

var cgroupSeq atomic.Int64

// NewCgroup makes the cgroup tcptop-test-PID-N/name under the cgroup v2
// hierarchy; it is removed when the test ends, after its processes are
// moved back to the root.
func NewCgroup(t testing.TB, name string) *Cgroup {
	t.Helper()
	root, err := cgroup.Mount()
	if err != nil {
		t.Fatalf("cgroup v2: %v", err)
	}
	parent := filepath.Join(root, fmt.Sprintf("tcptop-test-%d-%d", os.Getpid(), cgroupSeq.Add(1)))
	dir := filepath.Join(parent, name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatalf("make cgroup: %v", err)
	}
	t.Cleanup(func() { removeCgroups(root, dir, parent) })
	var st os.FileInfo
	if st, err = os.Stat(dir); err != nil {
		t.Fatal(err)
	}
	return &Cgroup{Dir: dir, Path: strings.TrimPrefix(dir, root), ID: inode(st)}
}

// removeCgroups removes dirs and the cgroups a test made below them,
// innermost first, after moving their processes to the root.
func removeCgroups(root string, dirs ...string) {
	var all []string
	_ = filepath.WalkDir(dirs[0], func(path string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			all = append(all, path)
		}
		return nil
	})
	for _, d := range all {
		b, _ := os.ReadFile(filepath.Join(d, "cgroup.procs"))
		for _, pid := range strings.Fields(string(b)) {
			_ = os.WriteFile(filepath.Join(root, "cgroup.procs"), []byte(pid), 0)
		}
	}
	slices.Reverse(all)
	for _, d := range append(all, dirs[1:]...) {
		for i := 0; os.Remove(d) != nil && i < 50; i++ {
			time.Sleep(20 * time.Millisecond) // a process still leaving
		}
	}
}

// Delegate hands the cgroup to user uid the way systemd does for a unit
// with Delegate=yes and User=: the directory and the files its owner
// needs to make and fill cgroups below it are chowned, and it is marked
// trusted.delegate and user.delegate.
func (c *Cgroup) Delegate(t testing.TB, uid int) {
	t.Helper()
	for _, f := range []string{"", "cgroup.procs", "cgroup.subtree_control", "cgroup.threads"} {
		if err := os.Chown(filepath.Join(c.Dir, f), uid, uid); err != nil {
			t.Fatalf("delegate %s: %v", c.Path, err)
		}
	}
	for _, x := range []string{"trusted.delegate", "user.delegate"} {
		if err := unix.Setxattr(c.Dir, x, []byte("1"), 0); err != nil {
			t.Fatalf("delegate %s: set %s: %v", c.Path, x, err)
		}
	}
}

// Add moves process pid into the cgroup.
func (c *Cgroup) Add(t testing.TB, pid int) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(c.Dir, "cgroup.procs"), []byte(strconv.Itoa(pid)), 0); err != nil {
		t.Fatalf("move %d into %s: %v", pid, c.Path, err)
	}
}

// Netns makes a network namespace with its loopback up and returns its
// name and inode number (what tcptop writes as netns); it is deleted when
// the test ends.
func Netns(t testing.TB, prefix string) (name string, ino uint64) {
	t.Helper()
	name = fmt.Sprintf("%s%d-%d", prefix, os.Getpid()%100000, cgroupSeq.Add(1))
	return name, AddNetns(t, name)
}

func inode(fi os.FileInfo) uint64 {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return st.Ino
	}
	return 0
}
