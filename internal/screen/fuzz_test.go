package screen

import (
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/tcptop/tcptop/internal/conn"
)

// hostileRow is a row whose every string field (found by reflection over
// the schema, so a new one is covered without a change here) holds s.
func hostileRow(s string, pid int) conn.Row {
	r := conn.Row{Tick: 1, Timestamp: t0, PID: pid, RemoteAddr: netip.MustParseAddr("192.0.2.7"), RemotePort: 443, RateIn: float64(pid)}
	for _, f := range conn.Fields {
		if f.Type == reflect.TypeFor[string]() {
			reflect.ValueOf(&r).Elem().Field(f.Index).SetString(s)
		}
	}
	return r
}

// FuzzLayout: whatever bytes every string field of a row holds (remote_name
// among them, from DNS answers), the live screen, with every column shown,
// REMOTE showing names (n) and in the view by process (p), draws lines of
// valid UTF-8 with no character a terminal acts on (issue 17: every string
// escaped in every output).
func FuzzLayout(f *testing.F) {
	f.Add("=cmd|' /C calc'!A0.\x1b[2J\\\xff.test")
	f.Add("\u202egnp.exe\u2028\x00\r\n\t")
	f.Add("")
	f.Add("\x1b\\\xff.t")
	f.Fuzz(func(t *testing.T, s string) {
		m := NewModel(Config{})
		for c := range m.hidden {
			m.hidden[c] = false
		}
		m.Tick(t0, []conn.Row{hostileRow(s, 7), hostileRow(s+"x", 8)})
		for _, keys := range []string{"", "n", "p"} {
			typeKeys(t, m, keys)
			for _, width := range []int{40, 80, 400} {
				for _, l := range Layout(m.Frame(), width, 12) {
					checkDrawable(t, keys, width, l.Text)
				}
			}
		}
		shown := string(appendName(nil, s)) + ":443"
		if s == "" || utf8.RuneCountInString(shown) > 20 {
			return // REMOTE cuts a longer one with …
		}
		typeKeys(t, m, "pn") // back to the flows, addresses
		typeKeys(t, m, "n")
		var all strings.Builder
		for _, l := range Layout(m.Frame(), 400, 12) {
			all.WriteString(l.Text + "\n")
		}
		if !strings.Contains(all.String(), shown) {
			t.Errorf("remote_name %q is not shown as %q:\n%s", s, shown, all.String())
		}
	})
}

// checkDrawable fails if text holds invalid UTF-8 or a control, format or
// separator character.
func checkDrawable(t *testing.T, keys string, width int, text string) {
	t.Helper()
	if !utf8.ValidString(text) {
		t.Fatalf("keys %q, width %d: invalid UTF-8 in %q", keys, width, text)
	}
	for _, r := range text {
		if unicode.IsControl(r) || unicode.In(r, unicode.Cf, unicode.Zl, unicode.Zp) {
			t.Fatalf("keys %q, width %d: a raw %U in %q", keys, width, r, text)
		}
	}
}
