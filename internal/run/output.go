package run

import (
	"bytes"
	"io"
	"os"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// output decouples the tick loop from the reader of stdout. The writers
// of internal/emit hand it whole lines; a goroutine of its own writes them
// to stdout, so a reader that stalls holds up that goroutine, never the
// ticks or the signals. The tick loop asks behind() before a tick: while
// lines of an earlier tick are still waiting, the tick is skipped, and the
// next tick written covers the time since the last one (the kernel keeps
// counting meanwhile), so memory stays bounded by maxQueued.
type output struct {
	dst      io.Writer
	fd       int  // -1 when dst is not a file
	pipe     bool // dst is a pipe: writes of at most pipeBuf bytes are atomic
	noReader bool // dst is a regular file or /dev/null: no reader to fall behind
	chunks   chan []byte
	free     chan []byte // written chunks, for reuse: a tick allocates nothing
	directMu sync.Mutex  // orders the writes of direct
	mu       sync.Mutex
	queued   int   // bytes handed over and not yet written
	err      error // the first write error, for good
	drained  chan struct{}
}

// maxQueued bounds the memory a stalled reader can pin: a tick that has
// more to write than this waits for the reader (the tick loop only; the
// signals are handled elsewhere).
const maxQueued = 1 << 20

// pipeBuf is PIPE_BUF on Linux: a write of at most this many bytes to a
// pipe is atomic, so tcptop killed while its reader stalls leaves no half
// line behind.
const pipeBuf = 4096

func newOutput(w io.Writer) *output {
	o := &output{dst: w, fd: -1, chunks: make(chan []byte, 64), free: make(chan []byte, 64), drained: make(chan struct{}, 1)}
	if f, ok := w.(*os.File); ok {
		o.fd = int(f.Fd())
		var st unix.Stat_t
		if unix.Fstat(o.fd, &st) == nil {
			o.pipe = st.Mode&unix.S_IFMT == unix.S_IFIFO
			o.noReader = st.Mode&unix.S_IFMT == unix.S_IFREG || isDevNull(&st)
		}
	}
	go o.drain()
	return o
}

// Write takes whole lines. It returns at once unless maxQueued bytes wait
// already; after a write error, it returns that error.
func (o *output) Write(p []byte) (int, error) {
	if o.noReader {
		return len(p), o.direct(p)
	}
	var c []byte
	select {
	case c = <-o.free:
	default:
	}
	if err := o.hand(append(c[:0], p...)); err != nil {
		return 0, err
	}
	return len(p), nil
}

// TakeChunk implements emit.ChunkTaker: as Write, without the copy.
func (o *output) TakeChunk(p []byte) ([]byte, error) {
	if o.noReader {
		return p[:0], o.direct(p) // written already: p is free again
	}
	var next []byte
	select {
	case next = <-o.free: // taken before p is handed over: never p
	default:
		next = make([]byte, 0, cap(p))
	}
	return next[:0], o.hand(p)
}

// direct writes c, whole lines, at once, for a file or /dev/null: no
// reader can stall there (a tick waits for the writes of the one before
// anyway, see behind), so the hand-over to the writing goroutine bought
// nothing and cost 7% of a tick's CPU at 50,000 connections, as each
// chunk woke that goroutine's thread (runtime.wakep, perf, 2026-12-07).
// The first error is kept, as drain keeps it.
func (o *output) direct(c []byte) error {
	o.directMu.Lock()
	defer o.directMu.Unlock()
	if err := o.failed(); err != nil {
		return err
	}
	err := o.writeLines(c)
	if err != nil {
		o.mu.Lock()
		if o.err == nil {
			o.err = err
		}
		o.mu.Unlock()
	}
	return o.failed()
}

// hand passes c, whole lines, to the writing goroutine.
func (o *output) hand(c []byte) error {
	o.mu.Lock()
	err := o.err
	if err == nil {
		o.queued += len(c)
	}
	o.mu.Unlock()
	if err != nil {
		return err
	}
	o.chunks <- c
	for o.queuedBytes() > maxQueued && o.failed() == nil {
		<-o.drained
	}
	return o.failed()
}

// behind reports whether lines of an earlier tick are still waiting for
// the reader of stdout. A regular file or /dev/null has no reader that
// can fall behind: the earlier tick's writes are waited for instead, and
// a tick is never skipped for them (-i 10ms > file could write slower
// than it ticks, and was reported as a slow reader hundreds of times a
// second).
func (o *output) behind() bool {
	if o.noReader {
		_ = o.wait() // a write error comes back from the next Write
		return false
	}
	return o.queuedBytes() > 0
}

// isDevNull reports whether st is the character device /dev/null (1,3).
func isDevNull(st *unix.Stat_t) bool {
	return st.Mode&unix.S_IFMT == unix.S_IFCHR && unix.Major(st.Rdev) == 1 && unix.Minor(st.Rdev) == 3
}

// wait blocks until everything handed over was written (or failed).
func (o *output) wait() error {
	for o.queuedBytes() > 0 && o.failed() == nil {
		<-o.drained
	}
	return o.failed()
}

// waitAtMost is wait with a limit, for an exit on a signal: a reader that
// keeps up gets the lines already handed over, up to d; one that takes
// nothing for stallAfter is taken for stalled and does not hold the exit.
func (o *output) waitAtMost(d time.Duration) {
	const stallAfter = 50 * time.Millisecond
	limit := time.After(d)
	for o.queuedBytes() > 0 && o.failed() == nil {
		select {
		case <-o.drained:
		case <-time.After(stallAfter):
			return
		case <-limit:
			return
		}
	}
}

func (o *output) queuedBytes() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.queued
}

