package source

import (
	"bytes"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tcptop/tcptop/internal/conn"
	"github.com/tcptop/tcptop/internal/testnet"
)

// The DNAT of TestXlat: a service address in the client's namespace,
// rewritten on output to the server in another namespace.
var (
	xlatService = netip.MustParseAddrPort("10.96.0.10:80")
	xlatServer  = netip.MustParseAddrPort("10.81.0.2:8080")
	xlatUDPSvc  = netip.MustParseAddrPort("10.96.0.10:53")
	xlatUDPSrv  = netip.MustParseAddrPort("10.81.0.2:5353")
)

// TestXlat: an nftables DNAT in the client's namespace (nat hook output)
// sends a connection to the service address 10.96.0.10:80 to a server
// at 10.81.0.2:8080 in another namespace, across a veth. The client's
// closed record has the service as its remote and the server as
// xlat_remote, no xlat_local (no SNAT), and the exact bytes both ways;
// the server's has no translation (its namespace has no NAT), and joins
// the client's by the translated tuple: the client's (local,
// xlat_remote) is the server's (remote, local). A UDP flow through the
// same DNAT (port 53 to 5353) has it too. An SNAT of the client's port
// (postrouting) gives xlat_local, the client as the server sees it; a
// DNAT in the server's namespace (prerouting) gives the server's
// xlat_local, the address the client dialled. A loopback connection has
// none. The source is opened before the namespaces exist: their
// conntrack sockets are made at their first flows.
func TestXlat(t *testing.T) {
	requireRoot(t)
	if _, err := exec.LookPath("nft"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("nft not installed: %v", err)
		}
		t.Skipf("no nft here: %v", err)
	}
	s := openSource(t)
	if !s.xlat.attached {
		if slices.Contains(s.cfg.Refuse, KindConntrack) {
			t.Skip("ctnetlink refused on purpose (TCPTOP_TEST_REFUSE): TestXlatAbsent covers it")
		}
		t.Fatalf("no ctnetlink on the host (CONFIG_NF_CT_NETLINK=y): %+v", s.Parts())
	}
	rec := newRecorder(s)
	rec.poll(t)
	xlatLink(t)

	t.Run("tcp", func(t *testing.T) {
		client, server := xlatTransfer(t, rec, xlatService, xlatServer)
		if client.XlatRemote != xlatServer || client.XlatLocal.IsValid() {
			t.Errorf("client: xlat_remote %v, xlat_local %v; want %v and none", client.XlatRemote, client.XlatLocal, xlatServer)
		}
		if server.XlatRemote.IsValid() || server.XlatLocal.IsValid() {
			t.Errorf("server: xlat %v -> %v, want none (no NAT in its namespace)", server.XlatLocal, server.XlatRemote)
		}
		if client.Local != server.Remote || client.XlatRemote != server.Local {
			t.Errorf("no join: client (local %v, xlat_remote %v), server (remote %v, local %v)", client.Local, client.XlatRemote, server.Remote, server.Local)
		}
		if conn.CommunityID(conn.TCP, client.Local, client.Remote) == conn.CommunityID(conn.TCP, server.Local, server.Remote) {
			t.Errorf("community_id joins across the DNAT: the field's doc says it does not")
		}
	})

	// An SNAT of the client's port on postrouting: xlat_local is the
	// client as the server sees it, and xlat_remote stays empty.
	t.Run("snat", func(t *testing.T) {
		srv, snat := netip.MustParseAddrPort("10.81.0.2:8081"), netip.MustParseAddrPort("10.81.0.1:40000")
		nft(t, "tt-xl-a", "add chain ip tt_xlat post { type nat hook postrouting priority 100 ; }")
		nft(t, "tt-xl-a", "add rule ip tt_xlat post ip daddr 10.81.0.2 tcp dport 8081 snat to "+snat.String())
		client, server := xlatTransfer(t, rec, srv, srv)
		if client.XlatLocal != snat || client.XlatRemote.IsValid() {
			t.Errorf("client: xlat_local %v, xlat_remote %v; want %v and none", client.XlatLocal, client.XlatRemote, snat)
		}
		if server.Remote != snat || server.XlatLocal.IsValid() || server.XlatRemote.IsValid() {
			t.Errorf("server: remote %v, xlat %v -> %v; want %v, no translation", server.Remote, server.XlatLocal, server.XlatRemote, snat)
		}
	})

	// A DNAT on the server's way in (prerouting in its namespace): the
	// server's xlat_local is what the client dialled; the client, whose
	// namespace did not translate this one, has none.
	t.Run("server-dnat", func(t *testing.T) {
		dialled, srv := netip.MustParseAddrPort("10.81.0.2:8082"), netip.MustParseAddrPort("10.81.0.2:8083")
		nft(t, "tt-xl-b", "add table ip tt_xlat")
		nft(t, "tt-xl-b", "add chain ip tt_xlat pre { type nat hook prerouting priority -100 ; }")
		nft(t, "tt-xl-b", "add rule ip tt_xlat pre tcp dport 8082 dnat to "+srv.String())
		client, server := xlatTransfer(t, rec, dialled, srv)
		if server.XlatLocal != dialled || server.XlatRemote.IsValid() {
			t.Errorf("server: xlat_local %v, xlat_remote %v; want %v and none", server.XlatLocal, server.XlatRemote, dialled)
		}
		if client.XlatLocal.IsValid() || client.XlatRemote.IsValid() {
			t.Errorf("client: xlat %v -> %v, want none", client.XlatLocal, client.XlatRemote)
		}
	})

	t.Run("udp", func(t *testing.T) {
		var srv net.PacketConn
		testnet.InNetns(t, "tt-xl-b", func() (err error) {
			srv, err = net.ListenPacket("udp4", xlatUDPSrv.String())
			return err
		})
		defer srv.Close()
		go func() {
			buf := make([]byte, 2048)
			for {
				n, from, err := srv.ReadFrom(buf)
				if err != nil {
					return
				}
				_, _ = srv.WriteTo(buf[:n], from)
			}
		}()
		var c net.Conn
		testnet.InNetns(t, "tt-xl-a", func() (err error) {
			c, err = net.Dial("udp4", xlatUDPSvc.String())
			return err
		})
		defer c.Close()
		buf := make([]byte, 2048)
		for range 3 {
			if _, err := c.Write(make([]byte, 100)); err != nil {
				t.Fatal(err)
			}
			_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
			if _, err := c.Read(buf); err != nil {
				t.Fatal(err)
			}
		}
		local := netip.MustParseAddrPort(c.LocalAddr().String())
		id := conn.FlowID{Proto: conn.UDP, Local: local, Remote: xlatUDPSvc}
		rec.pollUntil(t, 5*time.Second, func() bool {
			for _, o := range rec.all {
				if o.Proto == conn.UDP && o.Local == local && o.Remote == xlatUDPSvc {
					id = o.ID
					return o.BytesOut == 300 && o.BytesIn == 300
				}
			}
			return false
		})
		o := rec.last[id]
		t.Logf("udp %v -> %v xlat %v -> %v in %d out %d", o.Local, o.Remote, o.XlatLocal, o.XlatRemote, o.BytesIn, o.BytesOut)
		if o.XlatRemote != xlatUDPSrv || o.XlatLocal.IsValid() {
			t.Errorf("udp: xlat_remote %v, xlat_local %v; want %v and none", o.XlatRemote, o.XlatLocal, xlatUDPSrv)
		}
	})

	t.Run("loopback", func(t *testing.T) { checkNoXlat(t, rec) })
}

