package emit

import "io"

// chunkSize is the most a writer hands to the io.Writer at once (unless a
// single line is longer). 64 KiB is the default pipe buffer on Linux: a
// reader keeping up takes each chunk in one read.
const chunkSize = 64 << 10

// lines buffers whole lines for an io.Writer. A writer appends a line to
// buf, then calls done with the length buf had before the line: once the
// buffer would exceed chunkSize the lines before it are written, so every
// Write ends at the end of a line. The first write error sticks.
type lines struct {
	w   io.Writer
	buf []byte
	err error
}

func newLines(w io.Writer) lines {
	return lines{w: w, buf: make([]byte, 0, chunkSize+4096)}
}

// done accepts the line buf[start:], writing out what came before it if
// the buffer is over chunkSize.
func (l *lines) done(start int) error {
	if len(l.buf) <= chunkSize {
		return nil
	}
	if start == 0 { // one line longer than a chunk
		return l.flush()
	}
	l.write(l.buf[:start])
	n := copy(l.buf, l.buf[start:])
	l.buf = l.buf[:n]
	return l.err
}

// drop forgets a line that could not be finished.
func (l *lines) drop(start int) { l.buf = l.buf[:start] }

// flush writes every buffered line.
func (l *lines) flush() error {
	if len(l.buf) > 0 {
		l.write(l.buf)
		l.buf = l.buf[:0]
	}
	return l.err
}

func (l *lines) write(p []byte) {
	if l.err == nil {
		_, l.err = l.w.Write(p)
	}
}
