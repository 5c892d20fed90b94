package emit

import (
	"bytes"
	stdjson "encoding/json"
	"math"
	"reflect"
	"strings"
	"testing"

	"github.com/tcptop/tcptop/internal/conn"
)

// TestNDJSONSchema checks that every line is a JSON object with exactly
// the schema's keys, in schema order, and that it decodes back to the row.
func TestNDJSONSchema(t *testing.T) {
	rows := tick3()
	out := render(t, "ndjson", true, [][]conn.Row{rows})
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) != len(rows) {
		t.Fatalf("%d lines for %d rows", len(lines), len(rows))
	}
	for i, line := range lines {
		if keys := objectKeys(t, line); !reflect.DeepEqual(keys, conn.FieldNames()) {
			t.Errorf("line %d keys = %v, want %v", i+1, keys, conn.FieldNames())
		}
		var back conn.Row
		if err := stdjson.Unmarshal([]byte(line), &back); err != nil {
			t.Fatalf("line %d: %v", i+1, err)
		}
		if back != rows[i] {
			t.Errorf("line %d decodes to %+v, want %+v", i+1, back, rows[i])
		}
	}
}

// objectKeys returns the top-level keys of a JSON object, in order.
func objectKeys(t *testing.T, line string) []string {
	t.Helper()
	dec := stdjson.NewDecoder(strings.NewReader(line))
	dec.UseNumber()
	if tok, err := dec.Token(); err != nil || tok != stdjson.Delim('{') {
		t.Fatalf("not a JSON object: %q (%v)", line, err)
	}
	var keys []string
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			t.Fatalf("%q: %v", line, err)
		}
		keys = append(keys, tok.(string))
		var v any
		if err := dec.Decode(&v); err != nil {
			t.Fatalf("%q: %v", line, err)
		}
	}
	if _, err := dec.Token(); err != nil || dec.More() {
		t.Fatalf("trailing data in %q", line)
	}
	return keys
}

func TestNDJSONRates(t *testing.T) {
	out := render(t, "ndjson", false, [][]conn.Row{{{RateIn: 500, RateOut: 1234.5}}})
	if !strings.Contains(out, `"rate_in":500,"rate_out":1234.5,`) {
		t.Errorf("rates not plain JSON numbers: %s", out)
	}
}

// TestNDJSONBadFloat checks that a row that cannot be encoded fails the
// tick without writing a partial line.
func TestNDJSONBadFloat(t *testing.T) {
	var buf bytes.Buffer
	w, _ := New("ndjson", &buf, false)
	rows := tick1()
	rows[2].RateIn = math.Inf(1)
	if err := w.WriteTick(rows); err == nil {
		t.Error("WriteTick with an infinite rate: no error")
	}
	if buf.Len() != 0 {
		t.Errorf("failed tick wrote %q", buf.String())
	}
	if err := w.WriteTick(tick1()); err != nil || strings.Count(buf.String(), "\n") != len(tick1()) {
		t.Errorf("next tick: err %v, output %q", err, buf.String())
	}
}
