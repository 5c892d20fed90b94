package cli

import (
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

const module = "github.com/tcptop/tcptop/"

// TestArchitectureNamesRealPackages keeps docs/architecture.md current:
// every package it names exists, every package of internal/ is in its
// table, and each package imports nothing its "must not import" column
// forbids.
func TestArchitectureNamesRealPackages(t *testing.T) {
	doc, err := os.ReadFile("../../docs/architecture.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range regexp.MustCompile(`\b(internal/[a-z0-9]+|cmd/[a-z0-9]+)\b`).FindAllString(string(doc), -1) {
		if !isPackage(t, m) {
			t.Errorf("docs/architecture.md names %s, which has no Go files", m)
		}
	}
	rules := tableRules(string(doc))
	dirs, err := filepath.Glob("../../internal/*")
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range dirs {
		if name := "internal/" + filepath.Base(d); isPackage(t, name) {
			if _, ok := rules[name]; !ok {
				t.Errorf("docs/architecture.md's table lacks %s", name)
			}
		}
	}
	for pkg, forbidden := range rules {
		for _, imp := range imports(t, pkg) {
			if slices.ContainsFunc(forbidden, func(f func(string) bool) bool { return f(imp) }) {
				t.Errorf("%s imports %s, which docs/architecture.md forbids it", pkg, imp)
			}
		}
	}
}

// tableRules reads the package table: for each package (first column),
// a test per import it must not have (last column).
func tableRules(doc string) map[string][]func(string) bool {
	rules := map[string][]func(string) bool{}
	row := regexp.MustCompile("(?m)^\\| `((?:internal|cmd)/[a-z0-9]+)` \\|.*\\| ([^|]*) \\|$")
	quoted := regexp.MustCompile("`([^`]+)`")
	for _, m := range row.FindAllStringSubmatch(doc, -1) {
		pkg, col := m[1], m[2]
		var tests []func(string) bool
		switch {
		case strings.HasPrefix(col, "everything internal"):
			tests = append(tests, func(imp string) bool { return strings.HasPrefix(imp, module+"internal/") })
		case strings.HasPrefix(col, "anything but"):
			allowed := module + quoted.FindStringSubmatch(col)[1]
			tests = append(tests, func(imp string) bool { return strings.HasPrefix(imp, module) && imp != allowed })
		default:
			for _, q := range quoted.FindAllStringSubmatch(col, -1) {
				name := q[1]
				if !strings.Contains(name, "/") {
					name = "internal/" + name
				}
				if !strings.HasPrefix(name, "internal/") {
					tests = append(tests, func(imp string) bool { return strings.HasPrefix(imp, "github.com/"+name) })
				} else {
					tests = append(tests, func(imp string) bool { return imp == module+name })
				}
			}
		}
		rules[pkg] = tests
	}
	return rules
}

// isPackage reports whether dir (from the module's root) holds Go files.
func isPackage(t *testing.T, dir string) bool {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("../..", dir, "*.go"))
	if err != nil {
		t.Fatal(err)
	}
	return len(files) > 0
}

// imports lists what the package's non-test files import.
func imports(t *testing.T, dir string) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("../..", dir, "*.go"))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		file, err := parser.ParseFile(token.NewFileSet(), f, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range file.Imports {
			p, err := strconv.Unquote(imp.Path.Value)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, p)
		}
	}
	return out
}
