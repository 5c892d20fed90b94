package emit

import (
	"bytes"
	"encoding/csv"
	stdjson "encoding/json"
	"fmt"
	"math"
	"net/netip"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"
	"unsafe"

	"github.com/tcptop/tcptop/internal/conn"
	"github.com/tcptop/tcptop/internal/escape"
)

// The fuzz targets write rows whose every string field (every field of
// type string in the schema, conn.Fields) holds arbitrary bytes: quotes,
// commas, newlines, control characters, escape sequences, invalid UTF-8.
// They check what a consumer of each format relies on: its own syntax,
// one line per row, no raw control byte, valid UTF-8, and each string
// escaped as internal/escape says, so that it decodes back to the bytes
// the row held. The seeds are testdata/fuzz/<target>/* (go test runs
// them); `make fuzz` runs each target for a while.

// stringFields are the schema's string fields, found by reflection so that
// a new one is fuzzed without a change here.
var stringFields = func() []conn.Field {
	var out []conn.Field
	for _, f := range conn.Fields {
		if f.Type == reflect.TypeFor[string]() {
			out = append(out, f)
		}
	}
	return out
}()

// fuzzRow is the row a fuzz input describes: string field k holds
// strs[(k+shift)%len(strs)]. A 4- or 16-byte addr is an address, anything
// else the unset one.
func fuzzRow(strs []string, shift int, n int64, rate float64, addr []byte, flags uint8) conn.Row {
	a, _ := netip.AddrFromSlice(addr)
	r := conn.Row{
		Timestamp: ts1.Add(time.Duration(n)), Tick: n,
		LocalAddr: a, LocalPort: int(uint16(n)), RemoteAddr: a.Next(), RemotePort: int(uint16(n >> 16)),
		PID:     int(uint32(n)),
		BytesIn: n, BytesOut: -n, PacketsIn: n >> 3, PacketsOut: math.MaxInt64,
		BytesInDelta: n, BytesOutDelta: 0, RateIn: rate, RateOut: -rate,
		RTTMicros: n, Retrans: n >> 1, Cwnd: n,
		Partial: flags&1 != 0, Closed: flags&2 != 0,
	}
	for k, f := range stringFields {
		*(*string)(unsafe.Add(unsafe.Pointer(&r), f.Offset)) = strs[(k+shift)%len(strs)]
	}
	return r
}

// stringOf reads string field f of r.
func stringOf(r *conn.Row, f conn.Field) string {
	return *(*string)(unsafe.Add(unsafe.Pointer(r), f.Offset))
}

// writeRows writes rows as one tick, with every field (text too, with
// --fields naming them all) or, if all is false, each format's default
// layout, and returns the output and the rows the writer accepted (a rate
// that is not a number is an error for NDJSON, and leaves no line).
func writeRows(t *testing.T, format string, all bool, rows []conn.Row) (string, []conn.Row) {
	var buf bytes.Buffer
	o := Options{Header: true}
	if all {
		o.Fields = conn.FieldNames()
	}
	w, err := NewWith(format, &buf, o)
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

// fuzzRows is the rows of a fuzz input: each of its strings in each
// string field once.
func fuzzRows(comm, state, cc, other string, n int64, rate float64, addr []byte, flags uint8) []conn.Row {
	strs := []string{comm, state, cc, other}
	rows := make([]conn.Row, len(strs))
	for i := range rows {
		rows[i] = fuzzRow(strs, i, n+int64(i), rate/float64(i+1), addr, flags+uint8(i))
	}
	return rows
}

// checkSafe fails if out, lines ending in "\n", holds a byte a terminal
// or a line-based reader would act on: a control character other than
// the line ends, or invalid UTF-8.
func checkSafe(t *testing.T, format, out string) {
	t.Helper()
	if !utf8.ValidString(out) {
		t.Fatalf("%s: not valid UTF-8: %q", format, out)
	}
	for _, r := range out {
		if r != '\n' && (unicode.IsControl(r) || unicode.In(r, unicode.Cf, unicode.Zl, unicode.Zp)) {
			t.Fatalf("%s: a raw %U in:\n%q", format, r, out)
		}
	}
}

// checkDecodes fails unless got, a string field as a format carries it,
// is want escaped: it decodes back to want.
func checkDecodes(t *testing.T, where string, got, want string) {
	t.Helper()
	if back, ok := escape.Decode(got); !ok || back != want {
		t.Errorf("%s: %q decodes to %q (%v), want %q", where, got, back, ok, want)
	}
}

// FuzzNDJSON: one valid JSON object per line, per row written, with every
// schema key, no raw control byte, and every string field escaped.
func FuzzNDJSON(f *testing.F) {
	f.Fuzz(func(t *testing.T, comm, state, cc, other string, n int64, rate float64, addr []byte, flags uint8) {
		out, rows := writeRows(t, "ndjson", false, fuzzRows(comm, state, cc, other, n, rate, addr, flags))
		checkSafe(t, "ndjson", out)
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
			for _, f := range stringFields {
				got, _ := m[f.Name].(string)
				checkDecodes(t, fmt.Sprintf("line %d: %s", i, f.Name), got, stringOf(&rows[i], f))
			}
		}
	})
}

