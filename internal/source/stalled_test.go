package source

import (
	"strconv"
	"testing"
	"time"

	"github.com/tcptop/tcptop/internal/conn"
	"github.com/tcptop/tcptop/internal/testnet"
)

// A sender whose receiver stopped reading before tcptop started is read
// again in every tick while its data waits (issue 16: it was read only
// when a window probe moved its counters, so its limit, measured between
// two reads, was missing from most ticks). Every read has the whole
// interval since the previous one rwnd-limited: the kernel's time in
// progress is counted as tcp_get_info counts it. Where neither the
// map-element iterators nor the walkers load, the table is copied out
// without a re-read (the loss the part names): only its presence is
// checked there.
func TestStalledSenderReadEveryTick(t *testing.T) {
	requireRoot(t)
	srv := testnet.Start(t, "tt-noread", "", "tcp-hold-noread", "127.0.0.1:0")
	defer srv.Release()
	flood := testnet.Start(t, "tt-flood", "", "tcp-flood", "127.0.0.1:"+strconv.Itoa(srv.Port), "0")
	defer flood.Release()
	time.Sleep(time.Second) // the window closes long before

	s := openSource(t)
	rec := newRecorder(s)
	var prev conn.Observation
	for tick := 1; tick <= 10; tick++ {
		obs := rec.poll(t)
		var o conn.Observation
		var found bool
		for _, x := range obs {
			if x.Proto == conn.TCP && int(x.Local.Port()) == flood.Port {
				o, found = x, true
			}
		}
		d := o.Diag
		switch {
		case !found:
			t.Fatalf("tick %d: the stalled sender was not read", tick)
		case d.NotsentBytes == 0 || d.SndWnd != 0:
			t.Fatalf("tick %d: notsent %d, snd_wnd %d: not stalled on the receiver's window", tick, d.NotsentBytes, d.SndWnd)
		case s.iters.hot.none():
		case tick > 1:
			p := prev.Diag
			span := d.ChronoJiffies - p.ChronoJiffies
			gained := [3]uint32{d.Chrono[0] - p.Chrono[0], d.Chrono[1] - p.Chrono[1], d.Chrono[2] - p.Chrono[2]}
			if span == 0 || gained != [3]uint32{0, span, 0} {
				t.Errorf("tick %d: %d jiffies since the previous read, busy/rwnd/sndbuf times gained %v, want [0 %d 0]",
					tick, span, gained, span)
			}
		}
		if d.OpenJiffies != 0 {
			t.Errorf("tick %d: open_jiffies %d for a connection older than tcptop, want 0", tick, d.OpenJiffies)
		}
		prev = o
		time.Sleep(100 * time.Millisecond)
	}
}

// A connection tcptop saw open says when, in jiffies: its chrono times,
// 0 then, fit in the time since.
func TestOpenJiffies(t *testing.T) {
	s := openSource(t)
	rec := newRecorder(s)
	rec.poll(t)
	srv := testnet.Start(t, "tt-noread", "", "tcp-hold-noread", "127.0.0.1:0")
	defer srv.Release()
	flood := testnet.Start(t, "tt-flood", "", "tcp-flood", "127.0.0.1:"+strconv.Itoa(srv.Port), "0")
	defer flood.Release()
	time.Sleep(300 * time.Millisecond)
	var o conn.Observation
	rec.pollUntil(t, 5*time.Second, func() bool {
		var ok bool
		o, ok = rec.latest(func(o conn.Observation) bool { return o.Proto == conn.TCP && int(o.Local.Port()) == flood.Port })
		return ok
	})
	d := o.Diag
	life := d.ChronoJiffies - d.OpenJiffies
	if d.OpenJiffies == 0 || life >= 1<<31 || d.Chrono[0]+d.Chrono[1]+d.Chrono[2] > life {
		t.Errorf("open_jiffies %d, read at %d, chrono %v: want the open, before the read, with the chrono times within the %d jiffies since",
			d.OpenJiffies, d.ChronoJiffies, d.Chrono, life)
	}
}
