package source

import (
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/tcptop/tcptop/internal/conn"
	"github.com/tcptop/tcptop/internal/testnet"
)

func TestUDPUnconnectedServerThreePeers(t *testing.T) {
	for _, addr := range []string{"127.0.0.1", "[::1]"} {
		t.Run(addr, func(t *testing.T) { checkUDPPeers(t, openSource(t), addr) })
	}
}

// checkUDPPeers has three clients exchange 3, 5 and 7 datagrams with one
// unconnected server socket at addr and checks the four sides' flows.
func checkUDPPeers(t *testing.T, s *Source, addr string) {
	t.Helper()
	const reply, size = 300, 100
	rec := newRecorder(s)
	srv := testnet.Start(t, "tt-udpserver", "", "udp-server", addr+":0", strconv.Itoa(reply))
	defer srv.Release()
	counts := []int{3, 5, 7}
	clients := make([]*testnet.Helper, len(counts))
	for i, n := range counts {
		clients[i] = testnet.Start(t, "tt-udpclient", "", "udp-client", addr+":"+strconv.Itoa(srv.Port), strconv.Itoa(n), strconv.Itoa(size))
		clients[i].Wait(t, 30*time.Second)
	}
	rec.poll(t)

	var serverFlows int
	for _, o := range rec.last {
		if o.Proto != conn.UDP || int(o.Local.Port()) != srv.Port {
			continue
		}
		serverFlows++
		i := clientIndex(clients, int(o.Remote.Port()))
		if i < 0 {
			t.Errorf("server flow to unknown peer %v", o.Remote)
			continue
		}
		n := uint64(counts[i])
		if o.PacketsIn != n || o.BytesIn != n*size || o.PacketsOut != n || o.BytesOut != n*reply {
			t.Errorf("server flow to client %d: in %d/%dB out %d/%dB, want in %d/%dB out %d/%dB",
				i, o.PacketsIn, o.BytesIn, o.PacketsOut, o.BytesOut, n, n*size, n, n*reply)
		}
		if int(o.PID) != srv.PID() || o.Comm != "tt-udpserver" || o.Direction != conn.DirIn {
			t.Errorf("server flow pid=%d comm=%q direction=%q, want %d tt-udpserver in (its first datagram came in)", o.PID, o.Comm, o.Direction, srv.PID())
		}
	}
	if serverFlows != 3 {
		t.Errorf("server socket shows %d flows, want 3 (one per peer)", serverFlows)
	}
	for i, c := range clients {
		o, ok := findUDP(rec.last, c.Port, srv.Port)
		if !ok {
			t.Errorf("client %d flow missing", i)
			continue
		}
		n := uint64(counts[i])
		if o.PacketsOut != n || o.BytesOut != n*size || o.PacketsIn != n || o.BytesIn != n*reply || int(o.PID) != c.PID() || o.Direction != conn.DirOut {
			t.Errorf("client %d: %+v", i, o)
		}
	}
}

func clientIndex(hs []*testnet.Helper, port int) int {
	for i, h := range hs {
		if h.Port == port {
			return i
		}
	}
	return -1
}

func findUDP(m map[conn.FlowID]conn.Observation, local, remote int) (conn.Observation, bool) {
	for _, o := range m {
		if o.Proto == conn.UDP && int(o.Local.Port()) == local && int(o.Remote.Port()) == remote {
			return o, true
		}
	}
	return conn.Observation{}, false
}

func TestShortLivedConnectionsAllReported(t *testing.T) { checkShortLived(t, openSource(t)) }

// checkShortLived opens and closes 200 connections between two snapshots
// and checks that each side of each is reported closed once, exactly.
func checkShortLived(t *testing.T, s *Source) { checkClosesAfterStall(t, s, 200, 0) }

