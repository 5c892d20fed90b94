package emit

import (
	"strings"

	"github.com/tcptop/tcptop/internal/conn"
)

// textLayout is the default layout of the text format: the fields with a
// text tag (conn/columns.go), in its order, with its header and width; a
// human-readable subset of the schema (NDJSON and CSV carry every field).
func textLayout(timeFormat string) []textColumn {
	style := CellStyle{RateSuffix: "/s", TimeFormat: timeFormat}
	var out []textColumn
	for _, f := range conn.Layout(conn.Fields, conn.TextView) {
		out = append(out, textColumn{name: f.Text.Header, right: f.Right(), width: f.Text.Width,
			cell: Cell(f, f.Text, style)})
	}
	return out
}

// textColumnsOf lays out the text format for the fields --fields picks
// (or those of grouped rows): one column per field, named after it in
// capitals, numbers on the right, each cell as its field's tags say (the
// same as in the default layout: byte counts and rates in binary units,
// times in microseconds as 850us or 12.3ms, "-" for none), an empty
// string or address as "-". A column starts as wide as its name, a number
// at least 7 (a rate 10), an address 15, a time its format's width.
func textColumnsOf(cols []column, timeFormat string) []textColumn {
	style := CellStyle{RateSuffix: "/s", TimeFormat: timeFormat}
	out := make([]textColumn, len(cols))
	for i, c := range cols {
		name := strings.ToUpper(c.name)
		tc := textColumn{name: name, width: len(name), right: c.field.Right(), cell: Cell(c.field, nil, style)}
		switch c.kind {
		case kInt, kInt64:
			tc.width = max(tc.width, 7)
		case kFloat:
			tc.width = max(tc.width, 10)
		case kAddr:
			tc.width = max(tc.width, len("255.255.255.255"))
		case kTime:
			tc.width = max(tc.width, timeWidth(timeFormat))
		}
		out[i] = tc
	}
	return out
}
