package emit

import (
	"strconv"
	"strings"
	"time"
	"unsafe"

	"github.com/tcptop/tcptop/internal/conn"
)

// textColumnsOf lays out the text format for the fields --fields picks
// (or those of grouped rows): one column per field, named after it in
// capitals, numbers on the right. Values are shown as in the default
// layout where it has them: byte counts and rates in binary units
// (bytes_*, *_bytes, rate_*, *_rate), round-trip times as 850us or 12.3ms
// (*_us), an empty string or address as "-"; other numbers in full.
// The cells read the record at the *conn.Row they are given by offsets,
// so the same code serves grouped rows (a conn.GroupRow starts with its
// Row).
func textColumnsOf(cols []column, timeFormat string) []textColumn {
	out := make([]textColumn, len(cols))
	for i := range cols {
		c := cols[i]
		name := strings.ToUpper(c.name)
		tc := textColumn{name: name, width: len(name)}
		switch c.kind {
		case kString:
			tc.cell = func(b []byte, r *conn.Row) []byte { return appendText(b, c.str(unsafe.Pointer(r))) }
		case kInt, kInt64:
			tc.right, tc.width = true, max(tc.width, 7)
			get := c.int64
			if c.kind == kInt {
				get = c.int
			}
			tc.cell = intCell(c.name, get)
		case kFloat:
			tc.right, tc.width = true, max(tc.width, 10)
			tc.cell = func(b []byte, r *conn.Row) []byte {
				f := c.float(unsafe.Pointer(r))
				if isRate(c.name) {
					return AppendSize(b, f, "/s")
				}
				return strconv.AppendFloat(b, f, 'f', -1, 64)
			}
		case kBool:
			tc.cell = func(b []byte, r *conn.Row) []byte { return strconv.AppendBool(b, c.bool(unsafe.Pointer(r))) }
		case kAddr:
			tc.width = max(tc.width, len("255.255.255.255"))
			tc.cell = func(b []byte, r *conn.Row) []byte {
				a := c.addr(unsafe.Pointer(r))
				if !a.IsValid() {
					return append(b, '-')
				}
				return appendAddr(b, a)
			}
		case kTime:
			st := &stamp{format: timeFormat}
			tc.width = max(tc.width, len(appendTime(nil, time.Unix(0, 0), timeFormat)))
			tc.cell = func(b []byte, r *conn.Row) []byte { return st.append(b, c.time(unsafe.Pointer(r))) }
		}
		out[i] = tc
	}
	return out
}

func intCell(name string, get func(unsafe.Pointer) int64) func([]byte, *conn.Row) []byte {
	switch {
	case strings.HasPrefix(name, "bytes_") || strings.HasSuffix(name, "_bytes"):
		return func(b []byte, r *conn.Row) []byte { return AppendSize(b, float64(get(unsafe.Pointer(r))), "") }
	case isRate(name):
		return func(b []byte, r *conn.Row) []byte { return AppendSize(b, float64(get(unsafe.Pointer(r))), "/s") }
	case strings.HasSuffix(name, "_us"):
		return func(b []byte, r *conn.Row) []byte { return AppendRTT(b, get(unsafe.Pointer(r))) }
	}
	return func(b []byte, r *conn.Row) []byte { return strconv.AppendInt(b, get(unsafe.Pointer(r)), 10) }
}

func isRate(name string) bool {
	return strings.HasPrefix(name, "rate_") || strings.HasSuffix(name, "_rate")
}