// checkClosesAfterStall opens and closes n connections, each sending
// size bytes, while nobody reads the source, then waits stall more before
// the first read, as a stalled reader would: every close must then be
// there once, exact.
func checkClosesAfterStall(t *testing.T, s *Source, n int, stall time.Duration) {
	t.Helper()
	const size = 1000
	rec := newRecorder(s)
	sink := testnet.Start(t, "tt-sink", "", "tcp-sink", "127.0.0.1:0")
	defer sink.Release()
	many := testnet.Start(t, "tt-many", "", "tcp-many", "127.0.0.1:"+strconv.Itoa(sink.Port), strconv.Itoa(n), strconv.Itoa(size))
	began := time.Now()
	many.Wait(t, 120*time.Second)
	if took := time.Since(began); n >= 1000 {
		t.Logf("%d connections opened and closed in %v: %.0f a second", n, took.Round(time.Millisecond), float64(n)/took.Seconds())
	}
	time.Sleep(stall)
	// No snapshot was taken while they ran: all opened and closed
	// between two ticks.
	isClient := func(o conn.Observation) bool { return int(o.Remote.Port()) == sink.Port }
	// A server end is on the sink's port and faces one of the clients: a
	// listener bound to port 0 may get the port of a connection that
	// closed just before, whose close the test's first read then reports
	// (6.1, 2026-12-07: partial, no pid, 0 bytes). Those are logged below,
	// not counted.
	clientPorts := map[uint16]bool{}
	isServer := func(o conn.Observation) bool {
		if int(o.Local.Port()) != sink.Port {
			return false
		}
		if !clientPorts[o.Remote.Port()] {
			for _, c := range rec.closedWith(isClient) {
				clientPorts[c.Local.Port()] = true
			}
		}
		return clientPorts[o.Remote.Port()]
	}
	// The sink closes its side as its goroutines get to it: in an
	// emulated VM on a busy host that can take seconds.
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		rec.poll(t)
		if len(rec.closedWith(isClient)) >= n && len(rec.closedWith(isServer)) >= n {
			break
		}
	}
	for _, side := range []struct {
		name  string
		match func(conn.Observation) bool
		in    uint64
		out   uint64
		pid   int
	}{{"client", isClient, 0, size, many.PID()}, {"server", isServer, size, 0, sink.PID()}} {
		got := rec.closedWith(side.match)
		if len(got) != n {
			t.Errorf("%s: %d closed records, want %d", side.name, len(got), n)
			for _, o := range got {
				if o.BytesIn != side.in || o.BytesOut != side.out || int(o.PID) != side.pid || o.Partial {
					t.Logf("%s: odd closed record: %+v", side.name, o)
				}
			}
			shown := 0
			for _, o := range rec.last {
				if side.match(o) && !o.Closed && shown < 10 {
					t.Logf("%s: not closed: %+v", side.name, o)
					logEntry(t, s, o.ID.Cookie)
					shown++
				}
			}
			logKernelMisses(t, s)
		}
		seen := map[uint64]bool{}
		for _, o := range got {
			if seen[o.ID.Cookie] {
				t.Errorf("%s: connection %d reported closed twice", side.name, o.ID.Cookie)
			}
			seen[o.ID.Cookie] = true
			if o.BytesIn != side.in || o.BytesOut != side.out || int(o.PID) != side.pid || o.Partial {
				t.Errorf("%s: in=%d out=%d pid=%d partial=%v, want in=%d out=%d pid=%d", side.name,
					o.BytesIn, o.BytesOut, o.PID, o.Partial, side.in, side.out, side.pid)
				break
			}
		}
	}
	for _, o := range rec.closedWith(func(o conn.Observation) bool { return int(o.Local.Port()) == sink.Port && !isServer(o) }) {
		t.Logf("closed on the sink's port, not one of this test's connections: %+v", o)
	}
	// Runs the kernel skipped (recursion) are logged even when every close
	// was there: the second release program caught what the first missed.
	if !t.Failed() {
		logKernelMisses(t, s)
	}
}

