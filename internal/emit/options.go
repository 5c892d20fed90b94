package emit

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"unsafe"

	"github.com/tcptop/tcptop/internal/conn"
)

// Time formats of timestamp and start (--time-format; docs/fields.md).
const (
	TimeRFC3339 = "rfc3339" // "2026-01-02T15:04:05.123456Z"
	TimeUnix    = "unix"    // 1767366245.123456
	TimeUnixMs  = "unix_ms" // 1767366245123
)

// TimeFormats lists the time formats, the default first.
func TimeFormats() []string { return []string{TimeRFC3339, TimeUnix, TimeUnixMs} }

// Options shape what a writer writes.
type Options struct {
	// Header: CSV writes a header line with its first tick; text writes
	// column names. NDJSON has none.
	Header bool
	// Fields are the fields each record has, in this order (--fields);
	// nil is every field in schema order, and text's own layout.
	Fields []string
	// Time is the format of timestamp and start: a TimeFormats() name,
	// "" for rfc3339.
	Time string
}

// GroupWriter writes the grouped rows of --group-by: Begin, one Group
// per group, End, as Writer does with rows.
type GroupWriter interface {
	Begin(t Tick) error
	Group(g *conn.GroupRow) error
	End() error
}

// StatsWriter is a writer that can carry a --stats record in its stream,
// between a tick's last row and its End: the NDJSON writers, of rows and
// of groups. CSV and text cannot (a record of another shape).
type StatsWriter interface {
	Stats(s *conn.Stats) error
}

// ErrUnknownField is wrapped by the error for a name --fields or
// --group-by does not know.
var ErrUnknownField = errors.New("unknown field")

// NewWith returns the writer of rows for format with options o; see New.
// An unknown format, field or time format is an error.
func NewWith(format string, w io.Writer, o Options) (Writer, error) {
	cols, err := pick(conn.Fields, o.Fields)
	if err != nil {
		return nil, err
	}
	rw, err := open(format, w, o, cols, o.Fields == nil)
	if err != nil {
		return nil, err
	}
	return rw.(Writer), nil
}

// NewGroups returns the writer of the grouped rows of keys (checked by
// conn.CheckGroupKeys) for format; o.Fields picks among
// conn.GroupFieldNames(keys).
func NewGroups(format string, w io.Writer, keys []string, o Options) (GroupWriter, error) {
	cols, err := pick(conn.GroupFields(keys), o.Fields)
	if err != nil {
		return nil, err
	}
	rw, err := open(format, w, o, cols, false)
	if err != nil {
		return nil, err
	}
	if t, ok := rw.(*textWriter); ok {
		t.noun = "group"
	}
	return groups{rw}, nil
}

// recordWriter is what each format's writer is: a tick of records laid
// out by its columns, each at an unsafe.Pointer (a conn.Row, or a
// conn.GroupRow for the columns of grouped rows).
type recordWriter interface {
	Begin(t Tick) error
	record(p unsafe.Pointer) error
	End() error
}

func open(format string, w io.Writer, o Options, cols []column, ownLayout bool) (recordWriter, error) {
	if o.Time != "" && !slices.Contains(TimeFormats(), o.Time) {
		return nil, fmt.Errorf("unknown time format %q (want one of %s)", o.Time, strings.Join(TimeFormats(), ", "))
	}
	switch format {
	case None:
		return noneWriter{}, nil
	case "ndjson":
		return newNDJSONWith(w, cols, o.Time), nil
	case "csv":
		return newCSVWith(w, o.Header, cols, o.Time), nil
	case "text":
		if ownLayout {
			return newTextWith(w, o.Header, textLayout(o.Time), true, o.Time), nil
		}
		return newTextWith(w, o.Header, textColumnsOf(cols, o.Time), false, o.Time), nil
	}
	return nil, fmt.Errorf("unknown output format %q (want one of %s)", format, strings.Join(Formats(), ", "))
}

// pick returns the columns of fields named by names, in that order; all
// of them for nil.
func pick(fields []conn.Field, names []string) ([]column, error) {
	all := columnsOf(fields)
	if names == nil {
		return all, nil
	}
	if len(names) == 0 {
		return nil, errors.New("no fields named")
	}
	out := make([]column, 0, len(names))
	for i, n := range names {
		j := slices.IndexFunc(all, func(c column) bool { return c.name == n })
		if j < 0 {
			valid := make([]string, len(all))
			for k, c := range all {
				valid[k] = c.name
			}
			return nil, fmt.Errorf("%w %q (valid: %s)", ErrUnknownField, n, strings.Join(valid, ", "))
		}
		if slices.Contains(names[:i], n) {
			return nil, fmt.Errorf("field %s named twice", n)
		}
		out = append(out, all[j])
	}
	return out, nil
}

// groups writes grouped rows with a format's writer.
type groups struct{ w recordWriter }

func (g groups) Begin(t Tick) error           { return g.w.Begin(t) }
func (g groups) Group(r *conn.GroupRow) error { return g.w.record(unsafe.Pointer(r)) }
func (g groups) End() error                   { return g.w.End() }
func (g groups) Stats(s *conn.Stats) error {
	if sw, ok := g.w.(StatsWriter); ok {
		return sw.Stats(s)
	}
	return errNoStats
}

var errNoStats = errors.New("stats records are written in NDJSON only")
