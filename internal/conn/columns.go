package conn

import (
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
)

// The column model: how a field reads for a person, declared with the
// field (Inspektor Gadget's columns library keeps width, alignment, unit
// and order in its row type's tags the same way). The text format, its
// --fields columns and the live screen derive their columns from it; no
// writer guesses a unit from a field's name. The tags, all optional:
//
//	unit:"bytes"    how a number reads: bytes (binary units, 10KiB),
//	                bytes/s (a rate, 1.2MiB/s), us (a time in
//	                microseconds, 850us, 12.3ms; 0 is "-"), ms (a time in
//	                milliseconds, 850ms, 12.3s, 4m05s); none: as it is
//	none:"0"        the value that means "none", shown as "-": a number
//	                ("0", "-1"), "udp" for a counter UDP rows do not have,
//	                or "listener" for a field only listeners' rows have
//	text:"PROTO,order=1,width=5"
//	                its column in the default text layout: the header,
//	                the place (ascending), the starting width
//	screen:"RX,order=9,hidden"
//	                its column on the live screen; hidden: shown only when
//	                chosen (f); prefix=N: at most its first N characters
//	                (a container id as docker ps shows it)
//
// A text or screen column of an address may add port=FIELD: it shows
// host:port, an endpoint, and the port field has no column of its own.
// Numbers are aligned right, everything else left.

// Unit is how a number reads for a person.
type Unit string

// Units of the unit tag.
const (
	UnitNone   Unit = ""
	UnitBytes  Unit = "bytes"   // binary units: 512B, 1.2KiB, 340KiB
	UnitRate   Unit = "bytes/s" // bytes per second, in binary units
	UnitMicros Unit = "us"      // microseconds: 850us, 12.3ms, 1.20s; 0 (unknown) is "-"
	UnitMillis Unit = "ms"      // milliseconds: 0ms, 850ms, 12.3s, 4m05s, 3h07m
)

// NoneUDP is the none tag of a TCP-only counter: "-" on a UDP row.
const NoneUDP = "udp"

// NoneListener is the none tag of a listener's own field (--listeners):
// "-" on a row that is not a listener's.
const NoneListener = "listener"

// StateListen is the state of a listener's row.
const StateListen = "LISTEN"

// View is a field's column in one layout for people: the text format's
// default layout (Field.Text) or the live screen (Field.Screen).
type View struct {
	Header string // the column's name: "BYTES_IN", "RX/s"
	Order  int    // place in the layout, ascending
	Width  int    // the starting width, in runes (text); 0: the header's
	Port   string // a port field: the column is the endpoint host:port
	Hidden bool   // screen: not shown until chosen
	Prefix int    // screen: show at most the first Prefix characters; 0: all
}

// Right reports whether f's cells align right: numbers do.
func (f Field) Right() bool { return f.Kind == KindInt || f.Kind == KindFloat }

// presentation reads the unit, none, text and screen tags of sf into f.
// A tag it cannot read panics, naming the field: the schema is fixed at
// build time, and a test loads it.
func (f *Field) presentation(sf reflect.StructField) {
	fail := func(format string, a ...any) {
		panic(fmt.Sprintf("conn: field %s: ", f.Name) + fmt.Sprintf(format, a...))
	}
	f.Unit = Unit(sf.Tag.Get("unit"))
	if !slices.Contains([]Unit{UnitNone, UnitBytes, UnitRate, UnitMicros, UnitMillis}, f.Unit) {
		fail("unknown unit %q", f.Unit)
	}
	if f.Unit != UnitNone && !f.Right() {
		fail("a unit on a field that is not a number")
	}
	f.None = sf.Tag.Get("none")
	if _, err := strconv.ParseInt(f.None, 10, 64); f.None != "" && f.None != NoneUDP && f.None != NoneListener && err != nil {
		fail("none %q is neither a number nor %q or %q", f.None, NoneUDP, NoneListener)
	}
	var err error
	if f.Text, err = parseView(sf.Tag, "text"); err != nil {
		fail("%v", err)
	}
	if f.Screen, err = parseView(sf.Tag, "screen"); err != nil {
		fail("%v", err)
	}
}

// parseView reads the view tag key of a field: "HEADER,opt=value,...".
func parseView(tag reflect.StructTag, key string) (*View, error) {
	s, ok := tag.Lookup(key)
	if !ok {
		return nil, nil
	}
	parts := strings.Split(s, ",")
	v := &View{Header: parts[0]}
	if v.Header == "" {
		return nil, fmt.Errorf("%s tag %q has no header", key, s)
	}
	for _, p := range parts[1:] {
		name, val, _ := strings.Cut(p, "=")
		var err error
		switch name {
		case "order":
			v.Order, err = strconv.Atoi(val)
		case "width":
			v.Width, err = strconv.Atoi(val)
		case "prefix":
			v.Prefix, err = strconv.Atoi(val)
		case "port":
			v.Port = val
		case "hidden":
			v.Hidden = true
		default:
			err = fmt.Errorf("unknown option")
		}
		if err != nil {
			return nil, fmt.Errorf("%s tag %q: %s: %v", key, s, p, err)
		}
	}
	return v, nil
}

// checkViews checks what one field's tags cannot: that a port names an
// integer field and each layout's orders are distinct.
func checkViews(fields []Field) {
	for _, view := range []func(Field) *View{TextView, ScreenView} {
		seen := map[int]string{}
		for _, f := range fields {
			v := view(f)
			if v == nil {
				continue
			}
			if prev, dup := seen[v.Order]; dup {
				panic(fmt.Sprintf("conn: fields %s and %s have the same order %d", prev, f.Name, v.Order))
			}
			seen[v.Order] = f.Name
			if v.Port == "" {
				continue
			}
			i := slices.IndexFunc(fields, func(p Field) bool { return p.Name == v.Port })
			if i < 0 || fields[i].Kind != KindInt {
				panic(fmt.Sprintf("conn: field %s: port %q is not an integer field", f.Name, v.Port))
			}
		}
	}
}

// TextView is a field's column in the text format's default layout, nil
// if it has none there.
func TextView(f Field) *View { return f.Text }

// ScreenView is a field's column on the live screen, nil if it has none.
func ScreenView(f Field) *View { return f.Screen }

// Layout lists the fields that have a column in a view (TextView or
// ScreenView), in the view's order.
func Layout(fields []Field, view func(Field) *View) []Field {
	var out []Field
	for _, f := range fields {
		if view(f) != nil {
			out = append(out, f)
		}
	}
	slices.SortStableFunc(out, func(a, b Field) int { return view(a).Order - view(b).Order })
	return out
}
