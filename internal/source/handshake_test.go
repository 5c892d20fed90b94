package source

import (
	"strconv"
	"testing"
	"time"

	"github.com/tcptop/tcptop/internal/conn"
	"github.com/tcptop/tcptop/internal/testnet"
)

// loopbackConnect bounds a handshake over loopback (issue 19: under
// 10 ms), on either side.
const loopbackConnect = 10 * time.Millisecond

func TestSynRetransmitted(t *testing.T) { checkSynRetransmitted(t, openSource(t)) }

// checkSynRetransmitted has a listener with a full accept queue drop a
// client's first SYN (testnet's tcp-syn-retry), and checks both sides of
// that connection, closed, with exact bytes:
//   - the client sent its SYN again once, after the initial RTO (1 s):
//     syn_retrans 1, connect_us at least 1 s and below 3 s, when the
//     second retransmission would be due (1 s, then 2 s backed off), so
//     that a longer time would have shown syn_retrans 2;
//   - the server saw one SYN, the one sent again, and answered it once:
//     syn_retrans 0, connect_us from its SYN-ACK to the client's ACK,
//     under loopbackConnect (the dropped SYN never reached a socket of
//     its own).
func checkSynRetransmitted(t *testing.T, s *Source) {
	t.Helper()
	const sent, answered = 1234, 56789
	rec := newRecorder(s)
	h := testnet.Start(t, "tt-synretry", "", "tcp-syn-retry", "127.0.0.1:0", strconv.Itoa(sent), strconv.Itoa(answered))
	h.Wait(t, 30*time.Second)
	isClient := func(o conn.Observation) bool { return o.Proto == conn.TCP && int(o.Local.Port()) == h.Port }
	isServer := func(o conn.Observation) bool { return o.Proto == conn.TCP && int(o.Remote.Port()) == h.Port }
	rec.pollUntil(t, 10*time.Second, func() bool {
		return len(rec.closedWith(isClient)) > 0 && len(rec.closedWith(isServer)) > 0
	})
	c, sv := rec.closedWith(isClient)[0], rec.closedWith(isServer)[0]
	if c.BytesOut != sent || c.BytesIn != answered || sv.BytesIn != sent || sv.BytesOut != answered {
		t.Errorf("client out %d in %d, server in %d out %d: want %d and %d", c.BytesOut, c.BytesIn, sv.BytesIn, sv.BytesOut, sent, answered)
	}
	if c.Direction != conn.DirOut || sv.Direction != conn.DirIn {
		t.Errorf("directions client %v server %v, want out and in", c.Direction, sv.Direction)
	}
	t.Logf("client connect_us %d syn_retrans %d; server connect_us %d syn_retrans %d",
		c.Diag.ConnectMicros, c.Diag.SynRetrans, sv.Diag.ConnectMicros, sv.Diag.SynRetrans)
	checkHandshake(t, "client", c, 1, time.Second, 3*time.Second)
	checkHandshake(t, "server", sv, 0, 0, loopbackConnect)
}

// checkHandshake checks that an observation knows its handshake: syns
// SYNs (or SYN-ACKs) sent again, and a connect time in [low, high).
func checkHandshake(t *testing.T, side string, o conn.Observation, syns uint8, low, high time.Duration) {
	t.Helper()
	d := &o.Diag
	took := time.Duration(d.ConnectMicros) * time.Microsecond
	if !d.SynsKnown || !d.ConnectKnown || d.SynRetrans != syns || took < low || took >= high {
		t.Errorf("%s: syn_retrans %d (known %v), connect_us %d (known %v): want %d, and %v <= connect < %v",
			side, d.SynRetrans, d.SynsKnown, d.ConnectMicros, d.ConnectKnown, syns, low, high)
	}
}
