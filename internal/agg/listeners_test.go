package agg

import (
	"net/netip"
	"testing"
	"time"

	"github.com/tcptop/tcptop/internal/conn"
)

// listenRead is one read of listeners and the rows it must give.
type listenRead struct {
	obs     []conn.Listener
	changed bool
	want    []listenWant
}

type listenWant struct {
	port                      int
	drops, delta, acceptQueue int64
	partial, closed           bool
}

func TestListenersRows(t *testing.T) {
	l := func(cookie uint64, port uint16, drops, acceptQ uint32) conn.Listener {
		return conn.Listener{Cookie: cookie, NetNS: 1, Local: netip.AddrPortFrom(netip.MustParseAddr("0.0.0.0"), port),
			Drops: drops, AcceptQueue: acceptQ, AcceptQueueMax: 1, PID: 7, Comm: "srv", UID: 1000}
	}
	reads := []listenRead{
		{obs: []conn.Listener{l(1, 80, 5, 0)}, want: []listenWant{{port: 80, drops: 5, partial: true}}},
		{obs: []conn.Listener{l(1, 80, 9, 2), l(2, 443, 3, 0)}, want: []listenWant{
			{port: 80, drops: 9, delta: 4, acceptQueue: 2, partial: true}, {port: 443, drops: 3, delta: 3}}},
		// --changed: 443 did not move, 80 did (its queue).
		{obs: []conn.Listener{l(1, 80, 9, 1), l(2, 443, 3, 0)}, changed: true, want: []listenWant{
			{port: 80, drops: 9, acceptQueue: 1, partial: true}}},
		// 32-bit wrap of sk_drops, and 443 gone: its last row, closed.
		{obs: []conn.Listener{l(1, 80, 1<<32-1, 1)}, want: []listenWant{
			{port: 80, drops: 1<<32 - 1, delta: 1<<32 - 10, acceptQueue: 1, partial: true}, {port: 443, drops: 3, closed: true}}},
		{obs: []conn.Listener{l(1, 80, 2, 1)}, want: []listenWant{
			{port: 80, drops: 1<<32 + 2, delta: 3, acceptQueue: 1, partial: true}}},
	}
	a := NewListeners()
	t0 := time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC)
	for i, rd := range reads {
		a.Begin()
		for j := range rd.obs {
			a.Observe(&rd.obs[j])
		}
		a.End(t0.Add(time.Duration(i)*time.Second), int64(i+1))
		var got []listenWant
		_ = a.Each(rd.changed, func(r *conn.Row) error {
			if r.State != "LISTEN" || r.Tick != int64(i+1) || r.PID != 7 || r.UID != 1000 || r.RemoteAddr.String() != "0.0.0.0" ||
				r.ConnectMicros != -1 || r.SynRetrans != -1 { // no handshake: not applicable
				t.Errorf("read %d: row %+v", i, r)
			}
			got = append(got, listenWant{r.LocalPort, r.ListenDrops, r.ListenDropsDelta, r.AcceptQueue, r.Partial, r.Closed})
			return nil
		})
		if len(got) != len(rd.want) {
			t.Fatalf("read %d: rows %+v, want %+v", i, got, rd.want)
		}
		for j := range got {
			if got[j] != rd.want[j] {
				t.Errorf("read %d row %d: %+v, want %+v", i, j, got[j], rd.want[j])
			}
		}
	}
}
