package source

import (
	"errors"
	"io"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/cilium/ebpf/asm"
	"github.com/tcptop/tcptop/internal/conn"
	"github.com/tcptop/tcptop/internal/testnet"
	"golang.org/x/sys/unix"
)

// A bulk transfer whose link is blocked midway, until the timer fired and
// resent, retransmits after a timeout: its closed record has retrans_rto > 0, and its kinds
// sum to its retrans, which is the kernel's own count (tcp_info's
// total_retrans read just before the close). The link is blocked by an
// XDP program on the receiver's end that drops everything: the sender's
// transmits succeed and are lost on the way, as on a real link. (Setting
// the receiver's end down instead made the sender's transmits fail
// locally on 6.12-arm64: a failed transmit is no retransmit, the socket
// went to CWR, and nothing was resent in 5 s.) Where the
// retransmit hook is refused (TCPTOP_TEST_REFUSE), the kinds are absent:
// 0, and retrans is still the kernel's count.
func TestRetransKindsLinkBlocked(t *testing.T) {
	s := openSource(t)
	dial := rtxLink(t)
	rec := newRecorder(s)
	rec.poll(t)
	c := dial()
	defer c.Close()
	local := c.LocalAddr().(*net.TCPAddr).Port

	var stop atomic.Bool
	done := make(chan error, 1)
	go func() { done <- sendUntil(c, &stop) }()
	time.Sleep(300 * time.Millisecond)
	before := tcpInfo(t, c).Total_retrans
	unblock := attachXDP(t, "tt-rtx-b", "rtxb", asm.Instructions{
		asm.Mov.Imm(asm.R0, 1), // XDP_DROP
		asm.Return(),
	})
	// Blocked until the timer fired and resent (CA_Loss, total_retrans
	// grown): with no ACK coming back, nothing else can have resent.
	deadline := time.Now().Add(5 * time.Second)
	for i := tcpInfo(t, c); i.Ca_state != caLoss || i.Total_retrans == before; i = tcpInfo(t, c) {
		if time.Now().After(deadline) {
			t.Fatalf("the link was blocked for 5 s and the timer did not resend: ca_state %d, total_retrans %d", i.Ca_state, i.Total_retrans)
		}
		time.Sleep(20 * time.Millisecond)
	}
	unblock()
	time.Sleep(2 * time.Second) // the backed-off timer resends, and the transfer goes on
	stop.Store(true)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	total := drainedRetrans(t, c)
	mib := tcpExt(t, "tt-rtx-a")
	t.Logf("the kernel's counters in the sender's namespace: TCPTimeouts %d TCPSlowStartRetrans %d TCPFastRetrans %d TCPLossProbes %d TCPRetransFail %d",
		mib["TCPTimeouts"], mib["TCPSlowStartRetrans"], mib["TCPFastRetrans"], mib["TCPLossProbes"], mib["TCPRetransFail"])
	c.Close()

	match := func(o conn.Observation) bool { return o.Proto == conn.TCP && int(o.Local.Port()) == local }
	rec.pollUntil(t, 5*time.Second, func() bool { return len(rec.closedWith(match)) > 0 })
	o := rec.closedWith(match)[0]
	d := o.Diag
	t.Logf("retrans %d (tcp_info %d): rto %d fast %d tlp %d", o.Retrans, total, d.RetransRTO, d.RetransFast, d.RetransTLP)
	if o.Retrans != uint64(total) {
		t.Errorf("retrans %d, tcp_info total_retrans %d", o.Retrans, total)
	}
	if !s.retransKinds {
		if d.Kinds || d.RetransRTO+d.RetransFast+d.RetransTLP != 0 {
			t.Errorf("kinds counted (%v: %d %d %d) with the retransmit hook refused", d.Kinds, d.RetransRTO, d.RetransFast, d.RetransTLP)
		}
		return
	}
	if !d.Kinds || uint64(d.RetransRTO+d.RetransFast+d.RetransTLP) != o.Retrans {
		t.Errorf("kinds %v: rto %d + fast %d + tlp %d != retrans %d", d.Kinds, d.RetransRTO, d.RetransFast, d.RetransTLP, o.Retrans)
	}
	if d.RetransRTO == 0 {
		t.Errorf("no retransmit after a timeout across a link blocked until the timer resent")
	}
	if !slices.ContainsFunc(s.Parts(), func(p Part) bool { return p.Name == "retransmit kinds" && p.Using == KindRetrans }) {
		t.Errorf("parts %+v: no retransmit kinds on %s", s.Parts(), KindRetrans)
	}
}