// xlatTransfer connects from tt-xl-a to dial, which the namespace's NAT
// sends to server in tt-xl-b, sends 100,000 bytes and reads the 54,321
// of the answer, and returns both ends' closed records, each with the
// exact bytes.
func xlatTransfer(t *testing.T, rec *recorder, dial, server netip.AddrPort) (cl, sv conn.Observation) {
	t.Helper()
	const sent, answered = 100_000, 54_321
	var ln net.Listener
	testnet.InNetns(t, "tt-xl-b", func() (err error) {
		ln, err = net.Listen("tcp4", server.String())
		return err
	})
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		_, _ = io.CopyN(io.Discard, c, sent)
		_, _ = c.Write(make([]byte, answered))
		c.Close()
	}()
	var c net.Conn
	testnet.InNetns(t, "tt-xl-a", func() (err error) {
		c, err = net.DialTimeout("tcp4", dial.String(), 5*time.Second)
		return err
	})
	if got := c.RemoteAddr().String(); got != dial.String() {
		t.Fatalf("the client's socket is connected to %s, want %s", got, dial)
	}
	if _, err := c.Write(make([]byte, sent)); err != nil {
		t.Fatal(err)
	}
	if n, err := io.Copy(io.Discard, c); err != nil || n != answered {
		t.Fatalf("read %d (%v), want %d", n, err, answered)
	}
	c.Close()
	local := netip.MustParseAddrPort(c.LocalAddr().String())
	rec.pollUntil(t, 5*time.Second, func() bool {
		cls := rec.closedWith(func(o conn.Observation) bool { return o.Proto == conn.TCP && o.Local == local && o.Remote == dial })
		svs := rec.closedWith(func(o conn.Observation) bool {
			return o.Proto == conn.TCP && o.Local == server && o.Remote.Addr() == local.Addr()
		})
		if len(cls) == 1 && len(svs) == 1 {
			cl, sv = cls[0], svs[0]
			return true
		}
		return false
	})
	t.Logf("client %v -> %v xlat %v -> %v in %d out %d; server %v -> %v xlat %v -> %v in %d out %d",
		cl.Local, cl.Remote, cl.XlatLocal, cl.XlatRemote, cl.BytesIn, cl.BytesOut,
		sv.Local, sv.Remote, sv.XlatLocal, sv.XlatRemote, sv.BytesIn, sv.BytesOut)
	if cl.BytesOut != sent || cl.BytesIn != answered || sv.BytesIn != sent || sv.BytesOut != answered {
		t.Errorf("client out %d in %d, server in %d out %d; want %d and %d both ways", cl.BytesOut, cl.BytesIn, sv.BytesIn, sv.BytesOut, sent, answered)
	}
	return cl, sv
}

