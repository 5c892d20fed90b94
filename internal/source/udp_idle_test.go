package source

import (
	"testing"
	"time"
)

// TestIdlePast: a flow is idle once its last datagram is timeout old, and
// never when the datagram came after the read began (last > now), which
// an unsigned difference once took for ages ago.
func TestIdlePast(t *testing.T) {
	const s = uint64(time.Second)
	for _, tc := range []struct {
		now, last uint64
		timeout   time.Duration
		want      bool
	}{
		{100 * s, 94 * s, 5 * time.Second, true},
		{100 * s, 95 * s, 5 * time.Second, true},
		{100 * s, 96 * s, 5 * time.Second, false},
		{100 * s, 100 * s, 5 * time.Second, false},
		{100 * s, 100*s + 1, 5 * time.Second, false}, // came during the read
		{100 * s, 1, 0, false},                       // 0: never
	} {
		if got := idlePast(tc.now, tc.last, tc.timeout); got != tc.want {
			t.Errorf("idlePast(now %d, last %d, %v) = %v, want %v", tc.now, tc.last, tc.timeout, got, tc.want)
		}
	}
}
