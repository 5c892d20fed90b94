package run

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestFileIsNeverBehind: a regular file or /dev/null as stdout has no
// reader to fall behind, so a tick is never skipped for it: behind()
// waits for the writes instead. A pipe nobody reads is behind.
func TestFileIsNeverBehind(t *testing.T) {
	file, err := os.Create(filepath.Join(t.TempDir(), "out"))
	if err != nil {
		t.Fatal(err)
	}
	defer file.Close()
	devNull, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer devNull.Close()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	lines := append(bytes.Repeat([]byte("x"), 64<<10-1), '\n') // 64 KiB: more than a pipe holds
	for _, tc := range []struct {
		name   string
		f      *os.File
		behind bool
	}{{"regular file", file, false}, {"/dev/null", devNull, false}, {"pipe not read", w, true}} {
		o := newOutput(tc.f)
		for range 8 { // half of maxQueued, in fewer chunks than the queue holds
			if _, err := o.Write(lines); err != nil {
				t.Fatal(err)
			}
		}
		if got := o.behind(); got != tc.behind {
			t.Errorf("%s: behind() = %v right after a tick's writes, want %v", tc.name, got, tc.behind)
		}
	}
	if st, err := file.Stat(); err != nil || st.Size() != 8*64<<10 {
		t.Errorf("the file holds %v bytes (%v), want all %d written once behind() returned", st.Size(), err, 8*64<<10)
	}
}

// TestJoinedNoteAtMostOncePerPeriod: ticks joined for a reader that fell
// behind are said the first time at once, then at most once per period,
// with every tick joined since counted.
func TestJoinedNoteAtMostOncePerPeriod(t *testing.T) {
	t0 := time.Date(2026, 12, 6, 20, 0, 0, 0, time.UTC)
	j := joinedNote{every: time.Minute}
	for _, step := range []struct {
		at       time.Duration
		joined   int64
		wantSaid int64
	}{
		{0, 0, 0},
		{time.Second, 3, 3}, // the first: at once
		{2 * time.Second, 2, 0},
		{30 * time.Second, 5, 0},
		{60 * time.Second, 1, 0},  // 59 s after the first
		{61 * time.Second, 4, 12}, // a minute on: everything since
		{62 * time.Second, 1, 0},
		{200 * time.Second, 0, 1}, // pending, said with no new ones
		{400 * time.Second, 0, 0}, // nothing pending
		{401 * time.Second, 7, 7},
	} {
		if got := j.add(step.joined, t0.Add(step.at)); got != step.wantSaid {
			t.Errorf("at %v, %d joined: said %d, want %d", step.at, step.joined, got, step.wantSaid)
		}
	}
}

// TestFileWrittenInTheCaller: to a regular file, lines are written before
// Write and TakeChunk return (no hand-over to the writing goroutine), in
// order, a taken chunk comes back for reuse, and the first write error is
// returned from then on.
func TestFileWrittenInTheCaller(t *testing.T) {
	path := filepath.Join(t.TempDir(), "out")
	file, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	o := newOutput(file)
	if _, err := o.Write([]byte("one\n")); err != nil {
		t.Fatal(err)
	}
	chunk := append(make([]byte, 0, 64), "two\nthree\n"...)
	next, err := o.TakeChunk(chunk)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(path); string(got) != "one\ntwo\nthree\n" {
		t.Errorf("the file holds %q as the calls return", got)
	}
	if len(next) != 0 || cap(next) != cap(chunk) {
		t.Errorf("TakeChunk gave back %d bytes of %d, want the written chunk, empty", len(next), cap(next))
	}
	file.Close()
	_, first := o.Write([]byte("four\n"))
	if first == nil {
		t.Fatal("Write to a closed file: no error")
	}
	if _, err := o.TakeChunk([]byte("five\n")); err != first {
		t.Errorf("after a write error, TakeChunk gives %v, want the first error %v", err, first)
	}
}