// xlatLink makes the namespaces of TestXlat, the veth between them, the
// client's route to the service range and the DNAT; it returns the
// client's namespace's inode.
func xlatLink(t testing.TB) (client uint64) {
	client = testnet.AddNetns(t, "tt-xl-a")
	testnet.AddNetns(t, "tt-xl-b")
	testnet.Link(t, "tt-xl-a", "xla", "10.81.0.1/24", "tt-xl-b", "xlb", "10.81.0.2/24")
	var out bytes.Buffer
	route := exec.Command("ip", "route", "add", "10.96.0.0/16", "dev", "xla") // busybox's ip has no -n
	route.Stdout, route.Stderr = &out, &out
	if err := testnet.RunIn("tt-xl-a", route); err != nil {
		t.Fatalf("route: %v: %s", err, out.Bytes())
	}
	for _, cmd := range []string{
		"add table ip tt_xlat",
		"add chain ip tt_xlat out { type nat hook output priority -100 ; }",
		"add rule ip tt_xlat out ip daddr 10.96.0.10 tcp dport 80 dnat to " + xlatServer.String(),
		"add rule ip tt_xlat out ip daddr 10.96.0.10 udp dport 53 dnat to " + xlatUDPSrv.String(),
	} {
		if err := nftRun("tt-xl-a", cmd); err != nil {
			t.Fatal(err)
		}
	}
	return client
}

// checkNoXlat: a loopback connection, in tcptop's own namespace, has no
// translated tuple on either end.
func checkNoXlat(t *testing.T, rec *recorder) {
	t.Helper()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		_, _ = io.Copy(c, c)
		c.Close()
	}()
	c, err := net.Dial("tcp4", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Write(make([]byte, 1000)); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(c, make([]byte, 1000)); err != nil {
		t.Fatal(err)
	}
	c.Close()
	local := netip.MustParseAddrPort(c.LocalAddr().String())
	var ends []conn.Observation
	rec.pollUntil(t, 5*time.Second, func() bool {
		ends = rec.closedWith(func(o conn.Observation) bool {
			return o.Proto == conn.TCP && (o.Local == local || o.Remote == local)
		})
		return len(ends) == 2
	})
	for _, o := range ends {
		if o.XlatLocal.IsValid() || o.XlatRemote.IsValid() {
			t.Errorf("%v -> %v: xlat %v -> %v, want none", o.Local, o.Remote, o.XlatLocal, o.XlatRemote)
		}
		if o.BytesOut != 1000 || o.BytesIn != 1000 {
			t.Errorf("%v -> %v: bytes in %d out %d, want 1000 each", o.Local, o.Remote, o.BytesIn, o.BytesOut)
		}
	}
}

