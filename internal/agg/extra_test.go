package agg

import (
	"testing"

	"github.com/tcptop/tcptop/internal/conn"
)

// TestExtraOnlyWhereSet: a connection with no handshake known and no
// retransmits by kind (every one older than tcptop) has no flowExtra
// entry; one whose handshake tcptop saw has one, with its row's values,
// until its close frees it.
func TestExtraOnlyWhereSet(t *testing.T) {
	a := New(Config{Start: t0})
	a.Tick(conn.Snapshot{Time: at(1), Obs: obs(tcp(1).partial(), tcp(2).handshake(1500, true, 2, true))})
	if len(a.extra) != 1 {
		t.Fatalf("%d extra entries after the first tick, want 1 (tcp(2))", len(a.extra))
	}
	rows := rowsOf(t, a, false)
	if rows[0].ConnectMicros != -1 || rows[0].SynRetrans != -1 || rows[1].ConnectMicros != 1500 || rows[1].SynRetrans != 2 {
		t.Errorf("connect_us, syn_retrans: %d %d, %d %d; want -1 -1, 1500 2",
			rows[0].ConnectMicros, rows[0].SynRetrans, rows[1].ConnectMicros, rows[1].SynRetrans)
	}
	a.Tick(conn.Snapshot{Time: at(2), Obs: obs(tcp(2).handshake(1500, true, 2, true).closed())})
	a.Tick(conn.Snapshot{Time: at(3)})
	if len(a.extra) != 0 {
		t.Errorf("%d extra entries after tcp(2) closed, want 0", len(a.extra))
	}
}

// TestResets: a reset is a change (the flow's row shows under --changed
// with nothing else moving), its counts stay on the following rows, and
// the flow then holds a flowExtra entry.
func TestResets(t *testing.T) {
	a := New(Config{Start: t0})
	rst := func(o ob, in, out uint32) ob { o.Diag.RstIn, o.Diag.RstOut = in, out; return o }
	a.Tick(conn.Snapshot{Time: at(1), Obs: obs(tcp(1).partial(), tcp(2).partial())})
	a.Tick(conn.Snapshot{Time: at(2), Obs: obs(rst(tcp(1).partial(), 1, 0), tcp(2).partial())})
	rows := rowsOf(t, a, true)
	if len(rows) != 1 || rows[0].RstIn != 1 || rows[0].RstOut != 0 {
		t.Fatalf("changed rows %+v, want tcp(1)'s alone, rst_in 1", rows)
	}
	a.Tick(conn.Snapshot{Time: at(3), Obs: obs(rst(tcp(1).partial(), 1, 2))})
	rows = rowsOf(t, a, false)
	if rows[0].RstIn != 1 || rows[0].RstOut != 2 || rows[1].RstIn != 0 || rows[1].RstOut != 0 {
		t.Errorf("rst_in, rst_out: %d %d, %d %d; want 1 2, 0 0", rows[0].RstIn, rows[0].RstOut, rows[1].RstIn, rows[1].RstOut)
	}
	if len(a.extra) != 1 {
		t.Errorf("%d extra entries, want 1 (tcp(1))", len(a.extra))
	}
}
