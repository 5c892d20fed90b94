// Package emit writes rows in one output format, streaming. There is one
// Writer interface and one file per format (ndjson.go, csv.go, text.go);
// New picks a writer by name. A tick is Begin, one Row call per row, End.
// Writers append whole lines to their own buffer and hand it to the
// io.Writer in chunks of at most 64 KiB (256 KiB, without a copy, to a
// ChunkTaker; lines.go) and at End, so a reader of a pipe never sees half
// a line and memory does not grow with the number of rows. Values are typed in conn.Row; their text (addresses,
// times, numbers) is made here. Writers keep their own header state and are
// not safe for concurrent use.
package emit

import (
	"io"
	"time"

	"github.com/tcptop/tcptop/internal/conn"
)

// Tick is what a writer is told when a tick begins: the values every row
// of the tick shares.
type Tick struct {
	N    int64     // tick number, Row.Tick
	Time time.Time // when its counters were read, Row.Timestamp
}

// Writer writes the rows of a tick as they come. Begin starts a tick, Row
// writes one row (the writer does not keep r), End finishes the tick and
// flushes. Every method returns the underlying write error unwrapped
// (callers check errors.Is(err, syscall.EPIPE)); after a write error every
// call returns it again. A row that cannot be encoded (a NaN rate) is an
// error from Row that leaves no partial line; the writer stays usable. A
// tick without rows writes nothing, except a header that is due (see New).
type Writer interface {
	Begin(t Tick) error
	Row(r *conn.Row) error
	End() error
}

// Formats lists the names New accepts, for the --output flag's enum and
// help text. The first is the default.
func Formats() []string { return []string{"text", "ndjson", "csv"} }

// New returns the writer for format, writing to w:
//
//   - "ndjson": one JSON object per row per line; header is ignored.
//   - "csv": RFC 4180 with a header line, written by the first tick even
//     when that tick is empty, if header is true.
//   - "text": aligned columns for people, one blank-free field per column
//     (for awk); if header is true, a line of column names comes with the
//     first tick, even when it is empty, and again whenever a column has to
//     widen. Text keeps one tick's cells until End, because its first line
//     counts the rows and its widths fit them all.
//
// NewWith takes more options: the fields, the time format.
func New(format string, w io.Writer, header bool) (Writer, error) {
	return NewWith(format, w, Options{Header: header})
}
