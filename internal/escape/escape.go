// Package escape makes text that comes from outside tcptop (process
// names, cgroup paths, a user's bad argument echoed in an error) safe to
// print: in every output format, on the live screen and on stderr, by the
// one scheme below, so a process cannot send a terminal escape sequence,
// break a line, or hide bytes through what tcptop prints.
//
// A byte is written \xNN (two lowercase hex digits) when it is a
// backslash, is not part of valid UTF-8, or encodes a character that is a
// control (C0, DEL, C1), a format character (bidirectional overrides,
// zero-width characters) or a line or paragraph separator; each byte of
// such a character is escaped. Everything else is written as it is. The
// result is valid UTF-8 without control characters, and a backslash in it
// always starts an escape, so Decode gives back the original bytes.
package escape

import (
	"unicode"
	"unicode/utf8"
)

// mode says what is escaped besides what always is.
type mode uint8

const (
	data   mode = iota // and a backslash: output fields, reversible
	word               // and a backslash and blanks: text's fields for awk
	person             // not a backslash: a message on stderr
)

// Append appends s escaped.
func Append(b []byte, s string) []byte { return appendEscaped(b, s, data) }

// AppendWord appends s escaped as Append does, and also each byte of a
// blank (a space or any other Unicode space), so the text is one field
// for awk: "my app" is my\x20app.
func AppendWord(b []byte, s string) []byte { return appendEscaped(b, s, word) }

// String returns s escaped: s itself when nothing needs escaping.
func String(s string) string { return escaped(s, data) }

// Line returns a message for a person (an error or warning on stderr)
// escaped as String does, except that a backslash stays: messages quote
// what the user typed with Go's %q, whose backslashes are escapes
// already. So it is not reversible, but as safe to print, and Line of its
// own result changes nothing.
func Line(s string) string { return escaped(s, person) }

// Clean reports whether String(s) is s.
func Clean(s string) bool { return clean(s, data) }

func escaped(s string, m mode) string {
	if clean(s, m) {
		return s
	}
	return string(appendEscaped(make([]byte, 0, len(s)+16), s, m))
}

func clean(s string, m mode) bool {
	plain := &plainASCII[m]
	for i := 0; i < len(s); {
		if plain[s[i]] { // the common case, a byte at a time
			i++
			continue
		}
		if s[i] < utf8.RuneSelf {
			return false
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if needsEscape(r, m) {
			return false
		}
		i += size
	}
	return true
}

func appendEscaped(b []byte, s string, m mode) []byte {
	plain := &plainASCII[m]
	for i := 0; i < len(s); {
		c := s[i]
		if plain[c] {
			b = append(b, c)
			i++
			continue
		}
		if c < utf8.RuneSelf {
			b = appendByte(b, c)
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if needsEscape(r, m) {
			for j := i; j < i+size; j++ {
				b = appendByte(b, s[j])
			}
		} else {
			b = append(b, s[i:i+size]...)
		}
		i += size
	}
	return b
}

func asciiNeedsEscape(c byte, m mode) bool {
	return c < 0x20 || c == 0x7f || c == '\\' && m != person || c == ' ' && m == word
}

// plainASCII[m][c] is true for an ASCII byte c that mode m writes as it
// is: a table lookup costs less than half of the tests (BenchmarkClean),
// and every byte of every string of every row pays it.
var plainASCII = func() (t [3][256]bool) {
	for m := range t {
		for c := range utf8.RuneSelf {
			t[m][c] = !asciiNeedsEscape(byte(c), mode(m))
		}
	}
	return t
}()

// needsEscape is the rule for a character outside ASCII; RuneError stands
// for a byte that is not valid UTF-8 (and for U+FFFD itself, which is
// escaped too so that it cannot pass for a lost byte).
func needsEscape(r rune, m mode) bool {
	return r == utf8.RuneError || unicode.IsControl(r) ||
		unicode.In(r, unicode.Cf, unicode.Zl, unicode.Zp) || m == word && unicode.IsSpace(r)
}

const hexDigits = "0123456789abcdef"

func appendByte(b []byte, c byte) []byte {
	return append(b, '\\', 'x', hexDigits[c>>4], hexDigits[c&15])
}

// Decode undoes Append and AppendWord: each \xNN becomes the byte it
// names. It reports false for text that Append cannot have written (a
// backslash not followed by x and two hex digits).
func Decode(s string) (string, bool) {
	out := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		if s[i] != '\\' {
			out = append(out, s[i])
			continue
		}
		if i+3 >= len(s) {
			return "", false
		}
		hi, lo := unhex(s[i+2]), unhex(s[i+3])
		if s[i+1] != 'x' || hi < 0 || lo < 0 {
			return "", false
		}
		out = append(out, byte(hi<<4|lo))
		i += 3
	}
	return string(out), true
}

func unhex(c byte) int {
	switch {
	case '0' <= c && c <= '9':
		return int(c - '0')
	case 'a' <= c && c <= 'f':
		return int(c - 'a' + 10)
	}
	return -1
}
