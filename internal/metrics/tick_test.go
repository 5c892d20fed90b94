package metrics

import (
	"fmt"
	"net/http"
	"sync"
	"testing"
)

// TestScrapeSeesWholeTicks: scrapes made while the tick loop counts rows
// see whole ticks only (each tick adds 10 rows of 7 bytes to one label
// set and 3 to another, so any value between two ticks' is half a tick),
// and never a counter that went backwards. Run with -race it also checks
// that the tick loop's counts and the scrape's copy are kept apart.
func TestScrapeSeesWholeTicks(t *testing.T) {
	s := newSink(t, Config{MaxSeries: 10})
	url := serve(t, s)
	const ticks, perTick = 200, 10
	a := `tcptop_sent_bytes_total{comm="a",direction="out",proto="tcp",service_port="80"}`
	b := `tcptop_sent_bytes_total{comm="b",direction="out",proto="tcp",service_port="81"}`
	tick := func(n int) {
		for range perTick {
			ra, rb := tcpRow(n, 80, "a"), tcpRow(n, 81, "b")
			ra.BytesOutDelta, rb.BytesOutDelta = 7, 3
			s.Row(&ra)
			s.Row(&rb)
		}
		s.EndTick(Health{Read: tickAt(n)})
	}
	tick(1)
	var wg sync.WaitGroup
	errs := make(chan string, 1)
	stop := make(chan struct{})
	wg.Go(func() {
		var last float64
		for {
			select {
			case <-stop:
				return
			default:
			}
			code, text := scrape(t, url, "")
			if code != http.StatusOK {
				errs <- fmt.Sprintf("status %d", code)
				return
			}
			got := values(t, text)
			n := got["tcptop_ticks_total"]
			if got[a] != n*perTick*7 || got[b] != n*perTick*3 || got[a] < last {
				errs <- fmt.Sprintf("after %v ticks: a %v, b %v (want %v, %v; a was %v)", n, got[a], got[b], n*perTick*7, n*perTick*3, last)
				return
			}
			last = got[a]
		}
	})
	for n := 2; n <= ticks; n++ {
		tick(n)
	}
	close(stop)
	wg.Wait()
	select {
	case e := <-errs:
		t.Error(e)
	default:
	}
}

// TestIdleRowsAddNothing: rows that moved nothing, opened nothing and did
// not close are counted in tcptop_rows_total and make no label set (a
// label set appears with the first row that adds to it); a row that
// moved shows as before.
func TestIdleRowsAddNothing(t *testing.T) {
	s := newSink(t, Config{MaxSeries: 10})
	url := serve(t, s)
	idle := tcpRow(1, 22, "sshd")
	idle.Partial, idle.RTTMicros = true, 900 // older than tcptop: not an opening; a stale srtt
	busy := tcpRow(1, 443, "curl")
	busy.Partial, busy.BytesInDelta = true, 5
	s.Row(&idle)
	s.Row(&busy)
	s.EndTick(Health{Read: tickAt(1)})
	_, text := scrape(t, url, "")
	got := values(t, text)
	for name, want := range map[string]float64{
		"tcptop_rows_total":     2,
		"tcptop_metrics_series": 1,
		`tcptop_received_bytes_total{comm="curl",direction="out",proto="tcp",service_port="443"}`: 5,
	} {
		if got[name] != want {
			t.Errorf("%s = %v, want %v", name, got[name], want)
		}
	}
	if _, ok := got[`tcptop_received_bytes_total{comm="sshd",direction="out",proto="tcp",service_port="22"}`]; ok {
		t.Errorf("an idle row made a label set:\n%s", text)
	}
}
