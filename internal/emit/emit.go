// Package emit writes the rows of each tick in one output format. There is
// one Writer interface and one file per format (ndjson.go, csv.go,
// text.go); New picks a writer by name. Every writer renders a whole tick
// into its own buffer and hands it to the io.Writer in a single Write, so a
// reader of a pipe never sees half a line and a tick costs one system call.
// Writers keep their own header state and are not safe for concurrent use.
package emit

import (
	"bytes"
	"fmt"
	"io"
	"strings"

	"github.com/tcptop/tcptop/internal/conn"
)

// Writer writes the rows of one tick. WriteTick writes whole lines only and
// flushes once per tick; it returns the underlying write error unwrapped
// (callers check errors.Is(err, syscall.EPIPE)). An empty tick writes
// nothing, except a header that is due (see New).
type Writer interface {
	WriteTick(rows []conn.Row) error
}

// Formats lists the names New accepts, for the --output flag's enum and
// help text. The first is the default.
func Formats() []string { return []string{"text", "ndjson", "csv"} }

// New returns the writer for format, writing to w:
//
//   - "ndjson": one JSON object per row per line; header is ignored.
//   - "csv": RFC 4180 with a header line, written by the first WriteTick
//     even when that tick is empty, if header is true.
//   - "text": aligned columns for people; if header is true, a line of
//     column names comes with the first non-empty tick and again whenever a
//     column has to widen.
func New(format string, w io.Writer, header bool) (Writer, error) {
	switch format {
	case "ndjson":
		return newNDJSON(w), nil
	case "csv":
		return newCSV(w, header), nil
	case "text":
		return newText(w, header), nil
	}
	return nil, fmt.Errorf("unknown output format %q (want one of %s)", format, strings.Join(Formats(), ", "))
}

// flush hands buf to w in one Write, if it holds anything, and empties it.
func flush(w io.Writer, buf *bytes.Buffer) error {
	if buf.Len() == 0 {
		return nil
	}
	_, err := w.Write(buf.Bytes())
	buf.Reset()
	return err
}