// Connections older than tcptop are listed from the first tick, partial,
// with their owners and their lifetime totals: the bytes the applications
// wrote and read before tcptop started, derived from the kernel's
// counters, exact. Base equals them, so no delta is counted for what moved
// before; while they stay idle they are not reported again.
func TestPreexistingConnectionLifetimeTotals(t *testing.T) {
	const sent, answered = 123457, 7655
	requireRoot(t)
	srv := testnet.Start(t, "tt-server", "", "tcp-server", "127.0.0.1:0", strconv.Itoa(sent), strconv.Itoa(answered))
	cli := testnet.Start(t, "tt-client", "", "tcp-client", "127.0.0.1:"+strconv.Itoa(srv.Port), strconv.Itoa(sent), strconv.Itoa(answered), "hold")
	defer cli.Release()
	time.Sleep(200 * time.Millisecond) // the exchange is done before tcptop starts

	s := openSource(t)
	s.cfg.SweepEvery = 50 * time.Millisecond
	rec := newRecorder(s)
	rec.poll(t) // the first tick
	var cookie uint64
	var one uint8
	for it := s.objs.Wanted.Iterate(); it.Next(&cookie, &one); {
		t.Errorf("cookie %d still wanted after the first tick's owner lookup", cookie)
	}
	for _, side := range []struct {
		h       *testnet.Helper
		in, out uint64
	}{{cli, answered, sent}, {srv, sent, answered}} {
		o, ok := rec.latest(func(o conn.Observation) bool { return o.Proto == conn.TCP && int(o.Local.Port()) == side.h.Port })
		if !ok {
			t.Fatalf("pre-existing connection of %s not listed in the first tick", side.h.Name)
		}
		if !o.Partial || int(o.PID) != side.h.PID() || o.Comm != side.h.Name || o.State != "ESTABLISHED" {
			t.Errorf("%s: partial=%v pid=%d comm=%q state=%s, want partial pid %d %s ESTABLISHED",
				side.h.Name, o.Partial, o.PID, o.Comm, o.State, side.h.PID(), side.h.Name)
		}
		if o.BytesIn != side.in || o.BytesOut != side.out || o.BaseBytesIn != side.in || o.BaseBytesOut != side.out {
			t.Errorf("%s: bytes in=%d out=%d base in=%d out=%d, want lifetime totals in=%d out=%d, and base the same",
				side.h.Name, o.BytesIn, o.BytesOut, o.BaseBytesIn, o.BaseBytesOut, side.in, side.out)
		}
		if o.PacketsIn == 0 || o.BasePacketsIn != o.PacketsIn || o.BasePacketsOut != o.PacketsOut {
			t.Errorf("%s: packets %d/%d base %d/%d: want lifetime segments, base the same",
				side.h.Name, o.PacketsIn, o.PacketsOut, o.BasePacketsIn, o.BasePacketsOut)
		}
	}
	// Idle: nothing more is reported, sweeps included.
	n := len(rec.all)
	for range 4 {
		time.Sleep(60 * time.Millisecond)
		rec.poll(t)
	}
	for _, o := range rec.all[n:] {
		if int(o.Local.Port()) == cli.Port || int(o.Local.Port()) == srv.Port {
			t.Errorf("idle pre-existing connection reported again: %+v", o)
		}
	}
}

