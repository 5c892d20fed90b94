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

// Append appends s escaped.
func Append(b []byte, s string) []byte { return appendEscaped(b, s, false) }

// AppendWord appends s escaped as Append does, and also each byte of a
// blank (a space or any other Unicode space), so the text is one field
// for awk: "my app" is my\x20app.
func AppendWord(b []byte, s string) []byte { return appendEscaped(b, s, true) }

// String returns s escaped: s itself when nothing needs escaping.
func String(s string) string {
	if clean(s, false) {
		return s
	}
	return string(appendEscaped(make([]byte, 0, len(s)+16), s, false))
}

// Clean reports whether s is written as it is.
func Clean(s string) bool { return clean(s, false) }

func clean(s string, blanks bool) bool {
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if c < 0x20 || c == 0x7f || c == '\\' || blanks && c == ' ' {
				return false
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if needsEscape(r, blanks) {
			return false
		}
		i += size
	}
	return true
}

func appendEscaped(b []byte, s string, blanks bool) []byte {
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != 0x7f && c != '\\' && !(blanks && c == ' ') {
				b = append(b, c)
			} else {
				b = appendByte(b, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if needsEscape(r, blanks) {
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

// needsEscape is the rule for a character outside ASCII; RuneError stands
// for a byte that is not valid UTF-8 (and for U+FFFD itself, which is
// escaped too so that it cannot pass for a lost byte).
func needsEscape(r rune, blanks bool) bool {
	return r == utf8.RuneError || unicode.IsControl(r) ||
		unicode.In(r, unicode.Cf, unicode.Zl, unicode.Zp) || blanks && unicode.IsSpace(r)
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
