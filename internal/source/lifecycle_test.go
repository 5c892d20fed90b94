package source

import (
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
		if int(o.PID) != srv.PID() || o.Comm != "tt-udpserver" {
			t.Errorf("server flow pid=%d comm=%q, want %d tt-udpserver", o.PID, o.Comm, srv.PID())
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
		if o.PacketsOut != n || o.BytesOut != n*size || o.PacketsIn != n || o.BytesIn != n*reply || int(o.PID) != c.PID() {
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
func checkShortLived(t *testing.T, s *Source) {
	t.Helper()
	const n, size = 200, 1000
	rec := newRecorder(s)
	sink := testnet.Start(t, "tt-sink", "", "tcp-sink", "127.0.0.1:0")
	defer sink.Release()
	many := testnet.Start(t, "tt-many", "", "tcp-many", "127.0.0.1:"+strconv.Itoa(sink.Port), strconv.Itoa(n), strconv.Itoa(size))
	many.Wait(t, 30*time.Second)
	// No snapshot was taken while they ran: all 200 opened and closed
	// between two ticks.
	isClient := func(o conn.Observation) bool { return int(o.Remote.Port()) == sink.Port }
	isServer := func(o conn.Observation) bool { return int(o.Local.Port()) == sink.Port }
	// The sink closes its side as its goroutines get to it: in an
	// emulated VM on a busy host that can take seconds.
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
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
			for _, o := range rec.last {
				if side.match(o) && !o.Closed {
					t.Logf("%s: not closed: %+v", side.name, o)
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
}

func TestPreexistingConnectionIsPartialWithOwner(t *testing.T) {
	requireRoot(t)
	srv := testnet.Start(t, "tt-server", "", "tcp-server", "127.0.0.1:0", "1000", "2000")
	cli := testnet.Start(t, "tt-client", "", "tcp-client", "127.0.0.1:"+strconv.Itoa(srv.Port), "1000", "2000", "hold")
	defer cli.Release()
	time.Sleep(200 * time.Millisecond) // the exchange is done before tcptop starts

	s := openSource(t)
	rec := newRecorder(s)
	obs := rec.poll(t) // the first tick
	var found bool
	for _, o := range obs {
		if o.Proto != conn.TCP || int(o.Local.Port()) != cli.Port {
			continue
		}
		found = true
		if !o.Partial || int(o.PID) != cli.PID() || o.Comm != "tt-client" || o.State != "ESTABLISHED" {
			t.Errorf("pre-existing client connection: partial=%v pid=%d comm=%q state=%s, want partial pid %d tt-client ESTABLISHED",
				o.Partial, o.PID, o.Comm, o.State, cli.PID())
		}
		if o.BytesIn != 0 || o.BytesOut != 0 {
			t.Errorf("partial connection counts bytes from before tcptop: in=%d out=%d", o.BytesIn, o.BytesOut)
		}
	}
	if !found {
		t.Fatal("pre-existing connection not listed in the first snapshot")
	}
}

// With a ring buffer too small for a burst of closes, the programs keep
// closed connections in the map instead; nothing is lost.
func TestCloseBurstOverflowingRingBufferLosesNothing(t *testing.T) {
	const n, size = 200, 1000
	requireRoot(t)
	s, err := Open(Config{Warn: t.Logf, EventBufferBytes: 4096})
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

// With a full connection table, untracked connections are still listed
// (from sock_diag, as partial) and the drop is counted.
func TestFullTableCountsAndStillLists(t *testing.T) {
	requireRoot(t)
	s, err := Open(Config{Warn: t.Logf, TCPTableSize: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	rec := newRecorder(s)
	var clients []*testnet.Helper
	for range 3 {
		srv := testnet.Start(t, "tt-server", "", "tcp-server", "127.0.0.1:0", "100", "100")
		c := testnet.Start(t, "tt-client", "", "tcp-client", "127.0.0.1:"+strconv.Itoa(srv.Port), "100", "100", "hold")
		defer c.Release()
		clients = append(clients, c)
	}
	time.Sleep(100 * time.Millisecond)
	rec.poll(t)
	for _, c := range clients {
		found := false
		for _, o := range rec.last {
			if o.Proto == conn.TCP && int(o.Local.Port()) == c.Port && int(o.PID) == c.PID() {
				found = true
			}
		}
		if !found {
			t.Errorf("connection of client pid %d not listed", c.PID())
		}
	}
	if st, _ := s.Stats(); st.TCPTableFull == 0 {
		t.Error("table-full counter did not move")
	}
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

// logKernelMisses says what the kernel side may have missed: events that
// found the ring buffer full, and runs of the state program the kernel
// skipped because it was already running on that CPU (a softirq
// interrupting it in process context).
func logKernelMisses(t *testing.T, s *Source) {
	st, err := s.Stats()
	t.Logf("kernel side: %+v (%v)", st, err)
	for name, p := range s.progs.Programs {
		if ps, err := p.Stats(); err == nil && ps.RecursionMisses > 0 {
			t.Logf("%s: %d runs skipped by the kernel (recursion)", name, ps.RecursionMisses)
		}
	}
}
