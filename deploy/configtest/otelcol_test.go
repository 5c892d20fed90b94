package configtest

import (
	"os"
	"regexp"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// TestOTelCollectorManifestMatchesModule: the ocb manifest and the
// hand-written collector module (which `make test-recipes` builds and runs)
// name the same components at the same versions, and every collector
// module of the build is at that one release.
func TestOTelCollectorManifestMatchesModule(t *testing.T) {
	raw, err := os.ReadFile("../../docs/recipes/otelcol/manifest.yaml")
	if err != nil {
		t.Fatal(err)
	}
	type module struct {
		GoMod string `json:"gomod"`
	}
	var manifest struct {
		Dist      map[string]string `json:"dist"`
		Receivers []module          `json:"receivers"`
		Exporters []module          `json:"exporters"`
		Providers []module          `json:"providers"`
	}
	if err := yaml.UnmarshalStrict(raw, &manifest); err != nil {
		t.Fatalf("manifest.yaml: %v", err)
	}
	gomod, err := os.ReadFile("../../docs/recipes/otelcol/go.mod")
	if err != nil {
		t.Fatal(err)
	}
	required := map[string]string{}
	for _, m := range regexp.MustCompile(`(?m)^\s+(\S+) (v\S+)`).FindAllStringSubmatch(string(gomod), -1) {
		required[m[1]] = m[2]
	}
	for _, list := range [][]module{manifest.Receivers, manifest.Exporters, manifest.Providers} {
		for _, m := range list {
			path, version, _ := strings.Cut(m.GoMod, " ")
			if required[path] != version {
				t.Errorf("manifest has %s %s, go.mod %q", path, version, required[path])
			}
		}
	}
	// One release: v0.165.0 for the beta modules, v1.71.0 for the stable ones.
	for path, version := range required {
		if strings.HasPrefix(path, "go.opentelemetry.io/collector") || strings.HasPrefix(path, "github.com/open-telemetry/opentelemetry-collector-contrib") {
			if version != "v0.165.0" && version != "v1.71.0" {
				t.Errorf("%s %s is not of the collector's v0.165.0/v1.71.0 release", path, version)
			}
		}
	}
}
