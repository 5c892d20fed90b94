package filter

import (
	"errors"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/tcptop/tcptop/internal/conn"
)

// fuzzRows are the rows FuzzCompile matches: the tests' row, one with odd
// strings and no addresses, and random ones over the corpus's edges.
func fuzzRows() []*conn.Row {
	odd := row("")
	odd.Comm, odd.State, odd.Proto, odd.CC, odd.Error = `\x1b[31m"a,b`, "", "udp", "bbr", "refused"
	rows := []*conn.Row{row("10.1.2.3"), row("fd12::1"), odd}
	rng := rand.New(rand.NewPCG(7, 8))
	for range 5 {
		rows = append(rows, randomRow(rng))
	}
	return rows
}

// FuzzCompile compiles arbitrary expressions against the real row type:
// Compile must not panic, and its errors are one short line; an
// expression that compiles must match the sample rows without a panic,
// within the bounds of limits.go, and where the compiled closures cover
// it they must agree with expr's VM, and the steps it takes on each row
// must be within its bound (cost.go). Seeds: the expressions of the other
// tests, and testdata/fuzz/FuzzCompile/*.
func FuzzCompile(f *testing.F) {
	for _, tt := range matchTests {
		f.Add(tt.where)
	}
	for _, where := range slices.Concat(fastCorpus, vmCorpus) {
		f.Add(where)
	}
	rows := fuzzRows()
	f.Fuzz(func(t *testing.T, where string) {
		flt, err := Compile(where)
		if err != nil {
			checkFuzzError(t, where, err)
			return
		}
		for _, err := range checkPathsAgree(t, where, flt, rows) {
			checkFuzzError(t, where, err)
		}
		checkMeasured(t, where, rows)
	})
}

func checkFuzzError(t *testing.T, where string, err error) {
	t.Helper()
	var e *Error
	msg := err.Error()
	if !errors.As(err, &e) || strings.ContainsAny(msg, "\n\r") || utf8.RuneCountInString(msg) > 500 {
		t.Fatalf("%q: the error is not one short line: %q", where, msg)
	}
}
