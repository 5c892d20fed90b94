package emit

import (
	"bytes"
	stdjson "encoding/json"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

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
		want := rows[i]
		want.Timestamp = want.Timestamp.Truncate(time.Microsecond) // what the text carries
		if !back.Timestamp.Equal(want.Timestamp) {
			t.Errorf("line %d: timestamp %v, want %v", i+1, back.Timestamp, want.Timestamp)
		}
		back.Timestamp, want.Timestamp = time.Time{}, time.Time{}
		if back != want {
			t.Errorf("line %d decodes to %+v, want %+v", i+1, back, want)
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

// TestNDJSONBadFloat checks that a row that cannot be encoded is an
// error that leaves no partial line, and that the writer goes on.
func TestNDJSONBadFloat(t *testing.T) {
	var buf bytes.Buffer
	w, _ := New("ndjson", &buf, false)
	rows := tick1()
	rows[2].RateIn = math.Inf(1)
	if err := w.Begin(Tick{N: 1, Time: ts1}); err != nil {
		t.Fatal(err)
	}
	for i := range rows {
		err := w.Row(&rows[i])
		if (err != nil) != (i == 2) {
			t.Errorf("row %d: error %v", i, err)
		}
		if i == 2 && (err == nil || !strings.Contains(err.Error(), "rate_in")) {
			t.Errorf("the error does not name the field: %v", err)
		}
	}
	if err := w.End(); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
	if len(lines) != len(rows)-1 {
		t.Fatalf("%d lines, want %d:\n%s", len(lines), len(rows)-1, buf.String())
	}
	for _, l := range lines {
		if !stdjson.Valid([]byte(l)) {
			t.Errorf("not a JSON line: %q", l)
		}
	}
}
