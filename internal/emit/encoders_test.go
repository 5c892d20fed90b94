package emit

import (
	"bytes"
	"io"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/tcptop/tcptop/internal/conn"
)

// TestNDJSONMatchesAppender checks that the NDJSON writer (goccy) writes
// what the hand-written appender writes, byte for byte, on the golden ticks in every time
// format, with --fields, on grouped rows, stats records, and random rows:
// BenchmarkNDJSONEncoders compares two writers of the same output.
func TestNDJSONMatchesAppender(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	random := make([]conn.Row, 500)
	for i := range random {
		random[i] = randomRow(rng)
	}
	cases := []struct {
		name   string
		fields []string
		time   string
		ticks  [][]conn.Row
	}{
		{"golden", nil, "", ticks()},
		{"unix", nil, TimeUnix, ticks()},
		{"unix_ms", nil, TimeUnixMs, ticks()},
		{"fields", pickedFields, "", ticks()},
		{"random", nil, "", [][]conn.Row{random}},
	}
	for _, tc := range cases {
		cols, err := pick(conn.Fields, tc.fields)
		if err != nil {
			t.Fatal(err)
		}
		var want, got bytes.Buffer
		hw, gw := newAppenderNDJSON(&want, cols, tc.time), newNDJSONWith(&got, cols, tc.time)
		for _, rows := range tc.ticks {
			for _, w := range []Writer{hw, gw} {
				if err := writeTick(w, 1, rows); err != nil {
					t.Fatal(err)
				}
				if err := w.(StatsWriter).Stats(statsFixture()); err != nil {
					t.Fatal(err)
				}
			}
		}
		if got.String() != want.String() {
			t.Errorf("%s: the writer writes\n%s\nthe appender\n%s", tc.name, got.String(), want.String())
		}
	}
}

// BenchmarkNDJSONEncoders is the decision between the hand-written
// appender and goccy/go-json's encoder (docs/design.md): both write the
// same 1,000 rows to the same text (TestNDJSONMatchesAppender) in each
// iteration, one after the other, so a machine that is busy for a while
// slows both alike. It reports each one's ns/row and goccy/appender, how
// many times faster the appender is; the appender stays only at 2 or
// more.
func BenchmarkNDJSONEncoders(b *testing.B) {
	rows := benchRows()
	hw, gw := newAppenderNDJSON(io.Discard, columns, ""), newNDJSON(io.Discard)
	var th, tg time.Duration
	b.ReportAllocs()
	for b.Loop() {
		t0 := time.Now()
		if err := writeTick(hw, 1, rows); err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		if err := writeTick(gw, 1, rows); err != nil {
			b.Fatal(err)
		}
		th, tg = th+t1.Sub(t0), tg+time.Since(t1)
	}
	n := float64(b.N * len(rows))
	b.ReportMetric(float64(th.Nanoseconds())/n, "appender-ns/row")
	b.ReportMetric(float64(tg.Nanoseconds())/n, "goccy-ns/row")
	b.ReportMetric(float64(tg)/float64(th), "goccy/appender")
}
