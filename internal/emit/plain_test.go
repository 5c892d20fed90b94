package emit

import (
	"testing"

	"github.com/tcptop/tcptop/internal/escape"
)

// TestPlainJSON checks plainJSON against its definition, the text being
// the same escaped and JSON-quoted, for every byte at every place of
// strings long enough for the eight-byte steps and their tail.
func TestPlainJSON(t *testing.T) {
	for _, n := range []int{1, 7, 8, 9, 16, 30} {
		for at := range n {
			for c := range 256 {
				b := []byte("1:LQU9qZlK+B5F3KDmev6m5PMibrg=")[:n]
				b[at] = byte(c)
				s := string(b)
				want := escape.String(s) == s && string(appendJSONString(nil, s)) == `"`+s+`"`
				if got := plainJSON(s); got != want {
					t.Fatalf("plainJSON(%q) = %v, want %v", s, got, want)
				}
			}
		}
	}
}
