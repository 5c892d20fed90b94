package conn

import (
	"fmt"
	"slices"
	"strings"
)

// The sections of docs/fields.md after the table of flow fields.

func writeStrings(b *strings.Builder) {
	b.WriteString("\n## Strings\n\n")
	b.WriteString("A string field holds what the kernel or the host had: `comm` is any bytes a process chose,\n")
	b.WriteString("`cgroup` any directory name. Every format writes it escaped the same way (internal/escape,\n")
	b.WriteString("docs/security.md): a backslash, a byte that is not valid UTF-8, and each byte of a control\n")
	b.WriteString("character (C0, DEL, C1), a format character (bidirectional overrides, zero-width\n")
	b.WriteString("characters) or a line or paragraph separator is written `\\xNN`, two lowercase hex digits:\n")
	b.WriteString("ESC is `\\x1b`, a backslash `\\x5c`. The text is valid UTF-8 without control characters,\n")
	b.WriteString("and a backslash in it always starts an escape, so replacing each `\\xNN` by its byte gives\n")
	b.WriteString("back the original. NDJSON then quotes the escaped text as JSON (its backslash is `\\\\`),\n")
	b.WriteString("CSV quotes a cell that holds a comma or a quote or starts with a blank, and text also writes\n")
	b.WriteString("each byte of a blank `\\xNN` (`my\\x20app`) and an empty string as `-`.\n\n")
	b.WriteString("`--where`, `--sort` and `--group-by` see the string as it is, unescaped: a process named\n")
	b.WriteString("`a\\b` (shown `a\\x5cb`) matches `comm == \"a\\\\b\"`, one named with an ESC matches\n")
	b.WriteString("`comm startsWith \"\\x1b\"`.\n")
}

func writeTimeFormats(b *strings.Builder) {
	b.WriteString("\n## Times (`--time-format`)\n\n")
	b.WriteString("`timestamp` and `start` are written in one of three forms, the same in NDJSON, CSV and\n")
	b.WriteString("text (and in the text format's tick line); `--where` sees them as times whatever the form.\n\n")
	b.WriteString("| `--time-format` | written as | NDJSON type | example |\n|---|---|---|---|\n")
	b.WriteString("| `rfc3339` (default) | UTC, RFC 3339 with a fixed six-digit fraction | string | `\"2026-01-02T15:04:05.123456Z\"` |\n")
	b.WriteString("| `unix` | seconds since 1970, with a fixed six-digit fraction (microseconds) | number | `1767366245.123456` |\n")
	b.WriteString("| `unix_ms` | whole milliseconds since 1970 (the fraction truncated) | integer | `1767366245123` |\n")
}

func writeGroupFields(b *strings.Builder) {
	b.WriteString("\n## Grouped rows (`--group-by`)\n\n")
	b.WriteString("With `--group-by KEYS` (schema fields, comma-separated: `comm`, `remote_addr,remote_port`,\n")
	b.WriteString("`container_id`), each tick writes one row per distinct value of the keys instead of one per\n")
	b.WriteString("flow. `--where` picks the flows first; the groups are made of the rows that pass (with\n")
	b.WriteString("`--changed`, of the changed rows only). A grouped row has these fields, in this order, and\n")
	b.WriteString("`--fields` picks among them. Rows are ordered by `rate_in + rate_out` descending, then by\n")
	b.WriteString("the keys in the order given (numbers and addresses numerically, text bytewise, false\n")
	b.WriteString("before true). The keys cannot be `timestamp`, `tick` or a summed field.\n\n")
	b.WriteString("| name | type | meaning |\n|---|---|---|\n")
	row := func(name string, kind Kind, doc string) {
		fmt.Fprintf(b, "| `%s` | %s | %s |\n", name, kind, strings.ReplaceAll(doc, "|", `\|`))
	}
	for _, n := range groupHead {
		f, _ := FieldByName(n)
		row(n, f.Kind, "As in the flow rows of the tick.")
	}
	b.WriteString("| *KEYS* | | Each field of `--group-by`, in the order given, with the group's value. |\n")
	row(groupOwn[0].Name, groupOwn[0].Kind, groupOwn[0].Doc)
	for _, n := range GroupSums {
		f, _ := FieldByName(n)
		row(n, f.Kind, "Sum of `"+n+"` over the group's flows.")
	}
	for _, f := range groupOwn[1:] {
		row(f.Name, f.Kind, f.Doc)
	}
}

