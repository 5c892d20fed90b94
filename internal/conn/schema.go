package conn

import (
	"fmt"
	"net/netip"
	"reflect"
	"strings"
	"time"
	"unsafe"
)

// Kind is the JSON type of a field, as documented in docs/fields.md.
type Kind string

// Field kinds.
const (
	KindString Kind = "string"
	KindInt    Kind = "integer"
	KindFloat  Kind = "number"
	KindBool   Kind = "boolean"
)

// Field describes one column of the schema, derived from Row's tags.
type Field struct {
	Name  string
	Kind  Kind
	Doc   string
	Index int // index of the field in Row, for reflect.Value.Field

	// Type is the Go type of the field and Offset its place in Row: with
	// Getter they let a reader resolve a field once, at start-up, and then
	// read it per row without reflection.
	Type   reflect.Type
	Offset uintptr

	// How the field reads for a person (columns.go): its unit, the value
	// shown as "-", its columns in the text format and on the screen.
	Unit         Unit
	None         string
	Text, Screen *View
}

// Getter returns a function that reads field f of a row as a T. It panics
// if f is not a T: callers build their getters once, when they start, so a
// mismatch shows up at once and never costs a check per row.
func Getter[T any](f Field) func(*Row) T {
	if f.Type != reflect.TypeFor[T]() {
		panic(fmt.Sprintf("conn.Getter: field %s is %v, not %v", f.Name, f.Type, reflect.TypeFor[T]()))
	}
	off := f.Offset
	return func(r *Row) T { return *(*T)(unsafe.Add(unsafe.Pointer(r), off)) }
}

// Fields lists the schema in output order. It is computed from Row once.
var Fields = func() []Field {
	fs := fieldsOf(reflect.TypeFor[Row]())
	checkViews(fs)
	return fs
}()

// FieldNames returns the schema names in output order.
func FieldNames() []string {
	names := make([]string, len(Fields))
	for i, f := range Fields {
		names[i] = f.Name
	}
	return names
}

func fieldsOf(t reflect.Type) []Field {
	out := make([]Field, 0, t.NumField())
	for i := range t.NumField() {
		sf := t.Field(i)
		name := sf.Tag.Get("json")
		if name == "" || sf.Tag.Get("expr") != name {
			panic(fmt.Sprintf("conn.Row.%s: json and expr tags must be set and equal", sf.Name))
		}
		f := Field{Name: name, Kind: kindOf(sf.Type), Doc: sf.Tag.Get("doc"), Index: i,
			Type: sf.Type, Offset: sf.Offset}
		f.presentation(sf)
		out = append(out, f)
	}
	return out
}

// kindOf is the JSON type of a Go type. Addresses and times are typed in
// Row (so that the filter compares them as such) and written as strings.
func kindOf(t reflect.Type) Kind {
	switch t {
	case reflect.TypeFor[netip.Addr](), reflect.TypeFor[time.Time]():
		return KindString
	}
	switch t.Kind() {
	case reflect.String:
		return KindString
	case reflect.Int, reflect.Int64:
		return KindInt
	case reflect.Float64:
		return KindFloat
	case reflect.Bool:
		return KindBool
	}
	panic("conn.Row: unsupported field type " + t.String())
}

// FieldsMarkdown renders docs/fields.md from the schema, so the document
// cannot drift from the code (a test compares the two).
func FieldsMarkdown() string {
	var b strings.Builder
	b.WriteString("# Output fields\n\n")
	b.WriteString("Generated from `internal/conn/row.go` by `go test ./internal/conn -update`; do not edit by hand.\n\n")
	b.WriteString("The same names are the NDJSON keys, the CSV header and the variables of `--where`.\n")
	b.WriteString("Every record has every field, unless `--fields` picks some (in the order given). The text\n")
	b.WriteString("output (`-o text`) is for people: it shows a subset in short columns (LOCAL is\n")
	b.WriteString("local_addr:local_port, PKTS_IN is packets_in, RTT is rtt_us, sizes and rates in binary\n")
	b.WriteString("units: see Columns for people below) and marks closed and partial rows; with `--fields`,\n")
	b.WriteString("one column per field, named after it in capitals.\n\n")
	b.WriteString("Counters (bytes_*, packets_*, retrans) never go backwards: the kernel's 32-bit TCP counters are\n")
	b.WriteString("carried past their wrap, and any other decrease is a bug that tcptop reports once on stderr,\n")
	b.WriteString("keeping the previous value (delta 0). Every flow gets a row every tick; with `--changed`, only\n")
	b.WriteString("new flows (opened, or first seen), closed ones, and flows whose bytes, packets, retrans,\n")
	b.WriteString("rtt_us, state, pid or comm differ from the previous tick (an expired UDP flow gets a last row\n")
	b.WriteString("if its counters moved). Deltas and rates are per tick either way.\n\n")
	b.WriteString("| name | type | meaning |\n|---|---|---|\n")
	for _, f := range Fields {
		fmt.Fprintf(&b, "| `%s` | %s | %s |\n", f.Name, f.Kind, strings.ReplaceAll(f.Doc, "|", `\|`))
	}
	writeStrings(&b)
	writeColumns(&b)
	writeTimeFormats(&b)
	writeGroupFields(&b)
	writeStatsFields(&b)
	return b.String()
}
