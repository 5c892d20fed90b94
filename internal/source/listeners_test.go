package source

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tcptop/tcptop/internal/conn"
	"github.com/tcptop/tcptop/internal/testnet"
)

// listenView is one stable look at a listener: tcptop's reading of it,
// taken between two reads of its namespace's counters that agree.
type listenView struct {
	l           conn.Listener
	listenDrops uint64 // TcpExtListenDrops of the namespace (what nstat reads)
	deferDrops  uint64 // TcpExtTCPDeferAcceptDrop of the namespace
	synRecv     int    // request sockets of the port in /proc/net/tcp
}

// TestListenerQueueFullAndDrops: a listener with backlog 1 that never
// accepts, and 20 clients connecting at once, in a fresh network
// namespace. The accept queue holds exactly what the kernel allows
// (sk_acceptq_is_full is sk_ack_backlog > sk_max_ack_backlog: 2 of 1),
// listen_drops is TcpExtListenDrops of the namespace (fresh: both began
// at 0), and so are their deltas over the same interval; the SYN queue
// is the port's SYN_RECV sockets as /proc/net/tcp lists them.
func TestListenerQueueFullAndDrops(t *testing.T) {
	ns, ino, l := listenersInFreshNetns(t, "tcptop-lq")
	h := testnet.Start(t, "tcptop-backlog", ns, "tcp-backlog", "1", "20")
	first := stableListener(t, l, ino, h.PID(), h.Port, func(v listenView) bool { return v.l.AcceptQueue == 2 && v.listenDrops > 0 })
	checkListener(t, first, h.Port)
	// SYNs and handshake ACKs come again on the peers' timers (1 s, 3 s
	// ...): the next look, 2 s on, has more drops.
	time.Sleep(2 * time.Second)
	second := stableListener(t, l, ino, h.PID(), h.Port, func(v listenView) bool { return v.listenDrops > first.listenDrops })
	checkListener(t, second, h.Port)
	if got, want := second.l.Drops-first.l.Drops, second.listenDrops-first.listenDrops; uint64(got) != want {
		t.Errorf("listen drops gained %d, TcpExtListenDrops gained %d over the same interval", got, want)
	}
	compareNstat(t, ns, h.PID())
	t.Logf("first %+v; second %+v", first, second)
}

func checkListener(t *testing.T, v listenView, port int) {
	t.Helper()
	l := v.l
	if l.Local.Port() != uint16(port) || l.Local.Addr().String() != "127.0.0.1" {
		t.Errorf("listener at %v, want 127.0.0.1:%d", l.Local, port)
	}
	if l.AcceptQueueMax != 1 || l.AcceptQueue != l.AcceptQueueMax+1 {
		t.Errorf("accept queue %d of %d, want 2 of 1 (full: sk_ack_backlog > sk_max_ack_backlog)", l.AcceptQueue, l.AcceptQueueMax)
	}
	if uint64(l.Drops) != v.listenDrops {
		t.Errorf("listen drops %d, TcpExtListenDrops of the namespace %d", l.Drops, v.listenDrops)
	}
	if int(l.SynQueue) != v.synRecv {
		t.Errorf("SYN queue %d, /proc/net/tcp has %d SYN_RECV sockets on the port", l.SynQueue, v.synRecv)
	}
	if l.PID == 0 || l.Comm != "tcptop-backlog" {
		t.Errorf("owner %d %q, want the helper tcptop-backlog", l.PID, l.Comm)
	}
}

