package screen

import (
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/tcptop/tcptop/internal/conn"
)

// Screen runs the live screen: it draws the Model on the Terminal when a
// tick comes, a key is pressed or the terminal is resized, from whichever
// goroutine that happens on, one at a time.
type Screen struct {
	mu    sync.Mutex
	model *Model
	term  *Terminal
	quit  func()
	done  chan struct{}
	once  sync.Once
	wg    sync.WaitGroup
}

// Start draws the first frame (waiting for the first tick) and starts
// reading keys and resizes. quit is called, once, when a key asks to
// quit; the caller then ends its tick loop and calls Close.
func Start(model *Model, t *Terminal, quit func()) *Screen {
	s := &Screen{model: model, term: t, quit: quit, done: make(chan struct{})}
	s.draw()
	winch := make(chan os.Signal, 1)
	signal.Notify(winch, syscall.SIGWINCH)
	s.wg.Add(1)
	go s.resizes(winch)
	if t.Keys() {
		go s.keys() // blocked in a read until a key comes: not waited for
	}
	return s
}

// Tick shows the rows of a tick read at t (the screen keeps the slice).
func (s *Screen) Tick(t time.Time, rows []conn.Row) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.model.Tick(t, rows)
	s.draw()
}

// SetDrops sets what the summary line says of kernel-side drops ("" for
// none).
func (s *Screen) SetDrops(drops string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if drops != s.model.Drops {
		s.model.Drops = drops
		s.draw()
	}
}

// SetMessage shows a warning, with the time it came, on a line of its own
// until the next one.
func (s *Screen) SetMessage(msg string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.model.Say(time.Now(), msg)
	s.draw()
}

// Close stops the screen and restores the terminal; with keepLast, the
// last frame is then printed on the shell's screen (tcptop -n 5 leaves its
// last tick in view, as top -n does). It may be called more than once.
func (s *Screen) Close(keepLast bool) {
	s.once.Do(func() {
		close(s.done)
		s.wg.Wait()
		s.mu.Lock() // no draw after this
		defer s.mu.Unlock()
		s.term.Restore()
		if keepLast {
			_ = s.term.PrintLast()
		}
	})
}

// draw lays the model out at the terminal's size and writes it; s.mu is
// held (or the screen not yet shared).
func (s *Screen) draw() {
	w, h := s.term.Size()
	_ = s.term.Draw(Layout(s.model.Frame(), w, h), w, h)
}

// restoreOnPanic gives the terminal back before a panic in one of the
// screen's goroutines ends the program, so the trace is readable and the
// shell usable, then panics again.
func (s *Screen) restoreOnPanic() {
	if r := recover(); r != nil {
		s.term.Restore()
		panic(r)
	}
}

func (s *Screen) resizes(winch chan os.Signal) {
	defer s.wg.Done()
	defer signal.Stop(winch)
	defer s.restoreOnPanic()
	for {
		select {
		case <-s.done:
			return
		case <-winch:
			s.mu.Lock()
			s.draw()
			s.mu.Unlock()
		}
	}
}

func (s *Screen) keys() {
	defer s.restoreOnPanic()
	s.term.ReadKeys(func(k byte) {
		s.mu.Lock()
		quit := s.model.Key(k)
		if !quit {
			s.draw()
		}
		s.mu.Unlock()
		if quit {
			s.quit()
		}
	})
}
