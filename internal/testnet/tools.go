package testnet

import (
	"os"
	"os/exec"
	"testing"
)

// RequireTool finds a program a test drives and returns its path.
// scripts/deps.sh installs the tools the tests use, so in CI (CI=true) a
// missing one is a failure; elsewhere the test is skipped.
func RequireTool(t testing.TB, name string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err == nil {
		return path
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s not installed (scripts/deps.sh test installs it)", name)
	}
	t.Skipf("%s not installed", name)
	return ""
}
