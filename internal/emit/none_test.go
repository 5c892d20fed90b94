package emit

import (
	"bytes"
	"slices"
	"testing"
)

// TestNoneWritesNothing: -o none takes rows and groups and writes no
// byte, header or not; it is not among the formats that write.
func TestNoneWritesNothing(t *testing.T) {
	if slices.Contains(Formats(), None) {
		t.Errorf("Formats() lists %q", None)
	}
	var buf bytes.Buffer
	w, err := New(None, &buf, true)
	if err != nil {
		t.Fatal(err)
	}
	if err := writeTick(w, 1, tick1()); err != nil {
		t.Fatal(err)
	}
	g, err := NewGroups(None, &buf, []string{"comm"}, Options{Header: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := g.Begin(Tick{N: 1}); err != nil {
		t.Fatal(err)
	}
	if err := g.End(); err != nil {
		t.Fatal(err)
	}
	if buf.Len() != 0 {
		t.Errorf("wrote %q", buf.String())
	}
}
