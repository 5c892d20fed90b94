package filter

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestErrorIsOneShortLine(t *testing.T) {
	long := strings.Repeat(`proto == "tcp" && `, 200) // 3,600 characters
	for _, tt := range []struct {
		where string
		want  []string
	}{
		{long + `bogus > 1`, []string{"unknown name bogus at 1:3601 in `…", `&& »bogus > 1`}},
		{`bogus > 1 && ` + long + `true`, []string{"at 1:1 in `»bogus > 1 && proto", "…`"}},
		{"proto == \"tcp\" &&\n\tbogus > 1", []string{"at 2:2 in `\\x09»bogus > 1`"}},
		{"comm == \"a\x1bb\" && bogus", []string{"in `comm == \"a\\x1bb\" && »bogus`"}},
		{"comm == \"\xff\u202e\" && bogus", []string{`\xe2\x80\xae" && »bogus`}},
		{`remote_addr in cidr("` + strings.Repeat("1", 5000) + `")`, []string{`cidr("1111`, "…"}},
		{`rtt_us`, []string{"expected bool, but got int64: the expression must be true or false"}},
	} {
		_, err := Compile(tt.where)
		if err == nil {
			t.Fatalf("Compile(%.40q): no error", tt.where)
		}
		msg := err.Error()
		for _, w := range tt.want {
			if !strings.Contains(msg, w) {
				t.Errorf("Compile(%.40q) = %q, want %q in it", tt.where, msg, w)
			}
		}
		if strings.ContainsAny(msg, "\n\r\t\x1b\u202e") || !utf8.ValidString(msg) || utf8.RuneCountInString(msg) > 400 {
			t.Errorf("Compile(%.40q): not one short line: %q", tt.where, msg)
		}
	}
}

func TestUnknownNameSuggestsTheNearest(t *testing.T) {
	for name, want := range map[string]string{
		"rtt":       "rtt_us",
		"remote_ip": "remote_addr",
		"RTTMicros": "rtt_us",
		"BytesIn":   "bytes_in",
		"byte_in":   "bytes_in",
		"Comm":      "comm",
		"is_privat": "is_private",
		"incidr":    "in_cidr",
		"xyzzy":     "",
	} {
		if got := suggest(name); got != want {
			t.Errorf("suggest(%q) = %q, want %q", name, got, want)
		}
	}
	for _, where := range []string{`proto == tcp`, `state == ESTABLISHED`} {
		if _, err := Compile(where); err == nil || !strings.Contains(err.Error(), "quote a string value") {
			t.Errorf("Compile(%s) = %v, want it to say to quote the value", where, err)
		}
	}
	_, err := Compile(`remote_ip == "10.0.0.1"`)
	var e *Error
	if !errors.As(err, &e) || e.Fix != "did you mean remote_addr? (tcptop --fields lists the names)" {
		t.Errorf("Compile(remote_ip ...) = %v, want it to suggest remote_addr", err)
	}
}

func TestRuntimeErrorIsOneLine(t *testing.T) {
	f, err := Compile(`bytes_in % bytes_out == 0`)
	if err != nil {
		t.Fatal(err)
	}
	_, err = f.Match(row("10.1.2.3"))
	var e *Error
	if !errors.As(err, &e) || e.Line != 1 || e.Column != 10 || strings.Contains(err.Error(), "\n") {
		t.Errorf("Match = %q (%#v), want one line at 1:10", err, e)
	}
}

// An error inside a call's arguments is a compile error, not a failure of
// every row at run time (expr's final check skipped the arguments of a call
// typed by an earlier pass: recheck.go).
func TestErrorInsideACallIsReported(t *testing.T) {
	for where, want := range map[string]string{
		`is_private(nope)`:                         "unknown name nope",
		`is_loopback(remote_addr.c)`:               "has no field c",
		`in_cidr(remote_addr.c, "10.0.0.0/8")`:     "has no field c",
		`in_cidr(remote_addr, A0("x"))`:            "unknown name A0",
		`in_cidr(remote_addr. c,A0("0000000000"))`: "has no field c",
		`is_private(comm + 1)`:                     "invalid operation: +",
		`remote_addr in cidr(nope)`:                "unknown name nope",
		`len(split(nope, ",")) > 1`:                "unknown name nope",
	} {
		_, err := Compile(where)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Compile(%s) = %v, want an error with %q", where, err, want)
		}
	}
}