// rtxLink joins two new namespaces, tt-rtx-a and tt-rtx-b, with a veth
// (rtxa, rtxb) and listens in tt-rtx-b on rtxb's address, reading every
// connection to the end; dial connects from tt-rtx-a.
func rtxLink(t testing.TB) (dial func() net.Conn) {
	testnet.AddNetns(t, "tt-rtx-a")
	testnet.AddNetns(t, "tt-rtx-b")
	testnet.Link(t, "tt-rtx-a", "rtxa", "10.79.0.1/24", "tt-rtx-b", "rtxb", "10.79.0.2/24")
	var ln net.Listener
	testnet.InNetns(t, "tt-rtx-b", func() (err error) {
		ln, err = net.Listen("tcp4", "10.79.0.2:0")
		return err
	})
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				_, _ = io.Copy(io.Discard, c)
				c.Close()
			}()
		}
	}()
	return func() net.Conn {
		var c net.Conn
		testnet.InNetns(t, "tt-rtx-a", func() (err error) {
			c, err = net.DialTimeout("tcp4", ln.Addr().String(), 5*time.Second)
			return err
		})
		return c
	}
}

// caLoss is TCP_CA_Loss (tcp_info's ca_state): the retransmission timer
// fired.
const caLoss = 4

// tcpInfo reads c's tcp_info.
func tcpInfo(t testing.TB, c net.Conn) *unix.TCPInfo {
	t.Helper()
	raw, err := c.(*net.TCPConn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var info *unix.TCPInfo
	var gerr error
	if err := raw.Control(func(fd uintptr) { info, gerr = unix.GetsockoptTCPInfo(int(fd), unix.IPPROTO_TCP, unix.TCP_INFO) }); err != nil || gerr != nil {
		t.Fatal(err, gerr)
	}
	return info
}

// tcpExt reads the TcpExt counters of the network namespace bound at
// /run/netns/ns (nstat's TcpExt*): the kernel's own counts of
// retransmits, by the path that made them, for the test to log beside
// the kinds.
func tcpExt(t testing.TB, ns string) map[string]uint64 {
	out := map[string]uint64{}
	testnet.InNetns(t, ns, func() error {
		b, err := os.ReadFile("/proc/thread-self/net/netstat")
		if err != nil {
			return err
		}
		lines := strings.Split(string(b), "\n")
		for i := 0; i+1 < len(lines); i++ {
			k, v := strings.Fields(lines[i]), strings.Fields(lines[i+1])
			if len(k) == 0 || k[0] != "TcpExt:" || len(v) != len(k) || v[0] != "TcpExt:" {
				continue
			}
			for j := 1; j < len(k); j++ {
				out[k[j]], _ = strconv.ParseUint(v[j], 10, 64)
			}
		}
		return nil
	})
	return out
}

// sendUntil writes to c until stop is set.
func sendUntil(c net.Conn, stop *atomic.Bool) error {
	buf := make([]byte, 64<<10)
	for !stop.Load() {
		_ = c.SetWriteDeadline(time.Now().Add(200 * time.Millisecond))
		if _, err := c.Write(buf); err != nil && !errors.Is(err, syscall.EAGAIN) && !isTimeout(err) {
			return err
		}
	}
	return c.SetWriteDeadline(time.Time{})
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// drainedRetrans waits until everything c sent is acknowledged and
// returns the kernel's total_retrans of it then (no retransmit can follow).
func drainedRetrans(t *testing.T, c net.Conn) uint32 {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		info := tcpInfo(t, c)
		if info.Unacked == 0 && info.Notsent_bytes == 0 {
			return info.Total_retrans
		}
		if time.Now().After(deadline) {
			t.Fatalf("still %d segments unacknowledged, %d bytes not sent", info.Unacked, info.Notsent_bytes)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
