package cli

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestREADMEListsEveryFlag: the README's options list names every flag
// (--help aside).
func TestREADMEListsEveryFlag(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile("(?s)\n## Options\n+```\n(.*?)```").FindSubmatch(readme)
	if m == nil {
		t.Fatal("README has no options list (## Options, then a code block)")
	}
	for _, f := range flagSpecs(model(t, &Options{}).Model) {
		if f.long == "help" {
			continue
		}
		if !regexp.MustCompile(`--` + regexp.QuoteMeta(f.long) + `(=|\s)`).Match(m[1]) {
			t.Errorf("README's options list lacks --%s", f.long)
		}
	}
}

// TestHelpRunsShippersAsTheirRecipes: a log shipper that an example in
// --help uses is run the way its recipe in docs/recipes says, with that
// recipe: piped into when the recipe reads tcptop's output on stdin, run
// alone when the recipe runs tcptop itself (Vector's exec source).
func TestHelpRunsShippersAsTheirRecipes(t *testing.T) {
	recipes, err := filepath.Glob("../../docs/recipes/*")
	if err != nil {
		t.Fatal(err)
	}
	runLine := regexp.MustCompile(`(?m)^#   (?:tcptop .*\| )?([a-z-]+) .*(docs/recipes/\S+)$`)
	shippers := 0
	for _, path := range recipes {
		b, err := os.ReadFile(path)
		if err != nil {
			continue // a directory of recipes (otelcol) names no one command
		}
		m := runLine.FindStringSubmatch(string(b))
		if m == nil || !strings.Contains(description, m[1]+" ") {
			continue
		}
		shippers++
		shipper, piped := m[1], strings.Contains(m[0], "| "+m[1])
		for _, line := range strings.Split(description, "\n") {
			if !regexp.MustCompile(`(^|\s)` + shipper + ` `).MatchString(line) {
				continue
			}
			if strings.Contains(line, "| "+shipper) != piped || !strings.Contains(line, m[2]) {
				t.Errorf("--help runs %s as %q; its recipe runs it as %q", shipper, strings.TrimSpace(line), m[0][4:])
			}
		}
	}
	if shippers == 0 {
		t.Error("--help shows no shipper of docs/recipes")
	}
}

// TestDesignOpeningNamesRealFiles: the pipeline that opens docs/design.md
// names files as "internal/PKG (a.go, b.go)"; each is in that package
// (the loop moved to internal/run and the text still said internal/cli).
func TestDesignOpeningNamesRealFiles(t *testing.T) {
	doc, err := os.ReadFile("../../docs/design.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, _ := strings.Cut(string(doc), "\n## ")
	opening, _, _ := strings.Cut(rest, "\n## ")
	names := regexp.MustCompile(`(internal/[a-z0-9]+) \(([a-z0-9_]+\.go(?:, [a-z0-9_]+\.go)*)\)`).FindAllStringSubmatch(opening, -1)
	if len(names) == 0 {
		t.Fatal("docs/design.md's first section names no files of the tick loop")
	}
	for _, m := range names {
		for f := range strings.SplitSeq(m[2], ", ") {
			if _, err := os.Stat(filepath.Join("../..", m[1], f)); err != nil {
				t.Errorf("docs/design.md's pipeline names %s/%s, which does not exist", m[1], f)
			}
		}
	}
}
