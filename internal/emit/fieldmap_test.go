package emit

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/tcptop/tcptop/internal/conn"
	"github.com/tcptop/tcptop/internal/testnet"
)

var fieldMapDoc = filepath.Join("..", "..", "docs", "fields-otel-ecs.md")

// recipeNames are the jq programs shipped as docs/recipes/NAME.jq.
var recipeNames = []string{"otel", "ecs"}

func recipePath(name string) string {
	return filepath.Join("..", "..", "docs", "recipes", name+".jq")
}

// docRecipe matches the copy of recipes/NAME.jq that the field map shows.
func docRecipe(name string) *regexp.Regexp {
	return regexp.MustCompile("(?s)(<!-- recipes/" + name + "\\.jq -->\n```jq\n)(.*?)(```)")
}

// TestFieldMapJQ runs the shipped jq programs on the golden NDJSON rows,
// followed by a --stats record (which they skip), and compares the
// output with testdata/fieldmap-*.golden.
func TestFieldMapJQ(t *testing.T) {
	jq := testnet.RequireTool(t, "jq")
	var in bytes.Buffer
	w, _ := NewWith("ndjson", &in, Options{})
	for _, rows := range ticks() {
		_ = writeTick(w, 0, rows)
	}
	_ = w.(StatsWriter).Stats(statsFixture())
	_ = w.End()
	for _, name := range recipeNames {
		t.Run(name, func(t *testing.T) {
			cmd := exec.Command(jq, "-c", "-f", recipePath(name))
			cmd.Stdin = bytes.NewReader(in.Bytes())
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("jq: %v: %s", err, out)
			}
			if n := bytes.Count(out, []byte("\n")); n != 11 {
				t.Errorf("%d records, want one per row (11)", n)
			}
			path := filepath.Join("testdata", "fieldmap-"+name+".golden")
			if *update {
				golden(t, "fieldmap-"+name+".golden", string(out))
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			// Compared as JSON values: jq 1.6 writes 2^63-1 as a double
			// (9223372036854776000), jq 1.7 as it read it; both decode
			// to the same number, and keys and every other value must
			// match exactly.
			if !equalJSONLines(t, out, want) {
				t.Errorf("jq output differs from %s (go test ./internal/emit -update rewrites it):\n%s", path, out)
			}
		})
	}
}

// TestFieldMapShowsRecipes: the field map shows each shipped program as
// the file has it, so a reader who copies it gets the tested one. With
// -update it copies the files into the page.
func TestFieldMapShowsRecipes(t *testing.T) {
	doc, err := os.ReadFile(fieldMapDoc)
	if err != nil {
		t.Fatal(err)
	}
	text := string(doc)
	for _, name := range recipeNames {
		prog, err := os.ReadFile(recipePath(name))
		if err != nil {
			t.Fatal(err)
		}
		re := docRecipe(name)
		m := re.FindStringSubmatch(text)
		switch {
		case m == nil:
			t.Errorf("%s does not show recipes/%s.jq (a <!-- recipes/%s.jq --> line, then a jq block)", fieldMapDoc, name, name)
		case *update:
			text = re.ReplaceAllLiteralString(text, m[1]+string(prog)+m[3])
		case m[2] != string(prog):
			t.Errorf("%s shows a recipes/%s.jq that differs from the file (go test ./internal/emit -update copies it)", fieldMapDoc, name)
		}
	}
	if *update && text != string(doc) {
		if err := os.WriteFile(fieldMapDoc, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// TestFieldMapComplete: the field map has a line for every field, so a
// new field cannot be left out of it.
func TestFieldMapComplete(t *testing.T) {
	doc, err := os.ReadFile(fieldMapDoc)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range conn.FieldNames() {
		if !strings.Contains(string(doc), "\n| `"+name+"` | ") {
			t.Errorf("%s has no line for %s", fieldMapDoc, name)
		}
	}
}

// equalJSONLines compares two streams of JSON lines value by value.
func equalJSONLines(t *testing.T, got, want []byte) bool {
	t.Helper()
	g, w := strings.Split(strings.TrimSpace(string(got)), "\n"), strings.Split(strings.TrimSpace(string(want)), "\n")
	if len(g) != len(w) {
		return false
	}
	for i := range g {
		var a, b any
		if err := json.Unmarshal([]byte(g[i]), &a); err != nil {
			t.Fatalf("line %d is not JSON: %v", i+1, err)
		}
		if err := json.Unmarshal([]byte(w[i]), &b); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(a, b) {
			t.Errorf("line %d:\n got %s\nwant %s", i+1, g[i], w[i])
			return false
		}
	}
	return true
}
