package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestHeaderWanted: --header=auto writes the header unless stdout appends
// (O_APPEND, >>) to a regular file with something in it; always and
// never, and --no-header.
func TestHeaderWanted(t *testing.T) {
	dir := t.TempDir()
	empty, _ := os.Create(filepath.Join(dir, "empty.csv"))
	full, _ := os.Create(filepath.Join(dir, "full.csv"))
	full.WriteString("timestamp,tick\n")
	appending, _ := os.OpenFile(full.Name(), os.O_WRONLY|os.O_APPEND, 0)
	appendingEmpty, _ := os.OpenFile(empty.Name(), os.O_WRONLY|os.O_APPEND, 0)
	pr, pw, _ := os.Pipe()
	devnull, _ := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	for _, f := range []*os.File{empty, full, appending, appendingEmpty, pr, pw, devnull} {
		defer f.Close()
	}
	for _, tc := range []struct {
		name     string
		header   string
		noHeader bool
		stdout   any
		want     bool
	}{
		{"auto, an empty file", "auto", false, empty, true},
		{"auto, > after other output", "auto", false, full, true},
		{"auto, >> to a file with a header", "auto", false, appending, false},
		{"auto, >> to an empty file", "auto", false, appendingEmpty, true},
		{"auto, a pipe", "auto", false, pw, true},
		{"auto, /dev/null", "auto", false, devnull, true},
		{"auto, not a file", "auto", false, &bytes.Buffer{}, true},
		{"always, a file with a header", "always", false, full, true},
		{"never, an empty file", "never", false, empty, false},
		{"--no-header", "auto", true, pw, false},
		{"--no-header and never", "never", true, pw, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := &Options{NoHeader: tc.noHeader}
			o.Header = tc.header
			w, _ := tc.stdout.(interface{ Write([]byte) (int, error) })
			got, err := headerWanted(o, w)
			if err != nil || got != tc.want {
				t.Errorf("headerWanted = %v, %v; want %v", got, err, tc.want)
			}
		})
	}
	o := &Options{NoHeader: true}
	o.Header = "always"
	if _, err := headerWanted(o, pw); err == nil {
		t.Error("--no-header --header=always accepted")
	}
}

func TestBareFields(t *testing.T) {
	for _, tc := range []struct{ in, want []string }{
		{[]string{"--fields"}, []string{"--list-fields"}},
		{[]string{"--fields", "-o", "csv"}, []string{"--list-fields", "-o", "csv"}},
		{[]string{"--fields", "comm,pid"}, []string{"--fields", "comm,pid"}},
		{[]string{"--fields=comm"}, []string{"--fields=comm"}},
		{[]string{"-w", "x", "--", "--fields"}, []string{"-w", "x", "--", "--fields"}},
	} {
		if got := bareFields(tc.in); !slices.Equal(got, tc.want) {
			t.Errorf("bareFields(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestLogFor(t *testing.T) {
	for _, tc := range []struct {
		args []string
		env  string
		json bool
	}{
		{[]string{"--log-format=json", "--bogus"}, "", true},
		{[]string{"--bogus", "--log-format", "json"}, "", true},
		{[]string{"--bogus"}, "json", true},
		{[]string{"--log-format=text"}, "json", false},
		{[]string{"--", "--log-format=json"}, "", false},
	} {
		t.Setenv("TCPTOP_LOG_FORMAT", tc.env)
		var b bytes.Buffer
		logFor(tc.args, &b).Errorf("x")
		if got := strings.HasPrefix(b.String(), "{"); got != tc.json {
			t.Errorf("logFor(%q) with TCPTOP_LOG_FORMAT=%q: json %v, want %v", tc.args, tc.env, got, tc.json)
		}
	}
}
