package configtest

import (
	"strings"
	"testing"
	"time"
)

// sampleStamp is a timestamp as tcptop writes it (internal/conn/row.go):
// UTC, RFC 3339, exactly six fraction digits.
const sampleStamp = "2026-01-02T15:04:05.123456Z"

var sampleTime = time.Date(2026, 1, 2, 15, 4, 5, 123456000, time.UTC)

// strftimeLayout turns a strftime-style format into a Go layout, for the
// directives the recipes use; fraction maps the dialect's fractional
// second directive (chrono's "%.6f", Fluent Bit's "%L") to its Go form.
func strftimeLayout(t *testing.T, format string, fraction map[string]string) string {
	t.Helper()
	common := map[string]string{"%Y": "2006", "%m": "01", "%d": "02", "%H": "15", "%M": "04", "%S": "05"}
	var b strings.Builder
	for i := 0; i < len(format); {
		if format[i] != '%' {
			b.WriteByte(format[i])
			i++
			continue
		}
		matched := false
		for _, table := range []map[string]string{fraction, common} {
			for dir, layout := range table {
				if strings.HasPrefix(format[i:], dir) {
					b.WriteString(layout)
					i += len(dir)
					matched = true
					break
				}
			}
			if matched {
				break
			}
		}
		if !matched {
			t.Fatalf("format %q: directive at %q not understood by this check", format, format[i:])
		}
	}
	return b.String()
}

// checkParsesExactly fails unless format reads tcptop's timestamp to the
// microsecond (as UTC).
func checkParsesExactly(t *testing.T, format string, fraction map[string]string) {
	t.Helper()
	layout := strftimeLayout(t, format, fraction)
	got, err := time.Parse(layout, sampleStamp)
	if err != nil || !got.Equal(sampleTime) {
		t.Errorf("format %q reads %s as %v (%v), want %v", format, sampleStamp, got, err, sampleTime)
	}
}
