package filter

import (
	"errors"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/tcptop/tcptop/internal/conn"
)

// TestRunawayRejectedAtCompileTime: what would take memory or time
// without bound fails in Compile, with one line that names the bound.
func TestRunawayRejectedAtCompileTime(t *testing.T) {
	for _, tt := range []struct{ where, want string }{
		{`comm matches repeat("(a*)*", 20000)`, "repeat() would build 100000 bytes"},
		{`len(repeat(repeat("x", 999999), 999999)) > 0`, "repeat() would build 999999 bytes"},
		{`repeat("x", -1) == ""`, "the count must be 0 or more"},
		{`comm matches "` + strings.Repeat("a", 1025) + `"`, "a regular expression of 1025 bytes"},
		{`comm matches "` + strings.Repeat("a{1000}", 11) + `"`, "compiling to 11002 instructions"},
		{`comm matches repeat("a{1000}", 11)`, "compiling to 11002 instructions"},
		{`comm matches "(a"`, "missing closing )"},
		{`len(1..1000000000) > 0`, "the range 1..1000000000 is too big"},
		{`all(-5..10000, # > 0)`, "the range -5..10000 is too big"},
		{`let x = comm + comm; x != ""`, "let is not supported"},
		{`reduce(1..64, #acc + #acc, "ab") != ""`, "reduce() is not supported"},
		{`len(map(1..3, [#, #])) > 0`, "map() is not supported"},
		{`len(toJSON([comm])) > 0`, "toJSON() is not supported"},
		{`join(split(comm, ""), "-") == ""`, "join() is not supported"},
		{`len(replace(comm, "", comm)) > 0`, "replace() is not supported"},
		{`timestamp.Format(timestamp.Format("1111")) != ""`, "Format of a computed layout"},
		{`len(` + strings.Repeat("sort(", 4) + `[2, 1]` + strings.Repeat(")", 4) + `) > 0`, "sort() inside sort() more than 2 deep"},
		{`len(sort(filter(sort(sort([2, 1])), # > 0))) > 0`, "sort() inside sort() more than 2 deep"},
		{`"` + strings.Repeat("x", 600) + `" + "` + strings.Repeat("y", 600) + `" == comm`, "+ would build a string of 1200 bytes"},
		{strings.Repeat("1+", 2100) + "1 > 0", "exceeds maximum allowed nodes"},
		{strings.Repeat("(", 5000) + "true" + strings.Repeat(")", 5000), "the expression is 10004 bytes long"},
	} {
		_, err := Compile(tt.where)
		if err == nil {
			t.Errorf("Compile(%.60q): no error", tt.where)
			continue
		}
		checkOneLine(t, tt.where, err, tt.want)
	}
}

// checkOneLine checks that err is one short line containing want.
func checkOneLine(t *testing.T, where string, err error, want string) {
	t.Helper()
	msg := err.Error()
	if !strings.Contains(msg, want) {
		t.Errorf("%.60q: error %q, want it to contain %q", where, msg, want)
	}
	if strings.ContainsAny(msg, "\n\r") || utf8.RuneCountInString(msg) > 400 {
		t.Errorf("%.60q: error is not one short line (%d characters): %q", where, len(msg), msg)
	}
	var e *Error
	if !errors.As(err, &e) {
		t.Errorf("%.60q: %T is not a *filter.Error", where, err)
	}
}

