package source

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"

	"golang.org/x/sys/unix"

	"github.com/tcptop/tcptop/internal/conn"
)

// Listeners reads the listening TCP sockets of every network namespace
// with sock_diag (the netlink interface behind ss -ltn): their queues
// come from the kernel's own socket fields, with no BPF program, so they
// read the same on every kernel tcptop runs on.
//
// A sock_diag socket answers for the namespace it was made in, wherever
// it is read from: one is made in each namespace when the reader opens
// (which needs CAP_SYS_ADMIN, held only then), and kept. Namespaces made
// after tcptop started are not seen (docs/design.md), and the socket
// holds its namespace alive until tcptop ends.
type Listeners struct {
	socks    []nsDiag
	procRoot string
	buf      []byte
	reqs     [2][]byte              // the dumps of listeners, IPv4 and IPv6
	synReq   []byte                 // the dump of request sockets, both families
	owners   map[uint32]listenOwner // by socket inode
	reads    uint64
	found    []diagSock // one read's listeners, reused
	queues   []uint32   // their SYN queues
	syn      []netip.AddrPort
}

type nsDiag struct {
	fd    int
	netns uint32
}

// listenOwner is a listener's owner as /proc last said (pid 0: none
// found), and the read that last saw the listener.
type listenOwner struct {
	pid, uid uint32
	comm     string
	seen     uint64
}

// OpenListeners makes a sock_diag socket in tcptop's network namespace
// and in every other one (procRoot is where /proc is mounted, "" for
// /proc).
func OpenListeners(procRoot string) (*Listeners, error) {
	l, err := listenersHere(procRoot)
	if err != nil {
		return nil, err
	}
	var nsErr error
	err = inOtherNamespaces(l.procRoot, func(p string) {
		if err := l.open(p); err != nil && nsErr == nil {
			nsErr = err
		}
	})
	if err = errors.Join(err, nsErr); err != nil {
		l.Close()
		return nil, fmt.Errorf("listeners: %w", err)
	}
	return l, nil
}

// listenersHere is a reader of the listeners of tcptop's own namespace.
func listenersHere(procRoot string) (*Listeners, error) {
	if procRoot == "" {
		procRoot = "/proc"
	}
	l := &Listeners{procRoot: procRoot, buf: make([]byte, 1<<16), owners: map[uint32]listenOwner{}}
	l.reqs[0] = diagRequest(unix.AF_INET, 1<<tcpListen, true, 1)
	l.reqs[1] = diagRequest(unix.AF_INET6, 1<<tcpListen, true, 2)
	l.synReq = diagRequestBothFamilies(1<<tcpSynRecv, 3)
	if err := l.open(filepath.Join(procRoot, "self/ns/net")); err != nil {
		return nil, err
	}
	return l, nil
}

// open makes a sock_diag socket in the current namespace, whose path
// (for its inode) is nsPath.
func (l *Listeners) open(nsPath string) error {
	ino, err := nsInode(nsPath)
	if err != nil {
		return err
	}
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_SOCK_DIAG)
	if err != nil {
		return fmt.Errorf("sock_diag socket: %w", err)
	}
	l.socks = append(l.socks, nsDiag{fd: fd, netns: uint32(ino)})
	return nil
}

// Namespaces is how many network namespaces the reader watches.
func (l *Listeners) Namespaces() int { return len(l.socks) }

// Close closes the sock_diag sockets.
func (l *Listeners) Close() error {
	for _, s := range l.socks {
		unix.Close(s.fd)
	}
	l.socks = nil
	return nil
}

// Read dumps the listeners of every namespace and calls fn for each.
// The Listener is reused: fn copies what it keeps.
func (l *Listeners) Read(fn func(*conn.Listener)) error {
	l.reads++
	l.found, l.syn, l.queues = l.found[:0], l.syn[:0], l.queues[:0]
	for _, s := range l.socks {
		if err := l.readNamespace(s); err != nil {
			return fmt.Errorf("listeners of network namespace %d: %w", s.netns, err)
		}
	}
	l.resolveOwners()
	var out conn.Listener
	for i := range l.found {
		d := &l.found[i]
		w := l.owners[d.inode]
		out = conn.Listener{Cookie: d.cookie, NetNS: d.netns, Local: d.local, Inode: d.inode, UID: w.uid,
			PID: w.pid, Comm: w.comm, AcceptQueue: d.rqueue, AcceptQueueMax: d.wqueue, Drops: d.drops, SynQueue: l.queues[i]}
		fn(&out)
	}
	return nil
}

// readNamespace dumps the listeners of one namespace (the kernel walks
// its listening hash: cheap), then, only where there are some, its
// request sockets, for their SYN queues: for those the kernel walks its
// whole established hash, shared by every namespace (docs/design.md
// measures it), once for both families.
func (l *Listeners) readNamespace(s nsDiag) error {
	first := len(l.found)
	for _, req := range l.reqs {
		err := diagDump(s.fd, req, l.buf, func(d *diagSock) {
			d.netns = s.netns
			l.found = append(l.found, *d)
		})
		if err != nil {
			return err
		}
	}
	if len(l.found) == first {
		return nil
	}
	l.syn = l.syn[:0]
	err := diagDump(s.fd, l.synReq, l.buf, func(d *diagSock) {
		if d.state == tcpSynRecv {
			l.syn = append(l.syn, d.local)
		}
	})
	if err != nil {
		return err
	}
	l.queues = append(l.queues, synQueues(l.found[first:], l.syn)...)
	return nil
}

// resolveOwners finds who holds each listener's socket (socket inodes are
// unique on the host): from the cache while that process lives, else by
// one scan of /proc/*/fd (ss -p's way) for every listener not known. A
// scan is dear (a readlink per open file on the host), so it runs only
// for a listener new to tcptop or whose owner exited; one whose owner was
// not found (a process in a PID namespace tcptop cannot see) is looked
// for again only then, with the others. Owners of listeners gone are
// forgotten.
func (l *Listeners) resolveOwners() {
	var want map[uint32]bool
	for i := range l.found {
		ino := l.found[i].inode
		w, ok := l.owners[ino]
		if ok && (w.pid == 0 || l.alive(w.pid)) {
			w.seen = l.reads
			l.owners[ino] = w
			continue
		}
		if want == nil {
			want = map[uint32]bool{}
		}
		want[ino] = true
	}
	if want != nil {
		for ino, w := range l.owners {
			if w.pid == 0 && w.seen == l.reads {
				want[ino] = true
			}
		}
		found := ownersByInode(l.procRoot, "", want)
		for ino := range want {
			o := found[ino]
			l.owners[ino] = listenOwner{pid: o.pid, uid: o.uid, comm: o.comm, seen: l.reads}
		}
	}
	for k, w := range l.owners {
		if w.seen != l.reads {
			delete(l.owners, k)
		}
	}
}

func (l *Listeners) alive(pid uint32) bool {
	_, err := os.Stat(l.procRoot + "/" + strconv.FormatUint(uint64(pid), 10))
	return err == nil
}
