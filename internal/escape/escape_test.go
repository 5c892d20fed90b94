package escape

import (
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

func TestEscapesWhatATerminalOrAParserWouldChokeOn(t *testing.T) {
	for _, tt := range []struct{ in, want, word string }{
		{"nginx", "nginx", "nginx"},
		{"käse", "käse", "käse"},
		{"a b", "a b", `a\x20b`},
		{"tab\there", `tab\x09here`, `tab\x09here`},
		{"\x1b[31mred", `\x1b[31mred`, `\x1b[31mred`},
		{"bad\xff\xfeutf8", `bad\xff\xfeutf8`, `bad\xff\xfeutf8`},
		{`back\slash`, `back\x5cslash`, `back\x5cslash`},
		{`a\x20b`, `a\x5cx20b`, `a\x5cx20b`}, // a literal escape is not taken for one
		{"new\nline\r", `new\x0aline\x0d`, `new\x0aline\x0d`},
		{"del\x7f", `del\x7f`, `del\x7f`},
		{"c1\u0085control", `c1\xc2\x85control`, `c1\xc2\x85control`},
		{"rlo\u202etxt.exe", `rlo\xe2\x80\xaetxt.exe`, `rlo\xe2\x80\xaetxt.exe`},
		{"zero\u200bwidth", `zero\xe2\x80\x8bwidth`, `zero\xe2\x80\x8bwidth`},
		{"line\u2028sep", `line\xe2\x80\xa8sep`, `line\xe2\x80\xa8sep`},
		{"nb\u00a0sp", "nb\u00a0sp", `nb\xc2\xa0sp`},
		{"repl\ufffd", `repl\xef\xbf\xbd`, `repl\xef\xbf\xbd`},
		{"=cmd|calc", "=cmd|calc", "=cmd|calc"},
		{"日本", "日本", "日本"},
		{"", "", ""},
	} {
		if got := string(Append(nil, tt.in)); got != tt.want {
			t.Errorf("Append(%q) = %q, want %q", tt.in, got, tt.want)
		}
		if got := String(tt.in); got != tt.want {
			t.Errorf("String(%q) = %q, want %q", tt.in, got, tt.want)
		}
		if got := Clean(tt.in); got != (tt.in == tt.want) {
			t.Errorf("Clean(%q) = %v", tt.in, got)
		}
		if got := string(AppendWord(nil, tt.in)); got != tt.word {
			t.Errorf("AppendWord(%q) = %q, want %q", tt.in, got, tt.word)
		}
	}
}

func TestLineKeepsBackslashes(t *testing.T) {
	for in, want := range map[string]string{
		`unexpected argument "\x1b"`:         `unexpected argument "\x1b"`,
		"unexpected argument \x1b]0;pwned\a": `unexpected argument \x1b]0;pwned\x07`,
		"unknown flag --\x1b[2J\n":           `unknown flag --\x1b[2J\x0a`,
		"bad\xff":                            `bad\xff`,
	} {
		if got := Line(in); got != want {
			t.Errorf("Line(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestDecodeRejectsWhatAppendCannotWrite(t *testing.T) {
	for _, s := range []string{`\`, `a\x`, `\x4`, `\x4g`, `\X41`, `\n`, `\xAB`} {
		if got, ok := Decode(s); ok {
			t.Errorf("Decode(%q) = %q, want an error", s, got)
		}
	}
	if got, ok := Decode(`a\x5cx20\x00`); !ok || got != "a\\x20\x00" {
		t.Errorf("Decode = %q, %v", got, ok)
	}
}

// FuzzEscape: any bytes come out valid UTF-8 without a control, format or
// separator character, and decode back to themselves; AppendWord adds no
// blank.
func FuzzEscape(f *testing.F) {
	for _, s := range []string{"", "a b", "\x1b]0;pwned\a", "bad\xff", `\x41`, "\u202e", "\xe2\x80"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, m := range []mode{data, word} {
			out := string(appendEscaped(nil, s, m))
			if !utf8.ValidString(out) {
				t.Fatalf("%q: not valid UTF-8: %q", s, out)
			}
			for _, r := range out {
				if unicode.IsControl(r) || unicode.In(r, unicode.Cf, unicode.Zl, unicode.Zp) || m == word && unicode.IsSpace(r) {
					t.Fatalf("%q: %U left in %q", s, r, out)
				}
			}
			if back, ok := Decode(out); !ok || back != s {
				t.Fatalf("Decode(%q) = %q, %v; want %q", out, back, ok, s)
			}
			if Clean(s) != (out == s) && m == data {
				t.Fatalf("Clean(%q) = %v, escaped %q", s, Clean(s), out)
			}
		}
		line := Line(s)
		if !utf8.ValidString(line) || Line(line) != line || strings.ContainsFunc(line, func(r rune) bool {
			return unicode.IsControl(r) || unicode.In(r, unicode.Cf, unicode.Zl, unicode.Zp)
		}) {
			t.Fatalf("Line(%q) = %q: not valid UTF-8 without controls, or not stable", s, line)
		}
	})
}

// BenchmarkClean is the cost every string field of every row pays: a
// process name that needs no escaping.
func BenchmarkClean(b *testing.B) {
	for b.Loop() {
		_ = String("systemd-resolve")
	}
}