// TestBoundedButAllowed: what stays within the bounds compiles and
// matches as before; what goes over them only with the row's values fails
// that row, with one line.
func TestBoundedButAllowed(t *testing.T) {
	r := row("10.1.2.3") // comm curl, rtt_us 6000, state ESTABLISHED
	for _, tt := range []struct {
		where string
		want  bool
	}{
		{`rtt_us in 1..1000000000 && rtt_us not in 6001..9000000000`, true},
		{`comm matches repeat("(c|u)", 2)`, true},
		{`comm matches state || state matches "^EST"`, true},
		{`any(["wget", "curl"], comm startsWith #)`, true},
		{`len(split(comm, "")) == 4 && splitAfter(comm, "u")[0] == "cu"`, true},
		{`upper(comm) + "/" + lower(state) == "CURL/established"`, true},
		{`string(rtt_us) == "6000" && repeat(comm, 2) == "curlcurl"`, true},
		{`timestamp.Format("2006") == "2026"`, true},
		{`count(1..9999, # % 2 == 0) == 4999`, true},
		{strings.Repeat("(", 4000) + "true" + strings.Repeat(")", 4000), true},
	} {
		f, err := Compile(tt.where)
		if err != nil {
			t.Errorf("Compile(%.60q): %v", tt.where, err)
			continue
		}
		if got, err := f.Match(r); got != tt.want || err != nil {
			t.Errorf("Match(%.60q) = %v, %v; want %v", tt.where, got, err, tt.want)
		}
	}
	for _, tt := range []struct{ where, want string }{
		{`len(1..rtt_us*1000) > 0`, "memory budget exceeded"},
		{`count(1..rtt_us, # > 0) + count(1..rtt_us, # > 0) > 0`, "memory budget exceeded"},
		{`repeat(comm, rtt_us) != ""`, "repeat() would build 24000 bytes"},
		{`string(1..rtt_us) != ""`, "string() of a slice would be"},
		{`len(split(repeat("x", 1000) + repeat("x", 24) + comm, "")) > 0`, "+ would build a string of 1028 bytes"},
		{`comm matches repeat(comm + "{1000}", 11)`, "compiling to 11035 instructions"},
		{`comm matches comm + "("`, "missing closing )"},
	} {
		f, err := Compile(tt.where)
		if err != nil {
			t.Errorf("Compile(%.60q): %v", tt.where, err)
			continue
		}
		ok, err := f.Match(r)
		if ok || err == nil {
			t.Errorf("Match(%.60q) = %v, %v; want an error", tt.where, ok, err)
			continue
		}
		checkOneLine(t, tt.where, err, tt.want)
	}
}

// TestRunawayMemory compiles and runs expressions that grew to gigabytes
// before the bounds, and some that push against them, and checks what the
// heap holds after each and what all of them allocated.
func TestRunawayMemory(t *testing.T) {
	rows := make([]*conn.Row, 0, 50)
	for i := range cap(rows) {
		r := row("10.1.2.3")
		r.Comm = fmt.Sprintf("proc-%d", i)
		rows = append(rows, r)
	}
	exprs := []string{
		`comm matches repeat("(a*)*", 20000)`,
		`comm matches repeat("(a*)*", 200)`,
		`comm matches repeat("(a*)*", 40) + comm`,
		`len(repeat(repeat("x", 999999), 999999)) > 0`,
		`len(1..1000000000) > 0`,
		`len(1..rtt_us*100000) > 0`,
		`len(split(` + strings.Repeat(`repeat("x", 1000)+`, 300) + `"", "")) > 0`,
		`any(1..9999, comm + string(#) + comm matches "x")`,
		`count(1..9999, len(string(1..#)) > 0) > 0`,
		strings.Repeat(`comm+`, 1500) + `"" != ""`,
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for _, where := range exprs {
		f, err := Compile(where)
		if err != nil {
			continue
		}
		for _, r := range rows {
			_, _ = f.Match(r)
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		if grew := int64(after.HeapAlloc) - int64(before.HeapAlloc); grew > 16<<20 {
			t.Errorf("%.60q: the heap grew by %d MiB", where, grew>>20)
		}
	}
	if total := after.TotalAlloc - before.TotalAlloc; total > 512<<20 {
		t.Errorf("the expressions allocated %d MiB in all", total>>20)
	}
	t.Logf("allocated %d MiB in all, heap %d MiB", (after.TotalAlloc-before.TotalAlloc)>>20, after.HeapAlloc>>20)
}

// TestPatternCacheBounded: patterns computed from the row are compiled
// once each while they recur, and the cache keeps at most its size.
func TestPatternCacheBounded(t *testing.T) {
	f, err := Compile(`"x" + comm matches "^x" + comm`)
	if err != nil {
		t.Fatal(err)
	}
	r := row("10.1.2.3")
	for i := range 100 {
		r.Comm = fmt.Sprintf("p%d", i%40)
		if ok, err := f.Match(r); !ok || err != nil {
			t.Fatalf("Match on comm %s = %v, %v", r.Comm, ok, err)
		}
	}
	if n := f.patterns.order.Len(); n != patternCacheSize || len(f.patterns.byKey) != n {
		t.Errorf("cache holds %d (%d keys), want %d", n, len(f.patterns.byKey), patternCacheSize)
	}
	if _, ok := f.patterns.byKey["^xp19"]; !ok { // the last one
		t.Error("the most recent pattern was evicted")
	}
}
