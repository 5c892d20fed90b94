package emit

import (
	"strconv"
	"time"
	"unsafe"

	"github.com/tcptop/tcptop/internal/conn"
)

// CellStyle is what a layout for people decides for all of its cells;
// the rest (unit, the value shown as "-", endpoints) is the field's own,
// declared with it in conn.Row (conn/columns.go).
type CellStyle struct {
	// Text appends a string field; nil is appendText: escaped, blanks
	// too, "-" if empty (one field for awk).
	Text func(b []byte, s string) []byte
	// RateSuffix follows a rate: "/s" in the text format; "" on the
	// screen, whose headers say it.
	RateSuffix string
	// TimeFormat is the format of a time field: a TimeFormats() name.
	TimeFormat string
}

// Cell returns the writer of field f's cell for a person, as column v of
// a layout (nil: a column of --fields, which has no view). It reads the
// record it is given by offsets, so it serves a conn.GroupRow, which
// starts with its Row, as well.
func Cell(f conn.Field, v *conn.View, s CellStyle) func(b []byte, r *conn.Row) []byte {
	if s.Text == nil {
		s.Text = appendText
	}
	c := columnsOf([]conn.Field{f})[0]
	var cell func(b []byte, r *conn.Row) []byte
	switch c.kind {
	case kString:
		prefix := 0
		if v != nil {
			prefix = v.Prefix
		}
		cell = func(b []byte, r *conn.Row) []byte {
			str := c.str(unsafe.Pointer(r))
			if prefix > 0 && len(str) > prefix {
				str = str[:prefix]
			}
			return s.Text(b, str)
		}
	case kInt, kInt64:
		cell = intCell(&c, f, s.RateSuffix)
	case kFloat:
		cell = floatCell(&c, f.Unit, s.RateSuffix)
	case kBool:
		cell = func(b []byte, r *conn.Row) []byte { return strconv.AppendBool(b, c.bool(unsafe.Pointer(r))) }
	case kAddr:
		cell = addrCell(&c, v)
	case kTime:
		st := &stamp{format: s.TimeFormat}
		cell = func(b []byte, r *conn.Row) []byte { return st.append(b, c.time(unsafe.Pointer(r))) }
	}
	switch f.None {
	case conn.NoneUDP:
		return func(b []byte, r *conn.Row) []byte {
			if r.Proto == "udp" {
				return append(b, '-')
			}
			return cell(b, r)
		}
	case conn.NoneListener:
		return func(b []byte, r *conn.Row) []byte {
			if r.State != conn.StateListen {
				return append(b, '-')
			}
			return cell(b, r)
		}
	}
	return cell
}

// intCell writes an integer in its unit; its none value as "-".
func intCell(c *column, f conn.Field, rateSuffix string) func(b []byte, r *conn.Row) []byte {
	get := c.int64
	if c.kind == kInt {
		get = c.int
	}
	none, hasNone := int64(0), false
	if n, err := strconv.ParseInt(f.None, 10, 64); err == nil {
		none, hasNone = n, true
	}
	var write func(b []byte, v int64) []byte
	switch f.Unit {
	case conn.UnitBytes:
		write = func(b []byte, v int64) []byte { return AppendSize(b, float64(v), "") }
	case conn.UnitRate:
		write = func(b []byte, v int64) []byte { return AppendSize(b, float64(v), rateSuffix) }
	case conn.UnitMicros:
		write = AppendRTT
	case conn.UnitMillis:
		write = AppendMillis
	default:
		write = func(b []byte, v int64) []byte { return strconv.AppendInt(b, v, 10) }
	}
	return func(b []byte, r *conn.Row) []byte {
		v := get(unsafe.Pointer(r))
		if hasNone && v == none {
			return append(b, '-')
		}
		return write(b, v)
	}
}

// floatCell writes a float in its unit: a rate in binary units, anything
// else in the shortest form that reads back exactly.
func floatCell(c *column, unit conn.Unit, rateSuffix string) func(b []byte, r *conn.Row) []byte {
	switch unit {
	case conn.UnitRate:
		return func(b []byte, r *conn.Row) []byte { return AppendSize(b, c.float(unsafe.Pointer(r)), rateSuffix) }
	case conn.UnitBytes:
		return func(b []byte, r *conn.Row) []byte { return AppendSize(b, c.float(unsafe.Pointer(r)), "") }
	}
	return func(b []byte, r *conn.Row) []byte {
		return strconv.AppendFloat(b, c.float(unsafe.Pointer(r)), 'f', -1, 64)
	}
}

// addrCell writes an address, "-" if unset, or with the view's port field
// the endpoint host:port.
func addrCell(c *column, v *conn.View) func(b []byte, r *conn.Row) []byte {
	if v != nil && v.Port != "" {
		pf, _ := conn.FieldByName(v.Port)
		port := columnsOf([]conn.Field{pf})[0]
		get := port.int
		if port.kind == kInt64 {
			get = port.int64
		}
		return func(b []byte, r *conn.Row) []byte {
			return AppendHostPort(b, c.addr(unsafe.Pointer(r)), int(get(unsafe.Pointer(r))))
		}
	}
	return func(b []byte, r *conn.Row) []byte {
		a := c.addr(unsafe.Pointer(r))
		if !a.IsValid() {
			return append(b, '-')
		}
		return appendAddr(b, a)
	}
}

// timeWidth is the width of a time in format.
func timeWidth(format string) int { return len(appendTime(nil, time.Unix(0, 0), format)) }
