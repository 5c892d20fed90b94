package screen

import (
	"io"
	"os"
	"strconv"
	"sync"
	"unicode/utf8"

	"golang.org/x/term"
)

// Escape sequences (ECMA-48 and xterm's, which every terminal in use
// understands).
const (
	enterAltScreen = "\x1b[?1049h" // a screen of its own, and the shell's back on leaving
	leaveAltScreen = "\x1b[?1049l"
	hideCursor     = "\x1b[?25l"
	showCursor     = "\x1b[?25h"
	eraseLineRight = "\x1b[K"
	eraseBelow     = "\x1b[J"
	sgrReset       = "\x1b[0m"
)

var sgr = map[Style]string{Bold: "\x1b[1m", Dim: "\x1b[2m"}

// Terminal is the terminal the screen draws on: the output, and the
// input keys come from (in raw mode) when it is a terminal.
type Terminal struct {
	out   io.Writer
	outFd int // -1 if out is not a terminal
	in    *os.File
	state *term.State // the input's modes before raw mode; nil if unchanged
	color bool

	mu     sync.Mutex
	closed bool
	buf    []byte
	last   []Line // the last frame drawn
}

// OpenTerminal takes the terminal over: the input (if a terminal) in raw
// mode, so keys arrive one by one and are not echoed, the alternate
// screen, the cursor hidden. Restore gives everything back. With color,
// lines are drawn in their styles (bold header, dim closed rows) if out
// is a terminal.
func OpenTerminal(in *os.File, out io.Writer, color bool) (*Terminal, error) {
	t := &Terminal{out: out, outFd: -1}
	if IsTerminal(out) {
		t.outFd, t.color = int(out.(*os.File).Fd()), color
	}
	if in != nil && term.IsTerminal(int(in.Fd())) {
		st, err := term.MakeRaw(int(in.Fd()))
		if err != nil {
			return nil, err
		}
		t.in, t.state = in, st
	}
	if _, err := io.WriteString(out, enterAltScreen+hideCursor); err != nil {
		t.Restore()
		return nil, err
	}
	return t, nil
}

// IsTerminal reports whether w is a terminal.
func IsTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// Keys reports whether the terminal gives keys.
func (t *Terminal) Keys() bool { return t.in != nil }

// Size is the terminal's width and height: of the output, else of the
// input, else $COLUMNS and $LINES, else 80×24.
func (t *Terminal) Size() (width, height int) {
	for _, fd := range []int{t.outFd, inFd(t.in)} {
		if fd >= 0 {
			if w, h, err := term.GetSize(fd); err == nil && w > 0 && h > 0 {
				return w, h
			}
		}
	}
	width, height = envSize("COLUMNS", 80), envSize("LINES", 24)
	return width, height
}

func inFd(f *os.File) int {
	if f == nil {
		return -1
	}
	return int(f.Fd())
}

func envSize(name string, def int) int {
	if n, err := strconv.Atoi(os.Getenv(name)); err == nil && n > 0 {
		return n
	}
	return def
}

// Draw replaces the screen with lines, in one write so that no
// half-drawn frame shows: each line is written at its place and erased to
// its right only when shorter than the screen (erasing after the last
// column would erase that column on xterm-like terminals), then what is
// below the last line is erased, if the lines do not fill the height: on
// the last row the cursor cannot go below, and "erase below" from there
// would erase that row.
func (t *Terminal) Draw(lines []Line, width, height int) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return nil
	}
	b := t.buf[:0]
	for i, l := range lines {
		b = append(b, "\x1b["...)
		b = strconv.AppendInt(b, int64(i+1), 10)
		b = append(b, ";1H"...)
		b = t.appendStyled(b, l)
		if utf8.RuneCountInString(l.Text) < width {
			b = append(b, eraseLineRight...)
		}
	}
	if len(lines) < height {
		b = append(b, "\x1b["...)
		b = strconv.AppendInt(b, int64(len(lines)+1), 10)
		b = append(b, ";1H"+eraseBelow...)
	}
	t.buf, t.last = b, lines
	_, err := t.out.Write(b)
	return err
}

// appendStyled appends the line's text, in its style where colours are
// on.
func (t *Terminal) appendStyled(b []byte, l Line) []byte {
	if !t.color || sgr[l.Style] == "" {
		return append(b, l.Text...)
	}
	b = append(b, sgr[l.Style]...)
	b = append(b, l.Text...)
	return append(b, sgrReset...)
}

// PrintLast writes the last frame drawn as plain lines, after Restore: on
// the shell's screen, what the screen showed last stays in view.
func (t *Terminal) PrintLast() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	var b []byte
	for _, l := range t.last {
		b = append(t.appendStyled(b, l), '\n')
	}
	_, err := t.out.Write(b)
	return err
}

// ReadKeys hands each byte typed to fn until the input ends or the
// terminal is restored. It blocks: run it in a goroutine of its own.
func (t *Terminal) ReadKeys(fn func(k byte)) {
	if t.in == nil {
		return
	}
	var buf [64]byte
	for {
		n, err := t.in.Read(buf[:])
		t.mu.Lock()
		closed := t.closed
		t.mu.Unlock()
		if closed {
			return
		}
		for _, k := range buf[:n] {
			fn(k)
		}
		if err != nil {
			return
		}
	}
}

// Restore gives the terminal back as it was: the cursor shown, the
// shell's screen, the input's modes. It may be called more than once,
// from any goroutine.
func (t *Terminal) Restore() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return
	}
	t.closed = true
	_, _ = io.WriteString(t.out, sgrReset+showCursor+leaveAltScreen)
	if t.state != nil {
		_ = term.Restore(int(t.in.Fd()), t.state)
	}
}