// FuzzCSV: RFC 4180 as encoding/csv reads it, strictly: the header, then
// one record per row with the header's number of fields, no raw control
// byte, and every string field escaped.
func FuzzCSV(f *testing.F) {
	f.Fuzz(func(t *testing.T, comm, state, cc, other string, n int64, rate float64, addr []byte, flags uint8) {
		out, rows := writeRows(t, "csv", false, fuzzRows(comm, state, cc, other, n, rate, addr, flags))
		checkSafe(t, "csv", out)
		recs, err := csv.NewReader(strings.NewReader(out)).ReadAll()
		if err != nil {
			t.Fatalf("not CSV: %v:\n%q", err, out)
		}
		names := conn.FieldNames()
		if len(recs) != 1+len(rows) || !slices.Equal(recs[0], names) {
			t.Fatalf("%d records for %d rows, or a bad header:\n%q", len(recs), len(rows), out)
		}
		for i, rec := range recs[1:] {
			if len(rec) != len(names) {
				t.Fatalf("record %d has %d fields, want %d", i, len(rec), len(names))
			}
			for _, f := range stringFields {
				got := rec[slices.Index(names, f.Name)]
				checkDecodes(t, fmt.Sprintf("record %d: %s", i, f.Name), got, stringOf(&rows[i], f))
			}
		}
	})
}

// FuzzText: in the default layout and with every field, the tick line,
// the header and one line per row, without a raw control byte, and as
// many blank-separated fields on each row line as it has columns (and
// markers), every string field escaped.
func FuzzText(f *testing.F) {
	f.Fuzz(func(t *testing.T, comm, state, cc, other string, n int64, rate float64, addr []byte, flags uint8) {
		for _, all := range []bool{false, true} {
			out, rows := writeRows(t, "text", all, fuzzRows(comm, state, cc, other, n, rate, addr, flags))
			checkSafe(t, "text", out)
			lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
			if !strings.HasSuffix(out, "\n") || len(lines) != 2+len(rows) {
				t.Fatalf("%d lines for %d rows, want %d:\n%s", len(lines), len(rows), 2+len(rows), out)
			}
			if !all {
				continue
			}
			names := conn.FieldNames()
			for i, l := range lines[2:] {
				cells := strings.Fields(l)
				if len(cells) != len(names) {
					t.Fatalf("row %d has %d fields, want %d: %q", i, len(cells), len(names), l)
				}
				for _, f := range stringFields {
					if want := stringOf(&rows[i], f); want != "" { // "" is shown as "-"
						checkDecodes(t, fmt.Sprintf("row %d: %s", i, f.Name), cells[slices.Index(names, f.Name)], want)
					}
				}
			}
		}
	})
}

// TestEscapedOnceInEveryFormat: a name that looks escaped already is a
// name like any other: its backslashes are escaped, so it cannot pass for
// the bytes it spells, and a raw escape sequence is written escaped, once.
func TestEscapedOnceInEveryFormat(t *testing.T) {
	rows := tick1()
	rows[0].Comm = `\x1b[31m`
	rows[1].Comm = "\x1b[31mred\xff"
	for _, format := range []string{"csv", "text", "ndjson"} {
		out := render(t, format, true, [][]conn.Row{rows})
		want := []string{`\x5cx1b[31m`, `\x1b[31mred\xff`}
		if format == "ndjson" {
			want = []string{`\\x5cx1b[31m`, `\\x1b[31mred\\xff`} // a backslash in a JSON string is \\
		}
		for _, w := range want {
			if !strings.Contains(out, w) {
				t.Errorf("%s: no %s in:\n%s", format, w, out)
			}
		}
		if strings.ContainsAny(out, "\x1b\xff") {
			t.Errorf("%s: a raw escape or invalid byte in:\n%s", format, out)
		}
	}
}
