package emit

import (
	"bytes"
	"encoding/csv"
	stdjson "encoding/json"
	"math"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/tcptop/tcptop/internal/conn"
)

// The fuzz targets write rows made of arbitrary strings (process names
// with quotes, commas, newlines, control characters, invalid UTF-8),
// numbers and addresses, and read the output back as its format says it
// is. The seeds are testdata/fuzz/<target>/* (go test runs them);
// `make fuzz` runs each target for a while.

// fuzzRow is the row a fuzz input describes. A 4- or 16-byte addr is an
// address, anything else the unset one.
func fuzzRow(comm, state, cc, other string, n int64, rate float64, addr []byte, flags uint8) conn.Row {
	a, _ := netip.AddrFromSlice(addr)
	return conn.Row{
		Timestamp: ts1.Add(time.Duration(n)), Tick: n,
		Proto: other, Family: other,
		LocalAddr: a, LocalPort: int(uint16(n)), RemoteAddr: a.Next(), RemotePort: int(uint16(n >> 16)),
		PID: int(uint32(n)), Comm: comm, State: state,
		BytesIn: n, BytesOut: -n, PacketsIn: n >> 3, PacketsOut: math.MaxInt64,
		BytesInDelta: n, BytesOutDelta: 0, RateIn: rate, RateOut: -rate,
		RTTMicros: n, Retrans: n >> 1, Cwnd: n,
		CC: cc, Limit: other, Error: other,
		Partial: flags&1 != 0, Closed: flags&2 != 0,
	}
}

// writeRows writes rows as one tick and returns the output and the rows
// the writer accepted (a rate that is not a number is an error for
// NDJSON, and leaves no line).
func writeRows(t *testing.T, format string, rows []conn.Row) (string, []conn.Row) {
	var buf bytes.Buffer
	w, err := New(format, &buf, true)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Begin(Tick{N: 1, Time: ts1}); err != nil {
		t.Fatal(err)
	}
	var written []conn.Row
	for i := range rows {
		if err := w.Row(&rows[i]); err == nil {
			written = append(written, rows[i])
		} else if format != "ndjson" || !math.IsNaN(rows[i].RateIn) && !math.IsInf(rows[i].RateIn, 0) {
			t.Fatalf("%s: row %d: %v", format, i, err)
		}
	}
	if err := w.End(); err != nil {
		t.Fatal(err)
	}
	return buf.String(), written
}

// fuzzRows is the two rows of a fuzz input: the one it describes, and the
// same with its strings swapped around, so that every string lands in
// several columns.
func fuzzRows(comm, state, cc, other string, n int64, rate float64, addr []byte, flags uint8) []conn.Row {
	return []conn.Row{
		fuzzRow(comm, state, cc, other, n, rate, addr, flags),
		fuzzRow(other, comm, state, cc, -n, rate/3, addr, ^flags),
	}
}

// FuzzNDJSON: one valid JSON object per line, per row written, with every
// schema key, and the strings read back as written (invalid UTF-8 as
// U+FFFD, as encoding/json would write them).
func FuzzNDJSON(f *testing.F) {
	f.Fuzz(func(t *testing.T, comm, state, cc, other string, n int64, rate float64, addr []byte, flags uint8) {
		out, rows := writeRows(t, "ndjson", fuzzRows(comm, state, cc, other, n, rate, addr, flags))
		lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
		if out == "" {
			lines = nil
		}
		if len(lines) != len(rows) {
			t.Fatalf("%d lines for %d rows:\n%s", len(lines), len(rows), out)
		}
		for i, l := range lines {
			var m map[string]any
			if err := stdjson.Unmarshal([]byte(l), &m); err != nil {
				t.Fatalf("line %d is not a JSON object: %v: %q", i, err, l)
			}
			if len(m) != len(conn.Fields) {
				t.Fatalf("line %d has %d keys, want %d", i, len(m), len(conn.Fields))
			}
			if want := jsonText(rows[i].Comm); m["comm"] != want {
				t.Errorf("line %d: comm %q, want %q", i, m["comm"], want)
			}
		}
	})
}

