package emit

import "io"

// chunkSize is the most a writer hands to the io.Writer at once (unless a
// single line is longer). 64 KiB is the default pipe buffer on Linux: a
// reader keeping up takes each chunk in one read.
const chunkSize = 64 << 10

// takenChunkSize is the chunk handed to a ChunkTaker, which writes in
// pieces of its own: a quarter as many hand-overs, each of which wakes its
// goroutine, as 64 KiB chunks.
const takenChunkSize = 256 << 10

// A ChunkTaker takes buffers of whole lines over instead of having them
// copied: the stdout of internal/run, whose own goroutine writes them.
type ChunkTaker interface {
	// TakeChunk owns p from now on. It returns an empty buffer for the
	// lines after it (p itself only if p was written before it returned),
	// and the first error writing any chunk.
	TakeChunk(p []byte) ([]byte, error)
}

// lines buffers whole lines for an io.Writer. A writer appends a line to
// buf, then calls done with the length buf had before the line: once the
// buffer would exceed its chunk size the lines before it are written, so
// every Write ends at the end of a line. The first write error sticks.
type lines struct {
	w     io.Writer
	taker ChunkTaker // w, if it takes chunks over
	size  int
	buf   []byte
	err   error
}

func newLines(w io.Writer) lines {
	l := lines{w: w, size: chunkSize}
	if t, ok := w.(ChunkTaker); ok {
		l.taker, l.size = t, takenChunkSize
	}
	l.buf = make([]byte, 0, l.size+4096)
	return l
}

// done accepts the line buf[start:], writing out what came before it if
// the buffer is over the chunk size.
func (l *lines) done(start int) error {
	if len(l.buf) <= l.size {
		return nil
	}
	if start == 0 { // one line longer than a chunk
		return l.flush()
	}
	l.write(start)
	return l.err
}

// drop forgets a line that could not be finished.
func (l *lines) drop(start int) { l.buf = l.buf[:start] }

// flush writes every buffered line.
func (l *lines) flush() error {
	if len(l.buf) > 0 {
		l.write(len(l.buf))
	}
	return l.err
}

// write writes buf[:n] and keeps the rest, the start of a line, as the
// start of the buffer.
func (l *lines) write(n int) {
	if l.err == nil && l.taker != nil {
		next, err := l.taker.TakeChunk(l.buf[:n]) // its capacity too, for reuse
		l.buf, l.err = append(next, l.buf[n:]...), err
		return
	}
	if l.err == nil {
		_, l.err = l.w.Write(l.buf[:n])
	}
	l.buf = l.buf[:copy(l.buf, l.buf[n:])]
}
