package metrics

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tcptop/tcptop/internal/conn"
	"github.com/tcptop/tcptop/internal/emit"
)

// benchRows is a tick of n busy flows: 40 programs, 200 remote ports,
// both directions, every row with deltas and an RTT.
func benchRows(n int) []conn.Row {
	rows := make([]conn.Row, n)
	for i := range rows {
		r := tcpRow(1, 1000+i%200, fmt.Sprintf("app%02d", i%40))
		r.LocalPort = 30000 + i%30000
		r.RemoteAddr = netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)})
		r.Direction = []string{"in", "out"}[i%2]
		r.BytesIn, r.BytesOut, r.BytesInDelta, r.BytesOutDelta = 1<<20, 1<<19, 4096, 1024
		r.PacketsInDelta, r.PacketsOutDelta, r.RTTMicros = 4, 2, 250+int64(i%5000)
		r.State, r.CC, r.CommunityID = "ESTABLISHED", "bbr", "1:LQU9qZlK+B5F3KDmev6m5PMibrg="
		rows[i] = r
	}
	return rows
}

// BenchmarkTick10k: the per-tick cost of the metrics (every row counted,
// and the tick's end) against the per-tick cost of writing the same rows
// as NDJSON, what -o ndjson does each tick anyway.
func BenchmarkTick10k(b *testing.B) {
	rows := benchRows(10000)
	b.Run("metrics", func(b *testing.B) {
		s, err := New(Config{MaxSeries: 1000})
		if err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			for j := range rows {
				s.Row(&rows[j])
			}
			s.EndTick(Health{Read: tickAt(i + 1)})
		}
	})
	b.Run("ndjson", func(b *testing.B) {
		w, err := emit.New("ndjson", io.Discard, false)
		if err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			if err := w.Begin(emit.Tick{N: int64(i + 1), Time: tickAt(i + 1)}); err != nil {
				b.Fatal(err)
			}
			for j := range rows {
				if err := w.Row(&rows[j]); err != nil {
					b.Fatal(err)
				}
			}
			if err := w.End(); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkScrape: one scrape's collection at 1,000 label sets.
func BenchmarkScrape(b *testing.B) {
	s, err := New(Config{MaxSeries: 1000})
	if err != nil {
		b.Fatal(err)
	}
	for _, r := range benchRows(10000) {
		s.Row(&r)
	}
	s.EndTick(Health{Read: tickAt(1)})
	ch := make(chan prometheus.Metric, 1<<16)
	b.ReportAllocs()
	for b.Loop() {
		s.Collect(ch)
		for len(ch) > 0 {
			<-ch
		}
	}
}

// BenchmarkTickBenchScale: a tick of bench-scale's load, 100,000 rows of
// which 1% moved (without --changed every row reaches the sink). The
// rows are 1,000 made once and handed over 100 times, as the aggregator
// hands over one row it fills again and again: in cache, so what is
// measured is the sink's work, not the memory of 100,000 rows.
func BenchmarkTickBenchScale(b *testing.B) {
	rows := benchRows(1000)
	for i := range rows {
		if i%100 != 0 {
			r := &rows[i]
			r.Partial = true // idle and older than tcptop: no opening either
			r.BytesInDelta, r.BytesOutDelta, r.PacketsInDelta, r.PacketsOutDelta = 0, 0, 0, 0
		}
	}
	s, err := New(Config{MaxSeries: 1000})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		for range 100 {
			for j := range rows {
				s.Row(&rows[j])
			}
		}
		s.EndTick(Health{Read: tickAt(i + 1)})
	}
}

// BenchmarkScrapeHTTP: one whole scrape as Prometheus makes it
// (OpenMetrics, gzip), through the handler Serve uses: at 1,000 label
// sets (the default --max-series filled), and at the 4 that bench-scale's
// load makes with the default labels (two programs, one service port,
// both directions).
func BenchmarkScrapeHTTP(b *testing.B) {
	for _, tt := range []struct {
		name  string
		comms int
	}{{"1000sets", 40}, {"4sets", 1}} {
		b.Run(tt.name, func(b *testing.B) {
			s, err := New(Config{MaxSeries: 1000})
			if err != nil {
				b.Fatal(err)
			}
			for _, r := range benchRows(10000) {
				if tt.comms == 1 {
					r.Comm, r.ServicePort = []string{"server", "client"}[r.LocalPort/2%2], 9000
				}
				s.Row(&r)
			}
			s.EndTick(Health{Read: tickAt(1)})
			scrapeLoop(b, handler(s))
		})
	}
}

func scrapeLoop(b *testing.B, h http.Handler) {
	req := httptest.NewRequest("GET", Path, nil)
	req.Header.Set("Accept", "application/openmetrics-text;version=1.0.0")
	req.Header.Set("Accept-Encoding", "gzip")
	b.ReportAllocs()
	for b.Loop() {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != http.StatusOK {
			b.Fatal(w.Code)
		}
		b.SetBytes(int64(w.Body.Len()))
	}
}
