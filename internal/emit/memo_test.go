package emit

import (
	"testing"

	"github.com/tcptop/tcptop/internal/escape"
)

// TestMemoEscape checks that a memo (of either writer) gives escape.String's text for every
// value of a sequence in which values repeat, change, come back, and come
// again in a different array with the same bytes.
func TestMemoEscape(t *testing.T) {
	again := string([]byte("nginx\x1b[2J")) // same bytes as a value before, another array
	seq := []string{"", "tcp", "tcp", "nginx", "nginx\x1b[2J", again, "a\\b", "", "tcp", "caf\xe9", "café", "",
		"1:LQU9qZlK+B5F3KDmev6m5PMibrg=", "1:LQU9qZlK+B5F3KDmev6m5PMibrg=", "a\"b", "\x7f", " ~", "tab\t", "\u2028"}
	var m goccyMemo
	var n memo
	for i, s := range seq {
		if got, want := m.escape(s), escape.String(s); got != want {
			t.Errorf("value %d %q: memo gives %q, want %q", i, s, got, want)
		}
		if got, want := string(n.append([]byte("x"), ",\"k\":", s)), `x,"k":`+string(appendJSONString(nil, escape.String(s))); got != want {
			t.Errorf("value %d %q: memo gives %q, want %q", i, s, got, want)
		}
	}
}