func writeStatsFields(b *strings.Builder) {
	b.WriteString("\n## Stats records (`--stats`)\n\n")
	b.WriteString("With `--stats`, every tick ends with one more record that says how tcptop itself is doing,\n")
	b.WriteString("even when the tick has no rows, so an idle host still shows that tcptop is alive. In\n")
	b.WriteString("NDJSON it is a line of its own on stdout, told apart by its `type` key (flow and grouped\n")
	b.WriteString("rows have none); CSV and text cannot mix records of two shapes, so there it goes to stderr\n")
	b.WriteString("as a log line (`tcptop: stats tick=3 rows=12 ...`, or a JSON object with these keys and\n")
	b.WriteString("`msg` with `--log-format=json`). `--fields` does not apply to it. The live screen writes none\n")
	b.WriteString("(its status line shows the drops).\n\n")
	b.WriteString("| name | type | meaning |\n|---|---|---|\n")
	for _, f := range StatsFields {
		fmt.Fprintf(b, "| `%s` | %s | %s |\n", f.Name, f.Kind, strings.ReplaceAll(f.Doc, "|", `\|`))
	}
}

func writeColumns(b *strings.Builder) {
	b.WriteString("\n## Columns for people (`-o text`, the live screen)\n\n")
	b.WriteString("How a field reads for a person is declared with it in `internal/conn/row.go` (its `unit`,\n")
	b.WriteString("`none`, `text` and `screen` tags), and every layout for people follows it. The text\n")
	b.WriteString("format's default layout has the fields with a text column, in that column's order; the live\n")
	b.WriteString("screen those with a screen column (\\* hidden until chosen with `f`). With `--fields`, text\n")
	b.WriteString("has one column per field, named after it in capitals, its cells as below. NDJSON and CSV\n")
	b.WriteString("carry the numbers as they are.\n\n")
	b.WriteString("| name | text | screen | shown as |\n|---|---|---|---|\n")
	for _, f := range Fields {
		shown := f.shownAs()
		if f.Text == nil && f.Screen == nil && shown == "" {
			continue
		}
		fmt.Fprintf(b, "| `%s` | %s | %s | %s |\n", f.Name, viewCell(f.Text), viewCell(f.Screen), shown)
	}
}

// viewCell is a column's header for the table of columns, "" if none.
func viewCell(v *View) string {
	switch {
	case v == nil:
		return ""
	case v.Hidden:
		return "`" + v.Header + "`\\*"
	}
	return "`" + v.Header + "`"
}

// shownAs says in words how the field's cells read.
func (f Field) shownAs() string {
	var parts []string
	switch f.Unit {
	case UnitBytes:
		parts = append(parts, "binary units (`512B`, `1.2KiB`, `340KiB`)")
	case UnitRate:
		parts = append(parts, "binary units per second (`3.9KiB/s`; on the screen the header says /s)")
	case UnitMicros:
		parts = append(parts, "a time (`850us`, `12.3ms`, `1.20s`), `-` for 0")
	case UnitMillis:
		parts = append(parts, "a time (`0ms`, `850ms`, `12.3s`, `4m05s`, `3h07m`)")
	}
	switch f.None {
	case "":
	case NoneUDP:
		parts = append(parts, "`-` on a UDP row")
	case NoneListener:
		parts = append(parts, "`-` on a row that is not a listener's")
	default:
		parts = append(parts, "`-` for "+f.None)
	}
	for _, v := range []*View{f.Text, f.Screen} {
		if v != nil && v.Port != "" {
			parts = append(parts, "in its column, the endpoint "+f.Name+":"+v.Port+" (an IPv6 host in brackets)")
			break
		}
	}
	if f.Screen != nil && f.Screen.Prefix > 0 {
		parts = append(parts, fmt.Sprintf("on the screen, its first %d characters", f.Screen.Prefix))
	}
	return strings.Join(parts, "; ")
}

// GroupFieldNames lists the names a grouped row of keys has, for --fields
// and its error message.
func GroupFieldNames(keys []string) []string {
	fs := GroupFields(keys)
	out := make([]string, len(fs))
	for i, f := range fs {
		out[i] = f.Name
	}
	return slices.Clip(out)
}
