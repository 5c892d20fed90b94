package emit

import (
	"bytes"
	stdjson "encoding/json"
	"fmt"
	"io"
	"testing"

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

func benchmarkFormat(b *testing.B, format string) {
	w, err := New(format, io.Discard, true)
	if err != nil {
		b.Fatal(err)
	}
	rows := benchRows()
	b.ReportAllocs()
	for b.Loop() {
		if err := w.WriteTick(rows); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkNDJSON(b *testing.B) { benchmarkFormat(b, "ndjson") }
func BenchmarkCSV(b *testing.B)    { benchmarkFormat(b, "csv") }
func BenchmarkText(b *testing.B)   { benchmarkFormat(b, "text") }

// BenchmarkStdlibJSON is the baseline for BenchmarkNDJSON: the same tick
// through encoding/json, buffered and written once.
func BenchmarkStdlibJSON(b *testing.B) {
	rows := benchRows()
	var buf bytes.Buffer
	enc := stdjson.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	b.ReportAllocs()
	for b.Loop() {
		for i := range rows {
			if err := enc.Encode(&rows[i]); err != nil {
				b.Fatal(err)
			}
		}
		if _, err := io.Discard.Write(buf.Bytes()); err != nil {
			b.Fatal(fmt.Errorf("discard: %w", err))
		}
		buf.Reset()
	}
}
