package source

import (
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/tcptop/tcptop/internal/conn"
	"github.com/tcptop/tcptop/internal/testnet"
)

// A datagram that arrives after the source decided a flow was idle, but
// before it deleted it, is counted in the flow's last observation; one
// after the delete starts a new flow from zero. Nothing is lost, nothing
// is counted twice.
func TestUDPExpiryRacingADatagram(t *testing.T) {
	s := openSource(t)
	rec := newRecorder(s)
	rec.poll(t) // the first tick, which may be slow on a busy host
	dst, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer dst.Close()
	src, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	send := func(n int) {
		if _, err := src.WriteTo(make([]byte, n), dst.LocalAddr()); err != nil {
			t.Fatal(err)
		}
	}
	ours := func(o conn.Observation) bool {
		return o.Proto == conn.UDP && int(o.Local.Port()) == src.LocalAddr().(*net.UDPAddr).Port
	}
	send(10)
	rec.poll(t)
	s.cfg.UDPTimeout = 200 * time.Millisecond
	time.Sleep(300 * time.Millisecond) // idle past the timeout
	raced := false
	s.udp.beforeForget = func() {
		if !raced {
			raced = true
			send(7) // between the decision and the delete
		}
	}
	rec.poll(t)
	if !raced {
		t.Fatal("the source never decided to forget the idle flow")
	}
	send(5) // after the delete: a new flow
	rec.poll(t)

	var got []conn.Observation
	for _, o := range rec.all {
		if ours(o) {
			got = append(got, o)
		}
	}
	if len(got) != 3 {
		t.Fatalf("got %d observations of the flow, want 3: %+v", len(got), got)
	}
	want := []struct {
		bytes, pkts uint64
		expired     bool
	}{{10, 1, false}, {17, 2, true}, {5, 1, false}}
	for i, w := range want {
		if o := got[i]; o.BytesOut != w.bytes || o.PacketsOut != w.pkts || o.Expired != w.expired {
			t.Errorf("observation %d: out %dB/%d expired=%v, want %dB/%d expired=%v", i, o.BytesOut, o.PacketsOut, o.Expired, w.bytes, w.pkts, w.expired)
		}
	}
}

// Two containers using the same UDP addresses and ports are two flows,
// each in its own network namespace, with its own counters and owner.
func TestUDPSameTupleInTwoNamespaces(t *testing.T) {
	s := openSource(t)
	rec := newRecorder(s)
	suffix := strconv.Itoa(int(time.Now().UnixNano() % 100000))
	counts := map[string]int{"tt-a" + suffix: 3, "tt-b" + suffix: 5}
	servers := map[string]*testnet.Helper{}
	for ns, n := range counts {
		testnet.AddNetns(t, ns)
		srv := testnet.Start(t, "tt-udpserver", ns, "udp-server", "127.0.0.1:40999", "11")
		defer srv.Release()
		servers[ns] = srv
		testnet.Start(t, "tt-udpclient", ns, "udp-client", "127.0.0.1:40999", strconv.Itoa(n), "20", "127.0.0.1:40998").Wait(t, 10*time.Second)
	}
	rec.poll(t)
	flows := map[uint32]conn.Observation{}
	for _, o := range rec.last {
		if o.Proto == conn.UDP && o.Local.Port() == 40999 && o.Remote.Port() == 40998 {
			flows[o.NetNS] = o
		}
	}
	if len(flows) != 2 {
		t.Fatalf("got %d server flows for the tuple, want 2 (one per namespace): %+v", len(flows), flows)
	}
	for ns, n := range counts {
		inode, err := nsInode("/run/netns/" + ns)
		if err != nil {
			t.Fatal(err)
		}
		ino := uint32(inode)
		o, ok := flows[ino]
		if !ok {
			t.Errorf("no flow in namespace %s (inode %d)", ns, ino)
			continue
		}
		if o.PacketsIn != uint64(n) || o.BytesIn != uint64(20*n) || o.PacketsOut != uint64(n) || o.BytesOut != uint64(11*n) {
			t.Errorf("%s: in %dB/%d out %dB/%d, want in %dB/%d out %dB/%d", ns, o.BytesIn, o.PacketsIn, o.BytesOut, o.PacketsOut, 20*n, n, 11*n, n)
		}
		if o.ID.NetNS != ino || int(o.PID) == 0 || o.Comm != "tt-udpserver" {
			t.Errorf("%s: id netns %d pid %d comm %q", ns, o.ID.NetNS, o.PID, o.Comm)
		}
	}
}
