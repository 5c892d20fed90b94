package emit

import (
	"bytes"
	"fmt"
	"io"

	"github.com/goccy/go-json"

	"github.com/tcptop/tcptop/internal/conn"
)

// ndjsonWriter writes one JSON object per row per line. The keys are Row's
// json tags, so every key is present in every object and in schema order;
// rates are JSON numbers with as many digits as they need (500, 1234.5).
type ndjsonWriter struct {
	w   io.Writer
	buf bytes.Buffer
	enc *json.Encoder // encodes into buf; appends the newline itself
}

func newNDJSON(w io.Writer) *ndjsonWriter {
	n := &ndjsonWriter{w: w}
	n.enc = json.NewEncoder(&n.buf)
	// Output goes to terminals and pipes, never into HTML: keep <>& readable.
	n.enc.SetEscapeHTML(false)
	return n
}

// WriteTick implements Writer.
func (n *ndjsonWriter) WriteTick(rows []conn.Row) error {
	for i := range rows {
		if err := n.enc.Encode(&rows[i]); err != nil {
			// Only a NaN or infinite rate can fail; drop the whole tick so
			// that no partial line is written.
			n.buf.Reset()
			return fmt.Errorf("encode row %d of tick: %w", i, err)
		}
	}
	return flush(n.w, &n.buf)
}