func (o *output) failed() error {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.err
}

// readerGone reports whether stdout is a pipe or socket whose reader went
// away, which is otherwise noticed only at the next write (and a tick may
// have nothing to write for a long time).
func (o *output) readerGone() bool {
	if o.fd < 0 {
		return false
	}
	fds := []unix.PollFd{{Fd: int32(o.fd), Events: unix.POLLOUT}}
	n, err := unix.Poll(fds, 0)
	return err == nil && n > 0 && fds[0].Revents&(unix.POLLERR|unix.POLLHUP) != 0
}

// drain writes the chunks in order, each in pieces that end at the end of
// a line and, on a pipe, fit in one atomic write.
func (o *output) drain() {
	for c := range o.chunks {
		err := o.writeLines(c)
		o.mu.Lock()
		o.queued -= len(c)
		if o.err == nil {
			o.err = err
		}
		o.mu.Unlock()
		select {
		case o.drained <- struct{}{}:
		default:
		}
		select {
		case o.free <- c:
		default:
		}
	}
}

func (o *output) writeLines(c []byte) error {
	for len(c) > 0 {
		n := len(c)
		if o.pipe && n > pipeBuf {
			n = bytes.LastIndexByte(c[:pipeBuf], '\n') + 1
			if n == 0 { // a line longer than an atomic write
				n = bytes.IndexByte(c, '\n') + 1
				if n == 0 {
					n = len(c)
				}
			}
		}
		if _, err := o.dst.Write(c[:n]); err != nil {
			return err
		}
		c = c[n:]
	}
	return nil
}

// joinedNoteEvery is how often, at most, stderr says that ticks were
// joined for a reader of stdout that fell behind: a reader always a
// little behind would otherwise get a line every few ticks. --stats
// counts them every tick (ticks_joined).
const joinedNoteEvery = time.Minute

// joinedNote decides when to say that ticks were joined: the first time
// at once, then at most once per every, with the ticks joined since.
type joinedNote struct {
	every   time.Duration
	last    time.Time // when it was last said; zero before
	pending int64     // ticks joined and not said yet
}

// add counts n ticks joined at now, and returns how many to say now (0:
// nothing yet).
func (j *joinedNote) add(n int64, now time.Time) int64 {
	j.pending += n
	if j.pending == 0 || (!j.last.IsZero() && now.Sub(j.last) < j.every) {
		return 0
	}
	j.last = now
	n, j.pending = j.pending, 0
	return n
}
