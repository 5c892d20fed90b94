package emit

import (
	stdjson "encoding/json"
	"io"
	"testing"

	"github.com/goccy/go-json"

	"github.com/tcptop/tcptop/internal/conn"
)

// benchRows is a 1000-flow tick built from the golden rows.
func benchRows() []conn.Row {
	base := tick3()
	rows := make([]conn.Row, 1000)
	for i := range rows {
		rows[i] = base[i%len(base)]
		rows[i].LocalPort = 1024 + i
	}
	return rows
}

// benchmarkFormat writes the 1000-row tick per iteration and reports the
// cost per row.
func benchmarkFormat(b *testing.B, format string) {
	w, err := New(format, io.Discard, true)
	if err != nil {
		b.Fatal(err)
	}
	rows := benchRows()
	b.ReportAllocs()
	for b.Loop() {
		if err := writeTick(w, 1, rows); err != nil {
			b.Fatal(err)
		}
	}
	perRow(b, len(rows))
}

func perRow(b *testing.B, rows int) {
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*rows), "ns/row")
}

func BenchmarkNDJSON(b *testing.B) { benchmarkFormat(b, "ndjson") }
func BenchmarkCSV(b *testing.B)    { benchmarkFormat(b, "csv") }
func BenchmarkText(b *testing.B)   { benchmarkFormat(b, "text") }

// BenchmarkGoccyJSON and BenchmarkStdlibJSON are the baselines for
// BenchmarkNDJSON: the same rows as the strings NDJSON carries (wire, which
// the encoders see as a plain struct of strings and numbers, so the text of
// the addresses and time is made before the clock starts: this favours the
// baselines), encoded line by line into one reused buffer.
func BenchmarkGoccyJSON(b *testing.B) {
	enc := json.NewEncoder(&lineSink{})
	enc.SetEscapeHTML(false)
	benchmarkEncoder(b, enc)
}

func BenchmarkStdlibJSON(b *testing.B) {
	enc := stdjson.NewEncoder(&lineSink{})
	enc.SetEscapeHTML(false)
	benchmarkEncoder(b, enc)
}

func benchmarkEncoder(b *testing.B, enc interface{ Encode(any) error }) {
	rows := wireRows(b, benchRows())
	b.ReportAllocs()
	for b.Loop() {
		for i := range rows {
			if err := enc.Encode(rows[i].Interface()); err != nil {
				b.Fatal(err)
			}
		}
	}
	perRow(b, len(rows))
}

// lineSink counts what it is given.
type lineSink struct{ n int }

func (s *lineSink) Write(p []byte) (int, error) { s.n += len(p); return len(p), nil }
