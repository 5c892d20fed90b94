package screen

import (
	"bytes"
	"strings"
	"testing"
)

// writes records each Write separately.
type writes struct{ w [][]byte }

func (c *writes) Write(p []byte) (int, error) {
	c.w = append(c.w, bytes.Clone(p))
	return len(p), nil
}

func TestTerminalFramesAndRestore(t *testing.T) {
	var out writes
	term, err := OpenTerminal(nil, &out, true)
	if err != nil {
		t.Fatal(err)
	}
	if len(out.w) != 1 || string(out.w[0]) != enterAltScreen+hideCursor {
		t.Fatalf("open wrote %q", out.w)
	}
	if term.Keys() {
		t.Error("keys without a terminal for input")
	}
	if w, h := term.Size(); w != 80 || h != 24 {
		t.Errorf("size without a terminal: %dx%d, want 80x24", w, h)
	}
	lines := []Line{{Text: "summary"}, {Text: "HEADER", Style: Bold}, {Text: "closed row", Style: Dim}, {Text: strings.Repeat("x", 10)}}
	if err := term.Draw(lines, 10, 24); err != nil {
		t.Fatal(err)
	}
	frame := string(out.w[1])
	if len(out.w) != 2 {
		t.Fatalf("a frame took %d writes, want one", len(out.w)-1)
	}
	// Each line at its place, erased to the right unless it fills the
	// width; no styles when the output is not a terminal; the rest of the
	// screen erased.
	want := "\x1b[1;1Hsummary\x1b[K\x1b[2;1HHEADER\x1b[K\x1b[3;1Hclosed row\x1b[4;1Hxxxxxxxxxx\x1b[5;1H\x1b[J"
	if frame != want {
		t.Errorf("frame\n got %q\nwant %q", frame, want)
	}
	// A frame that fills the height: nothing below to erase, and the
	// cursor, which cannot go below the last row, does not try.
	if err := term.Draw(lines, 10, 4); err != nil {
		t.Fatal(err)
	}
	if got := string(out.w[2]); got != strings.TrimSuffix(want, "\x1b[5;1H\x1b[J") {
		t.Errorf("full frame\n got %q\nwant no erase below", got)
	}
	term.Restore()
	term.Restore()
	if len(out.w) != 4 || string(out.w[3]) != sgrReset+showCursor+leaveAltScreen {
		t.Errorf("restore wrote %q (once, whatever the calls)", out.w[3:])
	}
	if err := term.Draw(lines, 10, 24); err != nil || len(out.w) != 4 {
		t.Errorf("a draw after restore wrote to the shell's screen")
	}
}

// TestPanicRestoresTerminal: a panic in one of the screen's goroutines
// gives the terminal back before it goes on.
func TestPanicRestoresTerminal(t *testing.T) {
	var out writes
	term, _ := OpenTerminal(nil, &out, false)
	s := &Screen{term: term}
	defer func() {
		if r := recover(); r != "boom" {
			t.Errorf("recovered %v, want the panic to go on", r)
		}
		if last := string(out.w[len(out.w)-1]); last != sgrReset+showCursor+leaveAltScreen {
			t.Errorf("terminal not restored before the panic went on: last write %q", last)
		}
	}()
	func() {
		defer s.restoreOnPanic()
		panic("boom")
	}()
}

func TestScreenDrawsTicksAndStatus(t *testing.T) {
	var out writes
	term, _ := OpenTerminal(nil, &out, false)
	s := Start(NewModel(Config{}), term, func() { t.Error("quit without a key") })
	if !strings.Contains(string(out.w[len(out.w)-1]), "waiting for the first tick") {
		t.Errorf("first frame: %q", out.w[len(out.w)-1])
	}
	s.Tick(t0, busyTick(1))
	if !strings.Contains(string(out.w[len(out.w)-1]), "Web Content") {
		t.Errorf("tick frame: %q", out.w[len(out.w)-1])
	}
	s.SetDrops("kernel drops: 3 conns untracked")
	s.SetMessage("a warning")
	if f := string(out.w[len(out.w)-1]); !strings.Contains(f, "kernel drops: 3") || !strings.Contains(f, "a warning") {
		t.Errorf("drops and warning: %q", f)
	}
	s.Close(false)
	s.Close(true)
	if last := string(out.w[len(out.w)-1]); last != sgrReset+showCursor+leaveAltScreen {
		t.Errorf("close: last write %q", last)
	}
}

func TestCloseKeepsTheLastFrame(t *testing.T) {
	var out writes
	term, _ := OpenTerminal(nil, &out, false)
	s := Start(NewModel(Config{}), term, func() {})
	s.Tick(t0, busyTick(1))
	s.Close(true)
	if n := len(out.w); n < 2 || string(out.w[n-2]) != sgrReset+showCursor+leaveAltScreen {
		t.Fatalf("the terminal should be restored, then the frame printed: %q", out.w)
	}
	last := string(out.w[len(out.w)-1])
	if !strings.HasPrefix(last, "13:45:02  shown 20/66") || !strings.Contains(last, "Web Content") || strings.Contains(last, "\x1b") || !strings.HasSuffix(last, "\n") {
		t.Errorf("last frame printed as %q", last)
	}
}
