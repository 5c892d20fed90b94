package source

import (
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
// same DNAT (port 53 to 5353) has it too. A loopback connection has
// none. The source is opened before the namespaces exist: their
// conntrack sockets are made at their first flows.
func TestXlat(t *testing.T) {
	requireRoot(t)
	if inGuest() {
		t.Skip("the guests have no nft and no ctnetlink: TestXlatAbsent covers them")
	}
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
		const sent, answered = 100_000, 54_321
		var ln net.Listener
		testnet.InNetns(t, "tt-xl-b", func() (err error) {
			ln, err = net.Listen("tcp4", xlatServer.String())
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
			c, err = net.DialTimeout("tcp4", xlatService.String(), 5*time.Second)
			return err
		})
		if got := c.RemoteAddr().String(); got != xlatService.String() {
			t.Fatalf("the client's socket is connected to %s, want the service %s", got, xlatService)
		}
		if _, err := c.Write(make([]byte, sent)); err != nil {
			t.Fatal(err)
		}
		if n, err := io.Copy(io.Discard, c); err != nil || n != answered {
			t.Fatalf("read %d (%v), want %d", n, err, answered)
		}
		c.Close()
		local := netip.MustParseAddrPort(c.LocalAddr().String())
		var client, server conn.Observation
		rec.pollUntil(t, 5*time.Second, func() bool {
			cl := rec.closedWith(func(o conn.Observation) bool {
				return o.Proto == conn.TCP && o.Local == local && o.Remote == xlatService
			})
			sv := rec.closedWith(func(o conn.Observation) bool {
				return o.Proto == conn.TCP && o.Local == xlatServer && o.Remote == local
			})
			if len(cl) == 1 && len(sv) == 1 {
				client, server = cl[0], sv[0]
				return true
			}
			return false
		})
		t.Logf("client %v -> %v xlat %v -> %v in %d out %d; server %v -> %v xlat %v -> %v in %d out %d",
			client.Local, client.Remote, client.XlatLocal, client.XlatRemote, client.BytesIn, client.BytesOut,
			server.Local, server.Remote, server.XlatLocal, server.XlatRemote, server.BytesIn, server.BytesOut)
		if client.XlatRemote != xlatServer || client.XlatLocal.IsValid() {
			t.Errorf("client: xlat_remote %v, xlat_local %v; want %v and none", client.XlatRemote, client.XlatLocal, xlatServer)
		}
		if client.BytesOut != sent || client.BytesIn != answered {
			t.Errorf("client: bytes_out %d bytes_in %d, want %d and %d", client.BytesOut, client.BytesIn, sent, answered)
		}
		if server.XlatRemote.IsValid() || server.XlatLocal.IsValid() {
			t.Errorf("server: xlat %v -> %v, want none (no NAT in its namespace)", server.XlatLocal, server.XlatRemote)
		}
		if server.BytesIn != sent || server.BytesOut != answered {
			t.Errorf("server: bytes_in %d bytes_out %d, want %d and %d", server.BytesIn, server.BytesOut, sent, answered)
		}
		if client.Local != server.Remote || client.XlatRemote != server.Local {
			t.Errorf("no join: client (local %v, xlat_remote %v), server (remote %v, local %v)", client.Local, client.XlatRemote, server.Remote, server.Local)
		}
		if conn.CommunityID(conn.TCP, client.Local, client.Remote) == conn.CommunityID(conn.TCP, server.Local, server.Remote) {
			t.Errorf("community_id joins across the DNAT: the field's doc says it does not")
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

// xlatLink makes the namespaces of TestXlat, the veth between them, the
// client's route to the service range and the DNAT.
func xlatLink(t *testing.T) {
	testnet.AddNetns(t, "tt-xl-a")
	testnet.AddNetns(t, "tt-xl-b")
	testnet.Link(t, "tt-xl-a", "xla", "10.81.0.1/24", "tt-xl-b", "xlb", "10.81.0.2/24")
	if out, err := exec.Command("ip", "-n", "tt-xl-a", "route", "add", "10.96.0.0/16", "dev", "xla").CombinedOutput(); err != nil {
		t.Fatalf("route: %v: %s", err, out)
	}
	nft(t, "tt-xl-a", "add table ip tt_xlat")
	nft(t, "tt-xl-a", "add chain ip tt_xlat out { type nat hook output priority -100 ; }")
	nft(t, "tt-xl-a", "add rule ip tt_xlat out ip daddr 10.96.0.10 tcp dport 80 dnat to "+xlatServer.String())
	nft(t, "tt-xl-a", "add rule ip tt_xlat out ip daddr 10.96.0.10 udp dport 53 dnat to "+xlatUDPSrv.String())
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

// TestXlatAbsent: without ctnetlink (the matrix's guests, whose kernels
// have no module loaded; on the host, refused on purpose), the part
// "translated addresses" is lost and names what it costs (tcptop --check
// prints it), and a connection's xlat fields are empty.
func TestXlatAbsent(t *testing.T) {
	requireRoot(t)
	cfg := testConfig(t)
	if !inGuest() && !slices.Contains(cfg.Refuse, KindConntrack) {
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