// stableListener reads the listener on port in namespace ino between two
// reads of the namespace's counters (through the helper pid's
// /proc/PID/net) and returns the first look where they agree and ok
// holds: the peers' retransmits come on timers, so a look between two
// of them is exact.
func stableListener(t *testing.T, l *Listeners, ino uint64, pid, port int, ok func(listenView) bool) listenView {
	t.Helper()
	deadline := time.Now().Add(40 * time.Second) // SYNs come again at 1, 3, 7, 15, 31 s
	for time.Now().Before(deadline) {
		d1, f1, s1 := netnsCounters(t, pid, port)
		var v listenView
		found := false
		if err := l.Read(func(c *conn.Listener) {
			if uint64(c.NetNS) == ino && int(c.Local.Port()) == port {
				v.l, found = *c, true
			}
		}); err != nil {
			t.Fatal(err)
		}
		d2, f2, s2 := netnsCounters(t, pid, port)
		v.listenDrops, v.deferDrops, v.synRecv = d2, f2, s2
		if found && d1 == d2 && f1 == f2 && s1 == s2 && ok(v) {
			return v
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("no stable look at the listener on port %d in 40 s", port)
	return listenView{}
}

// netnsCounters reads TcpExtListenDrops and TcpExtTCPDeferAcceptDrop
// from /proc/PID/net/netstat and
// counts the SYN_RECV (03) sockets on port in /proc/PID/net/tcp: the
// network namespace of process pid, as nstat and ss there would.
func netnsCounters(t *testing.T, pid, port int) (drops, deferDrops uint64, synRecv int) {
	t.Helper()
	drops = netstatValue(t, fmt.Sprintf("/proc/%d/net/netstat", pid), "TcpExt:", "ListenDrops")
	deferDrops = netstatValue(t, fmt.Sprintf("/proc/%d/net/netstat", pid), "TcpExt:", "TCPDeferAcceptDrop")
	f, err := os.Open(fmt.Sprintf("/proc/%d/net/tcp", pid))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	local := fmt.Sprintf(":%04X", port)
	for sc.Scan() {
		fs := strings.Fields(sc.Text())
		if len(fs) > 3 && strings.HasSuffix(fs[1], local) && fs[3] == "03" {
			synRecv++
		}
	}
	return drops, deferDrops, synRecv
}

// netstatValue reads one counter of /proc/net/netstat's format: a line of
// names after prefix, then a line of values.
func netstatValue(t *testing.T, path, prefix, name string) uint64 {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(b), "\n")
	for i := 0; i+1 < len(lines); i += 2 {
		names, values := strings.Fields(lines[i]), strings.Fields(lines[i+1])
		if len(names) == 0 || names[0] != prefix || len(values) != len(names) {
			continue
		}
		for j, n := range names {
			if n == name {
				v, err := strconv.ParseUint(values[j], 10, 64)
				if err != nil {
					t.Fatal(err)
				}
				return v
			}
		}
	}
	t.Fatalf("%s: no %s %s", path, prefix, name)
	return 0
}

// TestListenerSynQueue: a listener with TCP_DEFER_ACCEPT keeps each
// handshake whose last ACK carries no data in its SYN queue, so 5 clients
// that send nothing leave exactly 5 request sockets; the accept queue is
// empty. Each such ACK is dropped by tcp_v4_rcv after tcp_check_req
// refused it (discard_and_relse: sk_drops of the listener), counted as
// TcpExtTCPDeferAcceptDrop and not as TcpExtListenDrops: listen_drops
// counts it, as docs/fields.md says.
func TestListenerSynQueue(t *testing.T) {
	ns, ino, l := listenersInFreshNetns(t, "tcptop-sq")
	h := testnet.Start(t, "tcptop-backlog", ns, "tcp-backlog-defer", "16", "5")
	v := stableListener(t, l, ino, h.PID(), h.Port, func(v listenView) bool { return v.synRecv == 5 })
	if v.l.SynQueue != 5 || v.l.AcceptQueue != 0 || v.l.AcceptQueueMax != 16 {
		t.Errorf("SYN queue %d, accept queue %d of %d; want 5, 0 of 16", v.l.SynQueue, v.l.AcceptQueue, v.l.AcceptQueueMax)
	}
	// 5 at once (each client's ACK); SYN-ACKs sent again (from 1 s on,
	// where the look comes late, as under emulation) bring one more each.
	if v.listenDrops != 0 || uint64(v.l.Drops) != v.deferDrops || v.deferDrops < 5 {
		t.Errorf("listen drops %d, TcpExtListenDrops %d, TcpExtTCPDeferAcceptDrop %d; want n >= 5, 0, n", v.l.Drops, v.listenDrops, v.deferDrops)
	}
	t.Logf("%+v", v)
}

// listenersInFreshNetns makes a network namespace and opens the reader
// of listeners after it, so that the reader watches it.
func listenersInFreshNetns(t *testing.T, prefix string) (string, uint64, *Listeners) {
	requireRoot(t)
	ns, ino := testnet.Netns(t, prefix)
	l, err := OpenListeners("")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return ns, ino, l
}

// compareNstat checks, where nstat and nsenter are installed (the test
// VMs have neither), that nstat in the namespace reads the same
// TcpExtListenDrops as /proc/PID/net/netstat does, when the counter did
// not move meanwhile: the value the test compares tcptop's with is
// nstat's.
func compareNstat(t *testing.T, ns string, pid int) {
	t.Helper()
	if _, err := exec.LookPath("nstat"); err != nil {
		t.Log("no nstat here: compared with /proc/PID/net/netstat only")
		return
	}
	if _, err := exec.LookPath("nsenter"); err != nil {
		t.Log("no nsenter here: compared with /proc/PID/net/netstat only")
		return
	}
	path := fmt.Sprintf("/proc/%d/net/netstat", pid)
	for range 20 {
		before := netstatValue(t, path, "TcpExt:", "ListenDrops")
		out, err := exec.Command("nsenter", "--net=/run/netns/"+ns, "nstat", "-asz", "TcpExtListenDrops").Output()
		if err != nil {
			t.Fatalf("nstat: %v", err)
		}
		after := netstatValue(t, path, "TcpExt:", "ListenDrops")
		if before != after {
			continue
		}
		var got uint64
		for _, line := range strings.Split(string(out), "\n") {
			if f := strings.Fields(line); len(f) >= 2 && f[0] == "TcpExtListenDrops" {
				got, _ = strconv.ParseUint(f[1], 10, 64)
			}
		}
		if got != before {
			t.Errorf("nstat says TcpExtListenDrops %d, /proc/%d/net/netstat %d", got, pid, before)
		}
		return
	}
	t.Error("TcpExtListenDrops moved during each of 20 reads by nstat")
}
