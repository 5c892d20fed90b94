package agg

import (
	"testing"

	"github.com/tcptop/tcptop/internal/conn"
)

// handshake sets what the source says of a connection's handshake.
func (o ob) handshake(us uint32, usKnown bool, syns uint8, synsKnown bool) ob {
	o.Diag.ConnectMicros, o.Diag.ConnectKnown = us, usKnown
	o.Diag.SynRetrans, o.Diag.SynsKnown = syns, synsKnown
	return o
}

// connect_us and syn_retrans are -1 until the source knows them, then the
// kernel's values; the tick they become known the row counts as changed
// (--changed shows it even if no byte moved).
func TestHandshakeFields(t *testing.T) {
	tests := []struct {
		name              string
		o                 ob
		connect, synRetrs int64
	}{
		{"not known: older than tcptop, or still opening", tcp(1), -1, -1},
		{"connected at once", tcp(1).handshake(57, true, 0, true), 57, 0},
		{"connected after a SYN was sent again", tcp(1).handshake(1_003_412, true, 1, true), 1_003_412, 1},
		{"a connect that timed out: SYNs known, no time", tcp(1).handshake(0, false, 6, true), -1, 6},
		{"accepted, SYN-ACK resent, its part lost: no time", tcp(1).handshake(0, false, 2, true), -1, 2},
		{"a connect of 0 us is known, not -1", tcp(1).handshake(0, true, 0, true), 0, 0},
		{"the longest the kernel side stores", tcp(1).handshake(1<<32-1, true, 255, true), 1<<32 - 2, 255},
		{"udp: never", udp(53).handshake(9, true, 9, true), -1, -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := New(Config{Start: t0})
			a.Tick(conn.Snapshot{Time: at(1), Obs: obs(tt.o)})
			rows := rowsOf(t, a, false)
			if len(rows) != 1 || rows[0].ConnectMicros != tt.connect || rows[0].SynRetrans != tt.synRetrs {
				t.Fatalf("rows %+v, want connect_us %d syn_retrans %d", rows, tt.connect, tt.synRetrs)
			}
		})
	}
}

func TestHandshakeKnownIsAChange(t *testing.T) {
	a := New(Config{Start: t0})
	opening := tcp(1).bytes(0, 0)
	a.Tick(conn.Snapshot{Time: at(1), Obs: obs(opening)})
	a.Tick(conn.Snapshot{Time: at(2), Obs: obs(opening)})
	if rows := rowsOf(t, a, true); len(rows) != 0 {
		t.Fatalf("nothing changed, got %+v", rows)
	}
	a.Tick(conn.Snapshot{Time: at(3), Obs: obs(opening.handshake(1500, true, 0, true))})
	rows := rowsOf(t, a, true)
	if len(rows) != 1 || rows[0].ConnectMicros != 1500 || rows[0].SynRetrans != 0 {
		t.Fatalf("the handshake ended: want its row in --changed, got %+v", rows)
	}
	a.Tick(conn.Snapshot{Time: at(4), Obs: obs(opening.handshake(1500, true, 0, true))})
	if rows := rowsOf(t, a, true); len(rows) != 0 {
		t.Fatalf("known since the tick before: no change, got %+v", rows)
	}
}