// An accepted connection that no process has read or written yet gets
// its owner, in the tick after it opened at the latest: pid, name, user
// and cgroup, from the owner iterator (5.11+) or from /proc (before).
func TestAcceptedIdleConnectionGetsOwner(t *testing.T) {
	const nobody = 65534
	eachOwnerLookup(t, func(t *testing.T, s *Source) {
		rec := newRecorder(s)
		cg := testnet.NewCgroup(t, "idle-accept")
		srv := testnet.StartAs(t, nobody, "tt-idleaccept", "", "tcp-idle-accept", "127.0.0.1:0")
		defer srv.Release()
		cg.Add(t, srv.PID())
		cl := testnet.Start(t, "tt-client", "", "tcp-client", "127.0.0.1:"+strconv.Itoa(srv.Port), "0", "0", "hold")
		defer cl.Release()
		isServer := func(o conn.Observation) bool { return o.Proto == conn.TCP && int(o.Local.Port()) == srv.Port }
		rec.pollUntil(t, 5*time.Second, func() bool { o, ok := rec.latest(isServer); return ok && o.PID != 0 })
		o, _ := rec.latest(isServer)
		if int(o.PID) != srv.PID() || o.Comm != "tt-idleaccept" || o.Partial || o.BytesIn != 0 || o.BytesOut != 0 {
			t.Errorf("accepted idle connection: %+v, want pid %d tt-idleaccept, not partial, no bytes", o, srv.PID())
		}
		if o.UID != nobody || o.CgroupID != cg.ID {
			t.Errorf("owner's uid %d cgroup %d, want %d and %d (%s)", o.UID, o.CgroupID, nobody, cg.ID, cg.Path)
		}
	})
}

