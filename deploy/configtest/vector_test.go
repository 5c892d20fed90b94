package configtest

import (
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// Options of Vector's exec source and of its streaming block, as documented
// (https://vector.dev/docs/reference/configuration/sources/exec/).
var (
	vectorExecOptions = []string{"type", "command", "mode", "scheduled", "streaming", "include_stderr",
		"maximum_buffer_size_bytes", "working_directory", "environment", "clear_environment", "framing", "decoding"}
	vectorStreamingOptions = []string{"respawn_on_exit", "respawn_interval_secs"}
)

type vectorConfig struct {
	Sources    map[string]map[string]any `json:"sources"`
	Transforms map[string]map[string]any `json:"transforms"`
	Sinks      map[string]map[string]any `json:"sinks"`
}

func TestVectorRecipe(t *testing.T) {
	raw, err := os.ReadFile("../../docs/recipes/vector.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var cfg vectorConfig
	if err := yaml.UnmarshalStrict(raw, &cfg); err != nil {
		t.Fatalf("vector.yaml: %v", err)
	}
	src, ok := cfg.Sources["tcptop"]
	if !ok || src["type"] != "exec" {
		t.Fatalf("want an exec source named tcptop, got %v", cfg.Sources)
	}
	for k := range src {
		if !slices.Contains(vectorExecOptions, k) {
			t.Errorf("exec source option %q is not one Vector documents", k)
		}
	}
	cmd, _ := src["command"].([]any)
	if len(cmd) < 2 || cmd[0] != "tcptop" || !slices.Contains(cmd, any("--output=ndjson")) {
		t.Errorf("command %v: want tcptop --output=ndjson", cmd)
	}
	if src["mode"] != "streaming" {
		t.Errorf("mode %v: tcptop runs until stopped, want streaming", src["mode"])
	}
	streaming, _ := src["streaming"].(map[string]any)
	for k := range streaming {
		if !slices.Contains(vectorStreamingOptions, k) {
			t.Errorf("streaming option %q is not one Vector documents", k)
		}
	}
	if streaming["respawn_on_exit"] != true {
		t.Errorf("streaming.respawn_on_exit %v, want true", streaming["respawn_on_exit"])
	}
	// tcptop's own lines (stderr) must reach the pipeline: without them a
	// tcptop that cannot start (Vector's packaged user is not root) is
	// restarted every respawn_interval_secs without a word. They are not
	// JSON, so lines are decoded as bytes and only stdout's parsed.
	if src["include_stderr"] != true {
		t.Errorf("include_stderr %v, want true", src["include_stderr"])
	}
	if codec := nested(src, "decoding", "codec"); codec != "bytes" {
		t.Errorf("decoding.codec %v, want bytes (stderr lines are not JSON)", codec)
	}
	if !regexp.MustCompile(`setcap cap_bpf,cap_perfmon,cap_net_admin\+ep /usr/local/bin/tcptop`).Match(raw) {
		t.Error("vector.yaml does not say how tcptop, run as Vector's user, gets its capabilities (setcap ...)")
	}
	if method := nested(src, "framing", "method"); method != "newline_delimited" {
		t.Errorf("framing.method %v, want newline_delimited", method)
	}

	// A remap that reads tcptop's inputs and parses its timestamp exactly.
	var remap string
	for name, tr := range cfg.Transforms {
		if tr["type"] == "remap" && slices.Contains(tr["inputs"].([]any), any("tcptop")) {
			remap = name
			checkVRLTimestamp(t, tr["source"].(string))
			checkVRLStreams(t, tr["source"].(string))
		}
	}
	if remap == "" {
		t.Fatal("no remap transform reading the tcptop source")
	}
	fed := false
	for _, s := range cfg.Sinks {
		if in, ok := s["inputs"].([]any); ok && slices.Contains(in, any(remap)) {
			fed = true
		}
	}
	if !fed {
		t.Errorf("no sink takes the %s transform's events", remap)
	}
}

// checkVRLTimestamp finds parse_timestamp on .timestamp and checks its
// chrono format reads tcptop's timestamp to the microsecond, in UTC.
func checkVRLTimestamp(t *testing.T, source string) {
	t.Helper()
	m := regexp.MustCompile(`\.timestamp = parse_timestamp!\(\.timestamp, format: "([^"]+)", timezone: "([^"]+)"\)`).FindStringSubmatch(source)
	if m == nil {
		t.Fatalf("remap source does not parse .timestamp with a format and a timezone:\n%s", source)
	}
	if m[2] != "UTC" {
		t.Errorf("timezone %q, want UTC", m[2])
	}
	checkParsesExactly(t, m[1], map[string]string{"%.6f": ".000000"})
}

// checkVRLStreams checks that the remap parses a line as a record only
// when it came from stdout, and makes the record the event.
func checkVRLStreams(t *testing.T, source string) {
	t.Helper()
	if !regexp.MustCompile(`(?s)if \.stream != "stderr" \{\s*\. = merge\(object!\(parse_json!\(\.message\)\), \{"host": \.host\}\)`).MatchString(source) {
		t.Errorf("remap source does not parse stdout's lines alone (if .stream != \"stderr\" { . = merge(object!(parse_json!(.message)), {\"host\": .host}) ...}):\n%s", source)
	}
}

func nested(m map[string]any, keys ...string) any {
	var v any = m
	for _, k := range keys {
		mm, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = mm[k]
	}
	return v
}

// TestReadmeVectorExample: the README's Vector example names a file that
// exists.
func TestReadmeVectorExample(t *testing.T) {
	raw, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`vector --config (\S+)`).FindAllStringSubmatch(string(raw), -1)
	if len(m) == 0 {
		t.Fatal("README has no vector --config example")
	}
	for _, c := range m {
		if _, err := os.Stat("../../" + strings.TrimSpace(c[1])); err != nil {
			t.Errorf("README runs vector --config %s, which does not exist", c[1])
		}
	}
}
