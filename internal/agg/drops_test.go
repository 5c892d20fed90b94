package agg

import (
	"testing"

	"github.com/tcptop/tcptop/internal/conn"
)

func (o ob) drops(n uint64, reason string) ob { o.Drops, o.DropReason = n, reason; return o }

// TestDrops: drops is the source's lifetime count, drops_delta its
// growth in the tick, drop_reason the tick's reason, only in a tick with
// drops. A tick in which only the drops grew is a change (--changed
// shows it); a flow not observed in a tick has drops_delta 0 and no
// reason. TCP by cookie, UDP by its key, each its own.
func TestDrops(t *testing.T) {
	type v struct {
		Port         int
		Drops, Delta int64
		Reason       string
	}
	view := func(r conn.Row) v { return v{r.RemotePort, r.Drops, r.DropsDelta, r.DropReason} }
	run(t, []step[v]{
		{now: at(1), obs: obs(tcp(1).drops(3, "NETFILTER_DROP"), tcp(2), udp(53).drops(2, "SOCKET_RCVBUFF")),
			want: []v{{1, 3, 3, "NETFILTER_DROP"}, {2, 0, 0, ""}, {53, 2, 2, "SOCKET_RCVBUFF"}}},
		// No new drops: the lifetime count stays, without a reason.
		{now: at(2), obs: obs(tcp(1).drops(3, ""), udp(53).drops(2, "")),
			want: []v{{1, 3, 0, ""}, {2, 0, 0, ""}, {53, 2, 0, ""}}},
		{now: at(3), obs: obs(tcp(2).drops(5, "TCP_CSUM")),
			want: []v{{1, 3, 0, ""}, {2, 5, 5, "TCP_CSUM"}, {53, 2, 0, ""}}},
		// Before 5.17: counted, no reason.
		{now: at(4), obs: obs(tcp(1).drops(4, "")),
			want: []v{{1, 4, 1, ""}, {2, 5, 0, ""}, {53, 2, 0, ""}}},
	}, view)

	a := New(Config{Start: t0})
	idle := tcp(7).bytes(10, 10)
	a.Tick(conn.Snapshot{Time: at(1), Obs: obs(idle)})
	a.Tick(conn.Snapshot{Time: at(2), Obs: obs(idle)})
	if rows := rowsOf(t, a, true); len(rows) != 0 {
		t.Fatalf("nothing changed, got %+v", rows)
	}
	a.Tick(conn.Snapshot{Time: at(3), Obs: obs(idle.drops(2, "NETFILTER_DROP"))})
	if rows := rowsOf(t, a, true); len(rows) != 1 || rows[0].DropsDelta != 2 {
		t.Fatalf("only the drops grew: want its row in --changed, got %+v", rows)
	}
}