// jsonText is s as encoding/json reads it back: each byte of invalid
// UTF-8 a U+FFFD (strings.ToValidUTF8 would make one of a run).
func jsonText(s string) string {
	var b strings.Builder
	for _, r := range s {
		b.WriteRune(r) // range yields utf8.RuneError for each invalid byte
	}
	return b.String()
}

// FuzzCSV: RFC 4180 as encoding/csv reads it, strictly: the header, then
// one record per row with the header's number of fields, the strings
// read back as written.
func FuzzCSV(f *testing.F) {
	f.Fuzz(func(t *testing.T, comm, state, cc, other string, n int64, rate float64, addr []byte, flags uint8) {
		out, rows := writeRows(t, "csv", fuzzRows(comm, state, cc, other, n, rate, addr, flags))
		recs, err := csv.NewReader(strings.NewReader(out)).ReadAll()
		if err != nil {
			t.Fatalf("not CSV: %v:\n%q", err, out)
		}
		names := conn.FieldNames()
		if len(recs) != 1+len(rows) || !slices.Equal(recs[0], names) {
			t.Fatalf("%d records for %d rows, or a bad header:\n%q", len(recs), len(rows), out)
		}
		commCol := slices.Index(names, "comm")
		for i, rec := range recs[1:] {
			if len(rec) != len(names) {
				t.Fatalf("record %d has %d fields, want %d", i, len(rec), len(names))
			}
			// encoding/csv reads \r\n in a quoted field as \n.
			if want := strings.ReplaceAll(rows[i].Comm, "\r\n", "\n"); rec[commCol] != want {
				t.Errorf("record %d: comm %q, want %q", i, rec[commCol], want)
			}
		}
	})
}

// FuzzText: the tick line, the header and one line per row, valid UTF-8
// without a control character.
func FuzzText(f *testing.F) {
	f.Fuzz(func(t *testing.T, comm, state, cc, other string, n int64, rate float64, addr []byte, flags uint8) {
		out, rows := writeRows(t, "text", fuzzRows(comm, state, cc, other, n, rate, addr, flags))
		if !strings.HasSuffix(out, "\n") || strings.Count(out, "\n") != 2+len(rows) {
			t.Fatalf("%d lines for %d rows, want %d:\n%s", strings.Count(out, "\n"), len(rows), 2+len(rows), out)
		}
		if !utf8.ValidString(out) {
			t.Fatalf("not valid UTF-8: %q", out)
		}
		for _, r := range strings.TrimSuffix(out, "\n") {
			if r != '\n' && unicode.IsControl(r) {
				t.Fatalf("a control character %U in:\n%q", r, out)
			}
		}
	})
}

// TestEscapedNamesPassThrough: a process name reaches the writers as the
// source's printable made it (internal/source pins that "\x1b[31mred\xff"
// becomes `\x1b[31mred\xff`); CSV and text must carry exactly that text,
// neither undoing the escapes nor escaping them again.
func TestEscapedNamesPassThrough(t *testing.T) {
	const escaped = `\x1b[31mred\xff`
	double := func(s string) string { return strings.ReplaceAll(s, `\`, `\\`) }
	rows := tick1()
	rows[0].Comm = escaped
	for _, format := range []string{"csv", "text", "ndjson"} {
		out := render(t, format, true, [][]conn.Row{rows})
		want := escaped
		if format == "ndjson" {
			want = double(escaped) // a backslash in a JSON string is \\
		}
		if !strings.Contains(out, want) || strings.Contains(out, double(want)) || strings.ContainsAny(out, "\x1b\xff") {
			t.Errorf("%s: the escaped name is not there as it is:\n%s", format, out)
		}
	}
}