// TestXlatAbsent: without ctnetlink (refused on purpose: a kernel without
// the nf_conntrack_netlink module loaded answers the same), the part
// "translated addresses" is lost and names what it costs (tcptop --check
// prints it), and a connection's xlat fields are empty.
func TestXlatAbsent(t *testing.T) {
	requireRoot(t)
	cfg := testConfig(t)
	if !slices.Contains(cfg.Refuse, KindConntrack) {
		cfg.Refuse = append(cfg.Refuse, KindConntrack)
	}
	s, err := Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var part *Part
	for i, p := range s.Parts() {
		if p.Name == "translated addresses" {
			part = &s.Parts()[i]
		}
	}
	switch {
	case part == nil:
		t.Fatalf("no part \"translated addresses\": %+v", s.Parts())
	case !part.Lost() || part.Loss != xlatLoss || len(part.Refused) != 1 || !strings.Contains(part.Refused[0], "("+KindConntrack+")"):
		t.Fatalf("part %+v: want lost, with its loss and the refusal of %s", *part, KindConntrack)
	}
	t.Logf("translated addresses: refused: %s; lost: %s", part.Refused[0], part.Loss)
	if !slices.ContainsFunc(s.Unavailable(), func(g string) bool { return strings.HasPrefix(g, "translated addresses: ") }) {
		t.Errorf("not among what is unavailable: %v", s.Unavailable())
	}
	rec := newRecorder(s)
	rec.poll(t)
	checkNoXlat(t, rec)
}

// A namespace whose conntrack table is empty (no NAT, no stateful rule:
// nothing made it track anything) has no translated flow: its new flows
// cost one count of the table a tick, not one lookup each. 20 loopback
// connections (40 ends) there: every end without xlat, none of them
// remembered (at 50,000 connections that memory would count), and at
// most two requests a tick (the new namespace's count, and the host's
// for flows of other processes).
func TestXlatSkipsAnEmptyConntrackTable(t *testing.T) {
	requireRoot(t)
	s := openSource(t)
	if !s.xlat.attached {
		t.Skip("no ctnetlink here: TestXlatAbsent covers it")
	}
	ino := uint32(testnet.AddNetns(t, "tt-xl-empty"))
	rec := newRecorder(s)
	rec.poll(t)
	const conns = 20
	var clients []net.Conn
	testnet.InNetns(t, "tt-xl-empty", func() error {
		if err := exec.Command("ip", "link", "set", "lo", "up").Run(); err != nil {
			return err
		}
		ln, err := net.Listen("tcp4", "127.0.0.1:0")
		if err != nil {
			return err
		}
		t.Cleanup(func() { ln.Close() })
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				go func() { _, _ = io.Copy(io.Discard, c); c.Close() }()
			}
		}()
		for range conns {
			c, err := net.Dial("tcp4", ln.Addr().String())
			if err != nil {
				return err
			}
			clients = append(clients, c)
		}
		return nil
	})
	for _, c := range clients {
		if _, err := c.Write(make([]byte, 321)); err != nil {
			t.Fatal(err)
		}
		defer c.Close()
	}
	before, ticks := s.xlat.lookups, 0
	ends := func() []conn.Observation {
		var out []conn.Observation
		for _, o := range rec.last {
			if o.NetNS == ino && o.Proto == conn.TCP {
				out = append(out, o)
			}
		}
		return out
	}
	rec.pollUntil(t, 10*time.Second, func() bool {
		ticks++
		n := 0
		for _, o := range ends() {
			if o.BytesIn == 321 || o.BytesOut == 321 {
				n++
			}
		}
		return n == 2*conns
	})
	requests := s.xlat.lookups - before
	t.Logf("%d ends in %d ticks: %d conntrack requests", len(ends()), ticks, requests)
	for _, o := range ends() {
		if o.XlatLocal.IsValid() || o.XlatRemote.IsValid() {
			t.Errorf("%v -> %v: xlat %v -> %v, want none", o.Local, o.Remote, o.XlatLocal, o.XlatRemote)
		}
	}
	for _, o := range ends() {
		if _, kept := s.xlat.plain[o.ID.Cookie]; kept {
			t.Errorf("%v -> %v: kept as looked up, where there was nothing to look up", o.Local, o.Remote)
		}
	}
	if requests > uint64(2*ticks) {
		t.Errorf("%d conntrack requests in %d ticks for %d new ends: one per flow, not one count per tick", requests, ticks, 2*conns)
	}
}