// eachOwnerLookup runs check with a source whose owner lookup is the
// owner iterator (5.11+), then with one that reads /proc as the kernels
// before do.
func eachOwnerLookup(t *testing.T, check func(t *testing.T, s *Source)) {
	requireRoot(t)
	for _, proc := range []bool{false, true} {
		t.Run(map[bool]string{false: "kernel", true: "proc"}[proc], func(t *testing.T) {
			cfg := testConfig(t)
			cfg.ownersFromProc = proc
			s, err := Open(cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if !proc && s.NeedsProcOwners() {
				t.Skip("no owner iterator on this kernel (5.11+): the proc case covers it")
			}
			check(t, s)
		})
	}
}

// With a ring buffer too small for a burst of closes, the programs keep
// closed connections in the map instead; nothing is lost.
func TestCloseBurstOverflowingRingBufferLosesNothing(t *testing.T) {
	const n, size = 200, 1000
	requireRoot(t)
	cfg := testConfig(t)
	cfg.EventBufferBytes = 4096
	s, err := Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	rec := newRecorder(s)
	sink := testnet.Start(t, "tt-sink", "", "tcp-sink", "127.0.0.1:0")
	defer sink.Release()
	testnet.Start(t, "tt-many", "", "tcp-many", "127.0.0.1:"+strconv.Itoa(sink.Port), strconv.Itoa(n), strconv.Itoa(size)).Wait(t, 30*time.Second)
	isClient := func(o conn.Observation) bool { return int(o.Remote.Port()) == sink.Port }
	rec.pollUntil(t, 5*time.Second, func() bool { return len(rec.closedWith(isClient)) >= n })
	rec.poll(t)
	got := rec.closedWith(isClient)
	if len(got) != n {
		t.Fatalf("%d closed records, want %d", len(got), n)
	}
	for _, o := range got {
		if o.BytesOut != size {
			t.Fatalf("closed record with bytes_out=%d, want %d", o.BytesOut, size)
		}
	}
	st, err := s.Stats()
	if err != nil || st.EventsLost == 0 {
		t.Fatalf("stats %+v, %v: the ring buffer never overflowed, so this test proved nothing", st, err)
	}
}

// With a table too small for the connections, those it cannot hold are
// still listed, with what the kernel knows of them: exact application
// bytes and their owners, not marked partial (they opened while tcptop
// ran); each closes once with its final bytes; the drop count counts
// connections, not failed inserts; and nothing is left in the table.
func TestFullTableListsUntrackedExactly(t *testing.T) {
	const conns, out, in = 4, 1300, 2700
	requireRoot(t)
	cfg := testConfig(t)
	cfg.TCPTableSize = 2
	s, err := Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	rec := newRecorder(s)
	rec.poll(t)
	var clients, servers []*testnet.Helper
	for range conns {
		srv := testnet.Start(t, "tt-server", "", "tcp-server", "127.0.0.1:0", strconv.Itoa(out), strconv.Itoa(in))
		c := testnet.Start(t, "tt-client", "", "tcp-client", "127.0.0.1:"+strconv.Itoa(srv.Port), strconv.Itoa(out), strconv.Itoa(in), "hold")
		clients, servers = append(clients, c), append(servers, srv)
	}
	type side struct {
		h       *testnet.Helper
		in, out uint64
	}
	var sides []side
	for i := range clients {
		sides = append(sides, side{clients[i], in, out}, side{servers[i], out, in})
	}
	listed := func(h *testnet.Helper, in, out uint64) bool {
		o, ok := rec.latest(func(o conn.Observation) bool { return o.Proto == conn.TCP && int(o.Local.Port()) == h.Port })
		return ok && o.BytesIn == in && o.BytesOut == out && int(o.PID) == h.PID()
	}
	rec.pollUntil(t, 5*time.Second, func() bool {
		for _, sd := range sides {
			if !listed(sd.h, sd.in, sd.out) {
				return false
			}
		}
		return true
	})
	untracked := 0
	for _, sd := range sides {
		o, _ := rec.latest(func(o conn.Observation) bool { return o.Proto == conn.TCP && int(o.Local.Port()) == sd.h.Port })
		if o.Partial {
			t.Errorf("%s: opened while tcptop ran, marked partial: %+v", sd.h.Name, o)
		}
		if o.Untracked {
			untracked++
		}
	}
	if untracked < 2*conns-2 {
		t.Errorf("only %d of %d sockets untracked with a table of 2: the test proves little", untracked, 2*conns)
	}
	cookies := map[uint64]bool{}
	for _, o := range rec.all {
		if o.Untracked {
			cookies[o.ID.Cookie] = true
		}
	}
	if st, _ := s.Stats(); st.TCPUntracked != uint64(len(cookies)) {
		t.Errorf("drop count %d, want %d: one per connection not tracked", st.TCPUntracked, len(cookies))
	}
	for _, c := range clients {
		c.Release()
	}
	for _, h := range append(append([]*testnet.Helper{}, clients...), servers...) {
		h.Wait(t, 10*time.Second)
	}
	isOurs := func(o conn.Observation) bool {
		for _, sd := range sides {
			if int(o.Local.Port()) == sd.h.Port {
				return true
			}
		}
		return false
	}
	rec.pollUntil(t, 5*time.Second, func() bool { return len(rec.closedWith(isOurs)) == 2*conns })
	rec.poll(t)
	for _, sd := range sides {
		checkClosedOnceAllowUntracked(t, rec, sd.h, sd.in, sd.out)
	}
}

// checkClosedOnceAllowUntracked is checkClosedOnce for one connection that
// may have been untracked.
func checkClosedOnceAllowUntracked(t *testing.T, rec *recorder, h *testnet.Helper, in, out uint64) {
	t.Helper()
	got := rec.closedWith(func(o conn.Observation) bool { return o.Proto == conn.TCP && int(o.Local.Port()) == h.Port })
	if len(got) != 1 {
		t.Errorf("%s: %d closed records, want 1", h.Name, len(got))
		return
	}
	if o := got[0]; o.BytesIn != in || o.BytesOut != out || o.Partial {
		t.Errorf("%s: closed with in=%d out=%d partial=%v, want in=%d out=%d", h.Name, o.BytesIn, o.BytesOut, o.Partial, in, out)
	}
	if after := rec.after(map[uint64]bool{got[0].ID.Cookie: true}); len(after) > 0 {
		t.Errorf("%s: reported after its close: %+v", h.Name, after)
	}
}

// A failed kernel read (what a failed sock_diag dump was) loses news for
// a tick, never connections: none is taken for closed, and when reads
// work again their counters are right and each closes once.
func TestFailedReadsInferNoClose(t *testing.T) {
	const out, in = 4321, 8765
	s := openSource(t)
	rec := newRecorder(s)
	srv := testnet.Start(t, "tt-server", "", "tcp-server", "127.0.0.1:0", strconv.Itoa(out), strconv.Itoa(in))
	cl := testnet.Start(t, "tt-client", "", "tcp-client", "127.0.0.1:"+strconv.Itoa(srv.Port), strconv.Itoa(out), strconv.Itoa(in), "hold")
	isClient := func(o conn.Observation) bool { return o.Proto == conn.TCP && int(o.Local.Port()) == cl.Port }
	rec.pollUntil(t, 5*time.Second, func() bool { o, ok := rec.latest(isClient); return ok && o.BytesIn == in })
	s.readFault = errors.New("injected read failure")
	for range 3 {
		rec.poll(t)
		time.Sleep(50 * time.Millisecond)
	}
	s.readFault = nil
	rec.poll(t)
	if c := rec.closedWith(isClient); len(c) > 0 {
		t.Fatalf("connection taken for closed while reads failed: %+v", c)
	}
	cl.Release()
	cl.Wait(t, 10*time.Second)
	rec.pollUntil(t, 5*time.Second, func() bool { return len(rec.closedWith(isClient)) == 1 })
	checkClosedOnce(t, rec, "client", 1, isClient, in, out)
}

// A dual-stack IPv6 socket talking to an IPv4 peer sees IPv4-mapped
// addresses; users see plain IPv4.
func TestMappedAddressesShownAsIPv4(t *testing.T) {
	s := openSource(t)
	rec := newRecorder(s)
	srv := testnet.Start(t, "tt-server", "", "tcp-server", "[::]:0", "100", "100")
	cl := testnet.Start(t, "tt-client", "", "tcp-client", "127.0.0.1:"+strconv.Itoa(srv.Port), "100", "100")
	cl.Wait(t, 10*time.Second)
	srv.Wait(t, 10*time.Second)
	usrv := testnet.Start(t, "tt-udpserver", "", "udp-server", "[::]:0", "10")
	defer usrv.Release()
	ucl := testnet.Start(t, "tt-udpclient", "", "udp-client", "127.0.0.1:"+strconv.Itoa(usrv.Port), "1", "10")
	ucl.Wait(t, 10*time.Second)
	isServer := func(o conn.Observation) bool { return o.Proto == conn.TCP && int(o.Local.Port()) == srv.Port }
	rec.pollUntil(t, 5*time.Second, func() bool { return len(rec.closedWith(isServer)) == 1 })
	o := rec.closedWith(isServer)[0]
	if o.Local.Addr().String() != "127.0.0.1" || o.Remote.Addr().String() != "127.0.0.1" || o.Family() != "ipv4" {
		t.Errorf("dual-stack TCP server side: %v -> %v (%s), want 127.0.0.1 both, ipv4", o.Local, o.Remote, o.Family())
	}
	u, ok := findUDP(rec.last, usrv.Port, ucl.Port)
	if !ok {
		t.Fatal("dual-stack UDP server flow missing")
	}
	if u.Local.Addr().String() != "0.0.0.0" || u.Remote.Addr().String() != "127.0.0.1" || u.Family() != "ipv4" || u.BytesIn != 10 {
		t.Errorf("dual-stack UDP server flow: %v -> %v (%s) in=%d, want 0.0.0.0 -> 127.0.0.1, ipv4, 10 bytes", u.Local, u.Remote, u.Family(), u.BytesIn)
	}
}

// Connections older than tcptop in another network namespace are listed
// from the first tick too, with their namespace and lifetime totals; the
// one on a listening port counts as accepted.
func TestPreexistingInAnotherNamespace(t *testing.T) {
	requireRoot(t)
	ns := "tt-pre" + strconv.Itoa(int(time.Now().UnixNano()%100000))
	testnet.AddNetns(t, ns)
	echo := testnet.Start(t, "tt-echo", ns, "tcp-echo", "127.0.0.1:0")
	defer echo.Release()
	cl := testnet.Start(t, "tt-reqresp", ns, "tcp-reqresp", "127.0.0.1:"+strconv.Itoa(echo.Port), "3", "500", "1ms")
	defer cl.Release()
	time.Sleep(200 * time.Millisecond) // done before tcptop starts

	s := openSource(t)
	rec := newRecorder(s)
	rec.poll(t)
	inode, err := nsInode("/run/netns/" + ns)
	if err != nil {
		t.Fatal(err)
	}
	find := func(local, remote int) conn.Observation {
		o, ok := rec.latest(func(o conn.Observation) bool {
			return o.Proto == conn.TCP && int(o.Local.Port()) == local && int(o.Remote.Port()) == remote && o.NetNS == uint32(inode)
		})
		if !ok {
			self, _ := nsInode("/proc/self/ns/net")
			t.Logf("namespaces swept at start (ours is %d): %v", self, namespaces("/proc", self))
			rec.logTCP(t)
			t.Fatalf("connection %d → %d in namespace %s not listed in the first tick", local, remote, ns)
		}
		return o
	}
	client, server := find(cl.Port, echo.Port), find(echo.Port, cl.Port)
	for _, c := range []struct {
		name string
		o    conn.Observation
		dir  conn.Direction
		h    *testnet.Helper
	}{{"client", client, conn.DirUnknown, cl}, {"server", server, conn.DirIn, echo}} {
		if !c.o.Partial || c.o.BytesIn != 1500 || c.o.BytesOut != 1500 || c.o.Direction != c.dir || int(c.o.PID) != c.h.PID() {
			t.Errorf("%s: partial=%v in=%d out=%d direction=%q pid=%d, want partial, 1500 each way, direction %q, pid %d",
				c.name, c.o.Partial, c.o.BytesIn, c.o.BytesOut, c.o.Direction, c.o.PID, c.dir, c.h.PID())
		}
	}
	st, err := s.Stats()
	if err != nil || st.TCPEntries < 2 || st.TCPEntries > st.TCPTableSize {
		t.Errorf("table fill %d of %d (%v): want at least these two", st.TCPEntries, st.TCPTableSize, err)
	}
}

// logKernelMisses says what the kernel side may have missed: events that
// found the ring buffer full, and runs of the state program the kernel
// skipped because it was already running on that CPU (a softirq
// interrupting it in process context), and a kprobe's own missed hits.
// logEntry logs what the kernel holds for a connection left open: its
// table entry's socket address, flags and ticks, whether its cookie is
// among the closes noted lately, and whether it is on the hot list. These
// are the inputs of close_missed (bpf/iter.h), which did not close it.
func logEntry(t *testing.T, s *Source, cookie uint64) {
	t.Helper()
	var e tcptopTcpConn
	if err := s.objs.TcpConns.Lookup(cookie, &e); err != nil {
		t.Logf("  entry %d: %v", cookie, err)
		return
	}
	var noted uint8
	var h tcptopHotSock
	t.Logf("  entry %d: sk=%#x flags=%#x state=%d hot_tick=%d sweep_tick=%d (tick %d) noted closed=%v on hot list=%v",
		cookie, e.Sk, e.Flags, e.State, e.HotTick, e.SweepTick, s.tick,
		s.objs.RecentCloses.Lookup(cookie, &noted) == nil, s.objs.Hot.Lookup(cookie, &h) == nil)
}

func logKernelMisses(t *testing.T, s *Source) {
	st, err := s.Stats()
	t.Logf("kernel side: %+v (%v)", st, err)
	for _, l := range s.links { // a kprobe's or kretprobe's own misses (6.7+)
		info, err := l.Info()
		if err != nil || info.PerfEvent() == nil {
			continue
		}
		if kp := info.PerfEvent().Kprobe(); kp != nil && kp.Missed > 0 {
			t.Logf("kprobe link %s: %d hits missed", kp.Function, kp.Missed)
		}
	}
	for _, p := range s.allPrograms() {
		if ps, err := p.Stats(); err == nil && ps.RecursionMisses > 0 {
			name := p.String()
			if info, err := p.Info(); err == nil {
				name = info.Name
			}
			t.Logf("%s: %d runs skipped by the kernel (recursion)", name, ps.RecursionMisses)
		}
	}
}
