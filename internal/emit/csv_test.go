package emit

import (
	"encoding/csv"
	"net/netip"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/tcptop/tcptop/internal/conn"
	"github.com/tcptop/tcptop/internal/escape"
)

// TestCSVParses reads the output back with encoding/csv: one header, then
// one record per row with the right field count, quoting undone, numbers
// parsing as numbers.
func TestCSVParses(t *testing.T) {
	out := render(t, "csv", true, ticks())
	recs, err := csv.NewReader(strings.NewReader(out)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	names := conn.FieldNames()
	if !reflect.DeepEqual(recs[0], names) {
		t.Fatalf("header = %v, want %v", recs[0], names)
	}
	want := append(tick1(), tick3()...)
	if len(recs) != 1+len(want) {
		t.Fatalf("%d records, want a header and %d rows", len(recs), len(want))
	}
	for i, rec := range recs[1:] {
		if reflect.DeepEqual(rec, names) {
			t.Errorf("record %d repeats the header", i+1)
		}
		r := want[i]
		rv := reflect.ValueOf(&r).Elem()
		for j, f := range conn.Fields {
			checkCSVValue(t, f, rv.Field(f.Index), rec[j])
		}
	}
}

func checkCSVValue(t *testing.T, f conn.Field, v reflect.Value, got string) {
	t.Helper()
	var ok bool
	switch f.Kind {
	case conn.KindString:
		want := v.Interface()
		switch x := want.(type) {
		case netip.Addr:
			want = x.String()
			if !x.IsValid() {
				want = "" // written empty, as every writer does
			}
		case time.Time:
			want = x.UTC().Format(timestampLayout)
		}
		ok = got == want
	case conn.KindInt:
		n, err := strconv.ParseInt(got, 10, 64)
		ok = err == nil && n == v.Int()
	case conn.KindFloat:
		x, err := strconv.ParseFloat(got, 64)
		ok = err == nil && x == v.Float() && !strings.ContainsAny(got, "eE")
	case conn.KindBool:
		ok = got == strconv.FormatBool(v.Bool())
	}
	if !ok {
		t.Errorf("%s = %q, want %v", f.Name, got, v)
	}
}

func TestCSVHeader(t *testing.T) {
	header := strings.Join(conn.FieldNames(), ",") + "\n"
	// The header comes with the first tick even if it is empty, and only once.
	if got := render(t, "csv", true, [][]conn.Row{nil, nil}); got != header {
		t.Errorf("empty ticks with header: %q, want just the header", got)
	}
	if got := render(t, "csv", false, ticks()); strings.Contains(got, "timestamp") {
		t.Errorf("header printed without header=true:\n%s", got)
	}
}

func TestCSVQuoting(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"", ""},
		{"curl", "curl"},
		{"a,b", `"a,b"`},
		{`say "hi"`, `"say ""hi"""`},
		{`a,b"c`, `"a,b""c"`},
		{"two\nlines", `two\x0alines`},
		{"cr\r", `cr\x0d`},
		{" lead", `" lead"`},
		{"\u00a0lead", "\"\u00a0lead\""},
		{"\tlead", `\x09lead`},
		{"trail ", "trail "},
		{`\.`, `\x5c.`}, // not PostgreSQL's end marker
		{"\x1b[31m,\xff", `"\x1b[31m,\xff"`},
		{"héllo", "héllo"},
	} {
		if got := string(appendCSVString(nil, tt.in)); got != tt.want {
			t.Errorf("appendCSVString(%q) = %q, want %q", tt.in, got, tt.want)
		}
		// Agree with encoding/csv on every case, escaped.
		var sb strings.Builder
		w := csv.NewWriter(&sb)
		_ = w.Write([]string{escape.String(tt.in)})
		w.Flush()
		if std := strings.TrimSuffix(sb.String(), "\n"); std != tt.want {
			t.Errorf("encoding/csv writes %q escaped as %q, want %q", tt.in, std, tt.want)
		}
	}
}

// TestCSVEscapesEveryString: a cgroup path is a directory name anyone who
// may create a cgroup chose; its escape sequence and invalid UTF-8 are
// written escaped, reversibly, as a process name's are.
func TestCSVEscapesEveryString(t *testing.T) {
	rows := tick1()
	rows[0].Cgroup = "/tt_evil\x1b[31m\xff/x"
	rows[0].ContainerID = "\x1b]0;pwned\a"
	out := render(t, "csv", true, [][]conn.Row{rows})
	if strings.ContainsAny(out, "\x1b\a") || !utf8.ValidString(out) {
		t.Fatalf("a raw control byte or invalid UTF-8 in:\n%q", out)
	}
	recs, err := csv.NewReader(strings.NewReader(out)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	names := conn.FieldNames()
	for name, want := range map[string]string{"cgroup": rows[0].Cgroup, "container_id": rows[0].ContainerID} {
		got := recs[1][slices.Index(names, name)]
		if back, ok := escape.Decode(got); !ok || back != want {
			t.Errorf("%s: %q decodes to %q, want %q", name, got, back, want)
		}
	}
}
