package conn

import (
	"flag"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"testing"
)

var update = flag.Bool("update", false, "rewrite docs/fields.md from the schema")

var fieldsDoc = filepath.Join("..", "..", "docs", "fields.md")

// TestFieldsDocCurrent fails when docs/fields.md no longer matches Row;
// `go test ./internal/conn -update` regenerates it.
func TestFieldsDocCurrent(t *testing.T) {
	want := FieldsMarkdown()
	if *update {
		if err := os.WriteFile(fieldsDoc, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	got, err := os.ReadFile(fieldsDoc)
	if err != nil {
		t.Fatalf("%v (run go test ./internal/conn -update to create it)", err)
	}
	if string(got) != want {
		t.Errorf("%s is stale: run go test ./internal/conn -update", fieldsDoc)
	}
}

var snakeCase = regexp.MustCompile(`^[a-z][a-z0-9]*(_[a-z0-9]+)*$`)

// TestRowTags checks the one-schema rule: every Row field has equal json
// and expr tags, a doc, and a unique snake_case name.
func TestRowTags(t *testing.T) {
	rt := reflect.TypeFor[Row]()
	seen := make(map[string]string)
	for i := range rt.NumField() {
		sf := rt.Field(i)
		name, expr := sf.Tag.Get("json"), sf.Tag.Get("expr")
		if name == "" || name != expr {
			t.Errorf("Row.%s: json tag %q, expr tag %q; want both set and equal", sf.Name, name, expr)
		}
		if !snakeCase.MatchString(name) {
			t.Errorf("Row.%s: name %q is not snake_case", sf.Name, name)
		}
		if prev, dup := seen[name]; dup {
			t.Errorf("Row.%s: name %q already used by Row.%s", sf.Name, name, prev)
		}
		seen[name] = sf.Name
		if sf.Tag.Get("doc") == "" {
			t.Errorf("Row.%s: no doc tag", sf.Name)
		}
	}
}

// TestFieldsOf checks that deriving the schema does not panic and that
// Fields and FieldNames follow Row's field order.
func TestFieldsOf(t *testing.T) {
	var fields []Field
	func() {
		defer func() {
			if r := recover(); r != nil {
				t.Fatalf("fieldsOf(Row) panicked: %v", r)
			}
		}()
		fields = fieldsOf(reflect.TypeFor[Row]())
	}()
	rt := reflect.TypeFor[Row]()
	if len(fields) != rt.NumField() || len(FieldNames()) != rt.NumField() {
		t.Fatalf("got %d fields, %d names; Row has %d", len(fields), len(FieldNames()), rt.NumField())
	}
	for i, f := range fields {
		if f.Index != i || f.Name != rt.Field(i).Tag.Get("json") || FieldNames()[i] != f.Name {
			t.Errorf("field %d: %+v does not match Row.%s", i, f, rt.Field(i).Name)
		}
	}
}

// TestGetter reads every field through its Field and checks the value and
// that a getter of the wrong type is refused when it is built.
func TestGetter(t *testing.T) {
	r := Row{Tick: 7, LocalAddr: netip.MustParseAddr("10.0.0.1"), Comm: "curl", RateIn: 2.5, Closed: true}
	byName := map[string]Field{}
	for _, f := range Fields {
		byName[f.Name] = f
	}
	if got := Getter[int64](byName["tick"])(&r); got != 7 {
		t.Errorf("tick = %d", got)
	}
	if got := Getter[netip.Addr](byName["local_addr"])(&r); got != r.LocalAddr {
		t.Errorf("local_addr = %v", got)
	}
	if got := Getter[string](byName["comm"])(&r); got != "curl" {
		t.Errorf("comm = %q", got)
	}
	if got := Getter[float64](byName["rate_in"])(&r); got != 2.5 {
		t.Errorf("rate_in = %v", got)
	}
	if got := Getter[bool](byName["closed"])(&r); !got {
		t.Errorf("closed = %v", got)
	}
	defer func() {
		if recover() == nil {
			t.Error("Getter[string] of an integer field did not panic")
		}
	}()
	Getter[string](byName["tick"])
}
