package agg

import (
	"math/rand/v2"
	"net/netip"
	"testing"

	"github.com/tcptop/tcptop/internal/conn"
)

// TestHeldRowsKeepTheirCommunityIDs holds every row of 80 ticks of
// churn (flows closing, their indexes taken by new flows, addresses
// changing, the flows moved into key order) and checks at the end that
// each still has the Community ID of its own addresses: the texts rows
// point into are never written again once handed out.
func TestHeldRowsKeepTheirCommunityIDs(t *testing.T) {
	defer func(pending, relocate int) { pendingFloor, relocateFloor = pending, relocate }(pendingFloor, relocateFloor)
	pendingFloor, relocateFloor = 16, 1
	var held []conn.Row
	relocations, rewrites := 0, 0
	for seed := range uint64(10) {
		w := &world{rng: rand.New(rand.NewPCG(seed, 3)), gone: map[conn.FlowID]bool{}}
		a := New(Config{Start: t0, CommunityID: true})
		for tick := 1; tick <= 80; tick++ {
			a.Tick(conn.Snapshot{Time: at(float64(tick)), Obs: w.tick()})
			err := a.Each(tick%3 == 0, func(r *conn.Row) error { held = append(held, *r); return nil })
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range a.texts.copied {
				if c == a.tick {
					rewrites++
				}
			}
		}
		relocations += a.keys.relocations
	}
	for i, r := range held {
		p := conn.TCP
		if r.Proto == conn.UDP.String() {
			p = conn.UDP
		}
		want := conn.CommunityID(p, netip.AddrPortFrom(r.LocalAddr, uint16(r.LocalPort)), netip.AddrPortFrom(r.RemoteAddr, uint16(r.RemotePort)))
		if r.CommunityID != want {
			t.Fatalf("row %d of %d (%s %v:%d → %v:%d, tick %d): community_id %q, want %q",
				i, len(held), r.Proto, r.LocalAddr, r.LocalPort, r.RemoteAddr, r.RemotePort, r.Tick, r.CommunityID, want)
		}
	}
	if relocations < 20 || rewrites < 20 {
		t.Fatalf("%d relocations, %d blocks copied: the test hardly exercises them", relocations, rewrites)
	}
	t.Logf("%d rows, %d relocations, %d blocks copied", len(held), relocations, rewrites)
}

// TestHasCommunityID checks that a flow is marked as having a Community
// ID exactly where conn.CommunityIDDigest gives one: protocols, unset
// addresses, mixed and IPv4-mapped families.
func TestHasCommunityID(t *testing.T) {
	addrs := []netip.AddrPort{{}, netip.MustParseAddrPort("10.0.0.1:80"), netip.MustParseAddrPort("[2001:db8::1]:443"),
		netip.MustParseAddrPort("[::ffff:10.0.0.2]:53"), netip.AddrPortFrom(netip.IPv4Unspecified(), 0)}
	for _, p := range []conn.Proto{conn.TCP, conn.UDP, conn.Proto(0), conn.Proto(9)} {
		for _, l := range addrs {
			for _, r := range addrs {
				st := flowState{proto: p, local: endpointOf(l), remote: endpointOf(r)}
				_, want := conn.CommunityIDDigest(p, st.local.addrPort(), st.remote.addrPort())
				if got := hasCommunityID(&st); got != want {
					t.Errorf("%v %v %v: hasCommunityID %v, CommunityIDDigest ok %v", p, l, r, got, want)
				}
			}
		}
	}
}
