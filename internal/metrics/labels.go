package metrics

import (
	"fmt"
	"net/netip"
	"reflect"
	"strconv"
	"time"
	"unsafe"

	"github.com/tcptop/tcptop/internal/conn"
	"github.com/tcptop/tcptop/internal/escape"
)

// DefaultLabels are the row fields the flow series are labelled by when
// --group-by does not name others: bounded on any host (two protocols,
// its programs, the ports of the services it offers and talks to, two
// directions) and what a dashboard splits traffic by. service_port, not
// remote_port: an accepted connection's remote_port is the client's
// ephemeral port, one label set per connection on a busy server.
var DefaultLabels = []string{"proto", "comm", "service_port", "direction"}

// OtherValue is every label's value in the series that takes the rows of
// label sets past --max-series.
const OtherValue = "other"

// sep ends each label value in a series key. escape.Append never writes
// the byte 0xff (it writes \xff), and numbers and addresses are ASCII, so
// two label sets never share a key.
const sep = 0xff

// label is one field of conn.Row used as a label: its name and how its
// value is appended as text.
type label struct {
	name   string
	append func(b []byte, p unsafe.Pointer) []byte
}

// labelsOf checks names as --group-by keys and returns how to read each.
func labelsOf(names []string) ([]label, error) {
	if err := conn.CheckGroupKeys(names); err != nil {
		return nil, err
	}
	out := make([]label, len(names))
	for i, n := range names {
		f, _ := conn.FieldByName(n)
		app, err := appenderOf(f)
		if err != nil {
			return nil, err
		}
		out[i] = label{name: n, append: app}
	}
	return out, nil
}

// appenderOf is how a field's value becomes a label value: strings
// escaped as in every output format (so a label is valid UTF-8 and
// without control characters), numbers in decimal, addresses as
// netip.Addr writes them ("" for none), times as RFC 3339 in UTC.
func appenderOf(f conn.Field) (func([]byte, unsafe.Pointer) []byte, error) {
	off := f.Offset
	switch f.Type {
	case reflect.TypeFor[string]():
		return func(b []byte, p unsafe.Pointer) []byte { return escape.Append(b, *(*string)(unsafe.Add(p, off))) }, nil
	case reflect.TypeFor[int]():
		return func(b []byte, p unsafe.Pointer) []byte {
			return strconv.AppendInt(b, int64(*(*int)(unsafe.Add(p, off))), 10)
		}, nil
	case reflect.TypeFor[int64]():
		return func(b []byte, p unsafe.Pointer) []byte {
			return strconv.AppendInt(b, *(*int64)(unsafe.Add(p, off)), 10)
		}, nil
	case reflect.TypeFor[bool]():
		return func(b []byte, p unsafe.Pointer) []byte { return strconv.AppendBool(b, *(*bool)(unsafe.Add(p, off))) }, nil
	case reflect.TypeFor[netip.Addr]():
		return func(b []byte, p unsafe.Pointer) []byte {
			a := *(*netip.Addr)(unsafe.Add(p, off))
			if !a.IsValid() {
				return b
			}
			return a.Unmap().AppendTo(b)
		}, nil
	case reflect.TypeFor[time.Time]():
		return func(b []byte, p unsafe.Pointer) []byte {
			return (*(*time.Time)(unsafe.Add(p, off))).UTC().AppendFormat(b, time.RFC3339Nano)
		}, nil
	}
	return nil, fmt.Errorf("cannot label by %s: a %s", f.Name, f.Type)
}

// appendKey appends the series key of r: each label's value, each ended
// by sep.
func appendKey(b []byte, labels []label, r *conn.Row) []byte {
	p := unsafe.Pointer(r)
	for _, l := range labels {
		b = append(l.append(b, p), sep)
	}
	return b
}

// splitKey returns the label values of a key made by appendKey.
func splitKey(key string) []string {
	var out []string
	start := 0
	for i := 0; i < len(key); i++ {
		if key[i] == sep {
			out = append(out, key[start:i])
			start = i + 1
		}
	}
	return out
}
