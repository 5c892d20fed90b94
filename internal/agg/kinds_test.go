package agg

import (
	"testing"

	"github.com/tcptop/tcptop/internal/conn"
)

// TestRetransKinds: the kinds' deltas of a tick sum to retrans_delta.
// With kinds counted, retrans is their sum on top of the base (what the
// source hands over), and tlp is the rest of retrans_delta. A partial
// flow's first row counts only what moves after it. A flow whose
// retransmits are not counted by kind (untracked, or the hook refused)
// has 0 kinds, and so has the first tick after its kinds began: they
// have nothing to be a difference of.
func TestRetransKinds(t *testing.T) {
	type v struct{ Port, Delta, RTO, Fast, TLP int64 }
	view := func(r conn.Row) v {
		return v{int64(r.RemotePort), r.RetransDelta, r.RetransRTO, r.RetransFast, r.RetransTLP}
	}
	kinds := func(o ob, base, rto, fast, tlp uint32) ob {
		o.Retrans = uint64(base + rto + fast + tlp)
		o.Diag.Kinds = true
		o.Diag.RetransRTO, o.Diag.RetransFast, o.Diag.RetransTLP = rto, fast, tlp
		return o
	}
	plain := func(o ob, n uint64) ob { o.Retrans = n; return o }
	run(t, []step[v]{
		{now: at(1), obs: obs(kinds(tcp(1), 0, 2, 0, 1), kinds(tcp(2).partial(), 7, 1, 1, 0), plain(tcp(3), 4)),
			want: []v{{1, 3, 2, 0, 1}, {2, 0, 0, 0, 0}, {3, 4, 0, 0, 0}}},
		{now: at(2), obs: obs(kinds(tcp(1), 0, 2, 5, 1), kinds(tcp(2).partial(), 7, 4, 1, 2), plain(tcp(3), 6)),
			want: []v{{1, 5, 0, 5, 0}, {2, 5, 3, 0, 2}, {3, 2, 0, 0, 0}}},
		// tcp(3) is now tracked with its kinds, base 6: its first tick with
		// them has none to take a difference of.
		{now: at(3), obs: obs(kinds(tcp(1), 0, 2, 5, 1), kinds(tcp(3), 6, 1, 0, 0)),
			want: []v{{1, 0, 0, 0, 0}, {2, 0, 0, 0, 0}, {3, 1, 0, 0, 0}}},
		{now: at(4), obs: obs(kinds(tcp(3), 6, 3, 0, 1)),
			want: []v{{1, 0, 0, 0, 0}, {2, 0, 0, 0, 0}, {3, 3, 2, 0, 1}}},
	}, view)
}
