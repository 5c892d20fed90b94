package source

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tcptop/tcptop/internal/conn"
	"github.com/tcptop/tcptop/internal/testnet"
)

// TestDropsNetfilter: an nftables rule drops the packets of one TCP
// connection for a second, counting them in a named counter; the rule is
// then deleted, so the counter holds every packet it dropped. The
// connection's drops equal the counter exactly, with reason
// NETFILTER_DROP, and its peer's stay 0. Both attributions: a drop on
// the sender's output (the packet carries its socket, skb->sk) and one
// on the receiver's input at prerouting, before any socket lookup (no
// socket: joined by its tuple in the namespace of the veth it came in
// on). A loopback exchange with no rule drops nothing. Before Linux 5.17
// the count is the same and the reason "". Needs nft: the host has it,
// and so do the guests of the kernel matrix (scripts/vm-test.sh).
func TestDropsNetfilter(t *testing.T) {
	requireRoot(t)
	if _, err := exec.LookPath("nft"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("nft not installed (the guests of the kernel matrix have it too): %v", err)
		}
		t.Skipf("no nft here (%v): TestDropsUDPReceiveBuffer covers drops", err)
	}
	dial := rtxLink(t) // tt-rtx-a connects to a listener in tt-rtx-b across a veth
	s := openSource(t)
	rec := newRecorder(s)
	rec.poll(t)

	for _, tc := range []struct {
		name, netns, hook string
		server            bool // the drops are the server's connection's, not the client's
	}{
		{"output", "tt-rtx-a", "output", false},
		{"prerouting", "tt-rtx-b", "prerouting", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			client := dial()
			defer client.Close()
			sport := client.LocalAddr().(*net.TCPAddr).Port
			nft(t, tc.netns, "add table inet tt_drop")
			t.Cleanup(func() { _ = nftRun(tc.netns, "delete table inet tt_drop") })
			nft(t, tc.netns, "add counter inet tt_drop c")
			nft(t, tc.netns, fmt.Sprintf("add chain inet tt_drop ch { type filter hook %s priority 0 ; }", tc.hook))
			nft(t, tc.netns, fmt.Sprintf("add rule inet tt_drop ch tcp sport %d counter name c drop", sport))
			if _, err := client.Write(make([]byte, 1000)); err != nil {
				t.Fatal(err)
			}
			time.Sleep(time.Second) // the first transmit, a probe, the retransmits: all dropped
			nft(t, tc.netns, "flush chain inet tt_drop ch")
			want := nftCounter(t, tc.netns, "c")
			if want == 0 {
				t.Fatal("the rule dropped nothing")
			}
			mine, other := cookieOf(t, rec, client, false), cookieOf(t, rec, client, true)
			if tc.server {
				mine, other = other, mine
			}
			if !s.drops.attached {
				want = 0 // refused (TCPTOP_TEST_REFUSE): drops stay 0
			}
			var reasons []string
			rec.pollUntil(t, 5*time.Second, func() bool {
				for _, o := range rec.all {
					if o.ID.Cookie == mine && o.DropReason != "" {
						reasons = append(reasons, o.DropReason)
					}
				}
				return rec.last[conn.FlowID{Proto: conn.TCP, Cookie: mine}].Drops >= want
			})
			got := rec.last[conn.FlowID{Proto: conn.TCP, Cookie: mine}]
			t.Logf("nft counter %d; drops %d, reasons %v", want, got.Drops, reasons)
			if got.Drops != want {
				t.Errorf("drops %d, nft's counter %d", got.Drops, want)
			}
			if o := rec.last[conn.FlowID{Proto: conn.TCP, Cookie: other}]; o.Drops != 0 {
				t.Errorf("the other end has %d drops", o.Drops)
			}
			wantReason := "NETFILTER_DROP"
			if !s.drops.reasons {
				wantReason = "" // refused, or no reason before 5.17
			}
			for _, r := range reasons {
				if r != wantReason {
					t.Errorf("drop_reason %q, want %q", r, wantReason)
				}
			}
			if wantReason != "" && len(reasons) == 0 {
				t.Errorf("no drop_reason in any tick")
			}
		})
	}

	t.Run("loopback", func(t *testing.T) {
		lo, err := net.Listen("tcp4", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer lo.Close()
		go func() {
			c, err := lo.Accept()
			if err != nil {
				return
			}
			_, _ = io.Copy(c, c) // echo until the client closes
			c.Close()
		}()
		c, err := net.Dial("tcp4", lo.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		msg := make([]byte, 100_000)
		if _, err := c.Write(msg); err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(c, msg); err != nil {
			t.Fatal(err)
		}
		port := c.LocalAddr().(*net.TCPAddr).Port
		c.Close()
		ends := func(o conn.Observation) bool {
			return o.Proto == conn.TCP && (int(o.Local.Port()) == port || int(o.Remote.Port()) == port)
		}
		rec.pollUntil(t, 5*time.Second, func() bool { return len(rec.closedWith(ends)) == 2 })
		// Where the kernel's enum has no QUEUE_PURGE (before 5.17 it has
		// no reasons at all), the purge of a closed socket's queues is
		// counted, unnamed (docs/fields.md): at most 1 an end.
		most := uint64(1)
		for _, name := range s.drops.names {
			if name == "QUEUE_PURGE" {
				most = 0
			}
		}
		for _, o := range rec.all {
			if ends(o) && (o.Drops > most || o.Drops > 0 && o.DropReason != "" && o.DropReason != "NOT_SPECIFIED") {
				t.Errorf("drops on loopback with no rule: %v -> %v %d %q (at most %d, the purge at close)", o.Local, o.Remote, o.Drops, o.DropReason, most)
			}
		}
	})
}

// cookieOf finds the cookie of a client's connection by its addresses,
// or of its server end's (peer).
func cookieOf(t *testing.T, rec *recorder, c net.Conn, peer bool) uint64 {
	t.Helper()
	l, r := c.LocalAddr().(*net.TCPAddr), c.RemoteAddr().(*net.TCPAddr)
	if peer {
		l, r = r, l
	}
	var cookie uint64
	rec.pollUntil(t, 5*time.Second, func() bool {
		for _, o := range rec.all {
			if o.Proto == conn.TCP && int(o.Local.Port()) == l.Port && int(o.Remote.Port()) == r.Port && o.Local.Addr().String() == l.IP.String() {
				cookie = o.ID.Cookie
				return true
			}
		}
		return false
	})
	return cookie
}

// nftRun runs `nft cmd` in the network namespace netns.
func nftRun(netns, cmd string) error {
	var out bytes.Buffer
	c := exec.Command("nft", cmd)
	c.Stdout, c.Stderr = &out, &out
	if err := testnet.RunIn(netns, c); err != nil {
		return fmt.Errorf("nft %s: %v: %s", cmd, err, out.Bytes())
	}
	return nil
}

func nft(t *testing.T, netns, cmd string) {
	t.Helper()
	if err := nftRun(netns, cmd); err != nil {
		t.Fatal(err)
	}
}

// nftCounter reads the packets of a named counter of table inet tt_drop.
func nftCounter(t *testing.T, netns, name string) uint64 {
	t.Helper()
	var out, stderr bytes.Buffer
	c := exec.Command("nft", "-j", "list", "counter", "inet", "tt_drop", name)
	c.Stdout, c.Stderr = &out, &stderr
	if err := testnet.RunIn(netns, c); err != nil {
		t.Fatalf("nft list counter: %v: %s", err, stderr.Bytes())
	}
	var v struct {
		Nftables []struct {
			Counter *struct {
				Packets uint64 `json:"packets"`
			} `json:"counter"`
		} `json:"nftables"`
	}
	if err := json.Unmarshal(out.Bytes(), &v); err != nil {
		t.Fatalf("nft -j: %v: %s", err, out.Bytes())
	}
	for _, e := range v.Nftables {
		if e.Counter != nil {
			return e.Counter.Packets
		}
	}
	t.Fatalf("no counter in %s", out.Bytes())
	return 0
}

// TestDropsUDPReceiveBuffer: datagrams sent to a UDP socket whose
// receive buffer is full are dropped by the kernel (SOCKET_RCVBUFF, no
// socket on the packet: joined by its tuple), and the receiving flow's
// drops equal the socket's own drop counter (sk_drops, /proc/net/udp's
// drops column) exactly; the sending flow has none. Before Linux 5.17
// the count is the same and the reason "". Needs no nft: it runs in every
// guest of the matrix.
func TestDropsUDPReceiveBuffer(t *testing.T) {
	s := openSource(t)
	// Read with the sender's address (recvfrom: the flow of that peer
	// takes the drops), without it (read: the socket's flow with no peer
	// takes them), and never (no flow: the drops are counted as
	// unattributed in Stats).
	for _, mode := range []string{"recvfrom", "read", "never-read"} {
		t.Run(mode, func(t *testing.T) { checkUDPReceiveBufferDrops(t, s, mode) })
	}
}

func checkUDPReceiveBufferDrops(t *testing.T, s *Source, mode string) {
	netns := "tt-drop-udp-" + mode
	ino := uint32(testnet.AddNetns(t, netns))
	var rx, tx *net.UDPConn
	testnet.InNetns(t, netns, func() (err error) {
		if rx, err = net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)}); err != nil {
			return err
		}
		if err = rx.SetReadBuffer(1); err != nil { // the kernel's least
			return err
		}
		tx, err = net.DialUDP("udp4", nil, rx.LocalAddr().(*net.UDPAddr))
		return err
	})
	defer rx.Close()
	defer tx.Close()
	rec := newRecorder(s)
	rec.poll(t)
	before, err := s.Stats()
	if err != nil {
		t.Fatal(err)
	}
	// One datagram read, so that tcptop knows the receiving flow.
	buf := make([]byte, 2048)
	if _, err := tx.Write([]byte("hello")); err != nil {
		t.Fatal(err)
	}
	_ = rx.SetReadDeadline(time.Now().Add(5 * time.Second))
	switch mode {
	case "recvfrom":
		_, _, err = rx.ReadFromUDP(buf)
	case "read":
		_, err = rx.Read(buf) // read(2): no address asked for
	}
	if err != nil {
		t.Fatal(err)
	}
	for range 50 {
		if _, err := tx.Write(make([]byte, 1000)); err != nil {
			t.Fatal(err)
		}
	}
	want := udpSocketDrops(t, netns, rx.LocalAddr().(*net.UDPAddr).Port)
	if want == 0 {
		t.Fatal("the full receive buffer dropped nothing")
	}
	rxPort, txPort := rx.LocalAddr().(*net.UDPAddr).Port, tx.LocalAddr().(*net.UDPAddr).Port
	peer := txPort
	if mode == "read" {
		peer = 0 // the socket's flow with no peer
	}
	flow := func(local, remote int) conn.Observation {
		for id, o := range rec.last {
			if id.Proto == conn.UDP && id.NetNS == ino && int(id.Local.Port()) == local && int(id.Remote.Port()) == remote {
				return o
			}
		}
		return conn.Observation{}
	}
	if !s.drops.attached {
		want = 0
	}
	wantFlow, wantUnattributed := want, uint64(0)
	if mode == "never-read" {
		wantFlow, wantUnattributed = 0, want
	}
	unattributed := func() uint64 {
		st, err := s.Stats()
		if err != nil {
			t.Fatal(err)
		}
		return st.DropsUnattributed - before.DropsUnattributed
	}
	var reasons []string
	rec.pollUntil(t, 10*time.Second, func() bool {
		if o := flow(rxPort, peer); o.DropReason != "" {
			reasons = append(reasons, o.DropReason)
		}
		return flow(rxPort, peer).Drops >= wantFlow && unattributed() >= wantUnattributed && flow(txPort, rxPort).PacketsOut > 0
	})
	rec.poll(t) // a tick more: nothing may come after
	got := flow(rxPort, peer)
	t.Logf("%s: sk_drops %d; the flow's drops %d, reasons %v; unattributed %d", mode, want, got.Drops, reasons, unattributed())
	if got.Drops != wantFlow || unattributed() != wantUnattributed {
		t.Errorf("drops %d and unattributed %d, want %d and %d (the socket's sk_drops %d)", got.Drops, unattributed(), wantFlow, wantUnattributed, want)
	}
	if o := flow(txPort, rxPort); o.Drops != 0 {
		t.Errorf("the sending flow has %d drops", o.Drops)
	}
	if mode == "read" {
		if o := flow(rxPort, txPort); o.Drops != 0 {
			t.Errorf("a flow of the sender on the reading socket has %d drops", o.Drops)
		}
	}
	wantReason := "SOCKET_RCVBUFF"
	if !s.drops.reasons || wantFlow == 0 {
		wantReason = "" // refused, no reason before 5.17, or no flow
	}
	if len(reasons) == 0 && wantReason != "" {
		t.Errorf("no drop_reason in any tick")
	}
	for _, r := range reasons {
		if r != wantReason {
			t.Errorf("drop_reason %q, want %q", r, wantReason)
		}
	}
}

// udpSocketDrops reads the drops column of /proc/net/udp for the socket
// bound to port in the namespace netns.
func udpSocketDrops(t *testing.T, netns string, port int) uint64 {
	return udpSocketDropsB(t, netns, port)
}

func udpSocketDropsB(t testing.TB, netns string, port int) uint64 {
	t.Helper()
	var drops uint64
	found := false
	testnet.InNetns(t, netns, func() error {
		f, err := os.Open("/proc/thread-self/net/udp")
		if err != nil {
			return err
		}
		defer f.Close()
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			fields := strings.Fields(sc.Text())
			if len(fields) < 13 {
				continue
			}
			_, hexPort, ok := strings.Cut(fields[1], ":")
			if p, err := strconv.ParseUint(hexPort, 16, 16); !ok || err != nil || int(p) != port {
				continue
			}
			drops, err = strconv.ParseUint(fields[len(fields)-1], 10, 64)
			found = err == nil
		}
		return sc.Err()
	})
	if !found {
		t.Fatalf("no socket of port %d in /proc/net/udp", port)
	}
	return drops
}
