package configtest

import (
	"bufio"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// section is one [NAME] block of Fluent Bit's classic configuration format:
// "Key Value" lines, keys case-insensitive (kept lowercase here).
type section struct {
	name string
	kv   map[string]string
}

func fluentBitSections(t *testing.T, path string) []section {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var secs []section
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || strings.HasPrefix(line, "#"):
		case strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]"):
			secs = append(secs, section{name: strings.ToUpper(line[1 : len(line)-1]), kv: map[string]string{}})
		case len(secs) == 0:
			t.Fatalf("%s:%d: %q outside a section", path, n, line)
		default:
			k, v, ok := strings.Cut(line, " ")
			if !ok {
				t.Fatalf("%s:%d: %q is not \"Key Value\"", path, n, line)
			}
			k = strings.ToLower(k)
			if _, dup := secs[len(secs)-1].kv[k]; dup {
				t.Errorf("%s:%d: %s set twice", path, n, k)
			}
			secs[len(secs)-1].kv[k] = strings.TrimSpace(v)
		}
	}
	return secs
}

// onlyDocumented fails for keys Fluent Bit does not document for that
// section or plugin.
func onlyDocumented(t *testing.T, where string, kv map[string]string, documented ...string) {
	t.Helper()
	for k := range kv {
		if !slices.Contains(documented, k) {
			t.Errorf("%s: %q is not a documented option", where, k)
		}
	}
}

func TestFluentBitRecipe(t *testing.T) {
	dir := "../../docs/recipes"
	secs := fluentBitSections(t, filepath.Join(dir, "fluent-bit.conf"))
	bySection := map[string]section{}
	for _, s := range secs {
		if _, dup := bySection[s.name]; dup {
			t.Fatalf("two [%s] sections: this check expects one of each", s.name)
		}
		bySection[s.name] = s
	}
	svc, in, out := bySection["SERVICE"].kv, bySection["INPUT"].kv, bySection["OUTPUT"].kv
	// https://docs.fluentbit.io/manual/administration/configuring-fluent-bit/classic-mode/configuration-file
	onlyDocumented(t, "[SERVICE]", svc, "flush", "parsers_file", "log_level", "daemon", "http_server", "storage.path")
	// https://docs.fluentbit.io/manual/input/stdin
	onlyDocumented(t, "[INPUT] stdin", in, "name", "tag", "parser", "buffer_size", "threaded")
	// https://docs.fluentbit.io/manual/pipeline/outputs/standard-output
	onlyDocumented(t, "[OUTPUT] stdout", out, "name", "match", "format", "json_date_key", "json_date_format")
	if in["name"] != "stdin" || in["parser"] == "" {
		t.Fatalf("[INPUT] %v: want the stdin input with a Parser", in)
	}
	if out["match"] != in["tag"] {
		t.Errorf("[OUTPUT] Match %q does not match the input's Tag %q", out["match"], in["tag"])
	}
	parsersFile := filepath.Join(dir, svc["parsers_file"])
	if _, err := os.Stat(parsersFile); err != nil {
		t.Fatalf("Parsers_File %q: %v", svc["parsers_file"], err)
	}

	var parser map[string]string
	for _, s := range fluentBitSections(t, parsersFile) {
		if s.name == "PARSER" && s.kv["name"] == in["parser"] {
			parser = s.kv
		}
	}
	if parser == nil {
		t.Fatalf("no [PARSER] named %q in %s", in["parser"], parsersFile)
	}
	// https://docs.fluentbit.io/manual/pipeline/parsers/configuring-parser
	onlyDocumented(t, "[PARSER]", parser, "name", "format", "time_key", "time_format", "time_keep", "time_offset", "time_strict")
	for k, want := range map[string]string{"format": "json", "time_key": "timestamp", "time_keep": "On"} {
		if !strings.EqualFold(parser[k], want) {
			t.Errorf("[PARSER] %s = %q, want %q", k, parser[k], want)
		}
	}
	if parser["time_format"] != "%Y-%m-%dT%H:%M:%S.%LZ" {
		t.Errorf("Time_Format %q, want %%Y-%%m-%%dT%%H:%%M:%%S.%%LZ", parser["time_format"])
	}
	checkParsesExactly(t, parser["time_format"], map[string]string{"%L": "000000"})
}
