package deploytest

import (
	"io/fs"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/tcptop/tcptop/internal/testnet"
)

// installed are the files `make install` puts under PREFIX, where
// distributions keep them, with their modes; recipes adds docs/recipes.
var installed = map[string]fs.FileMode{
	"bin/tcptop":                                  0o755,
	"share/man/man1/tcptop.1":                     0o644,
	"share/bash-completion/completions/tcptop":    0o644,
	"share/zsh/site-functions/_tcptop":            0o644,
	"share/fish/vendor_completions.d/tcptop.fish": 0o644,
	"lib/systemd/system/tcptop.service":           0o644,
	"share/doc/tcptop/fields.md":                  0o644,
	"share/doc/tcptop/fields-otel-ecs.md":         0o644,
	"share/doc/tcptop/security.md":                0o644,
}

// collectorBuild are the files of docs/recipes/otelcol that build the
// collector the recipe is tested with (make test-recipes), not part of
// the recipe.
var collectorBuild = []string{"go.mod", "go.sum", "main.go"}

// wantInstalled is installed plus every file in docs/recipes but the
// collector's build.
func wantInstalled(t *testing.T) []string {
	t.Helper()
	want := slices.Collect(maps.Keys(installed))
	recipes := filepath.Join(repoRoot, "docs/recipes")
	for _, rel := range filesUnder(t, recipes) {
		if filepath.Dir(rel) == "otelcol" && slices.Contains(collectorBuild, filepath.Base(rel)) {
			continue
		}
		want = append(want, "share/doc/tcptop/recipes/"+rel)
	}
	for _, name := range []string{"otel.jq", "ecs.jq", "otelcol/config.yaml", "otelcol/tcptop-file.conf", "otelcol/tcptop.tmpfiles.conf"} {
		if !slices.Contains(want, "share/doc/tcptop/recipes/"+name) {
			t.Errorf("docs/recipes/%s is missing", name)
		}
	}
	slices.Sort(want)
	return want
}

// filesUnder lists the files (not folders) under dir, relative to it.
func filesUnder(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		out = append(out, rel)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(out)
	return out
}

// makeTarget runs make in the repository with variables such as
// PREFIX=... and DESTDIR=....
func makeTarget(t *testing.T, target string, vars ...string) {
	t.Helper()
	args := append([]string{"-s", "-C", repoRoot, target}, vars...)
	if out, err := exec.Command("make", args...).CombinedOutput(); err != nil {
		t.Fatalf("make %s %v: %v\n%s", target, vars, err, out)
	}
}

// uninstalled runs make uninstall and checks that no file is left under
// root, and no folder of tcptop's own.
func uninstalled(t *testing.T, root string, vars ...string) {
	t.Helper()
	makeTarget(t, "uninstall", vars...)
	if left := filesUnder(t, root); len(left) > 0 {
		t.Errorf("make uninstall left %v", left)
	}
	_ = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err == nil && strings.Contains(d.Name(), "tcptop") {
			t.Errorf("make uninstall left %s", path)
		}
		return nil
	})
}

// TestMakeInstallStaged installs as a distribution's package build does,
// PREFIX=/usr staged under DESTDIR, checks each file's place, mode and
// content, then uninstalls.
func TestMakeInstallStaged(t *testing.T) {
	testnet.RequireTool(t, "make")
	stage := t.TempDir()
	vars := []string{"DESTDIR=" + stage, "PREFIX=/usr"}
	makeTarget(t, "install", vars...)
	root := filepath.Join(stage, "usr")
	if got, want := filesUnder(t, root), wantInstalled(t); !slices.Equal(got, want) {
		t.Errorf("make install put\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	for f, mode := range installed {
		if st, err := os.Stat(filepath.Join(root, f)); err == nil && st.Mode().Perm() != mode {
			t.Errorf("%s has mode %v, want %v", f, st.Mode().Perm(), mode)
		}
	}
	unit, err := os.ReadFile(filepath.Join(root, "lib/systemd/system/tcptop.service"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(unit), "\nExecStart=/usr/bin/tcptop --output=ndjson\n") {
		t.Error("the installed unit does not start /usr/bin/tcptop, where PREFIX=/usr put it")
	}
	// The completions are the installed binary's own.
	bin := filepath.Join(root, "bin/tcptop")
	for shell, path := range map[string]string{
		"bash": "share/bash-completion/completions/tcptop",
		"zsh":  "share/zsh/site-functions/_tcptop",
		"fish": "share/fish/vendor_completions.d/tcptop.fish",
	} {
		want, err := exec.Command(bin, "--completion="+shell).Output()
		if err != nil {
			t.Fatalf("installed tcptop --completion=%s: %v", shell, err)
		}
		if got, _ := os.ReadFile(filepath.Join(root, path)); string(got) != string(want) {
			t.Errorf("%s is not what tcptop --completion=%s prints", path, shell)
		}
	}
	checkLinks(t, filepath.Join(root, "share/doc/tcptop"))
	uninstalled(t, stage, vars...)
}

// mdLink is a Markdown link's target, without its #fragment.
var mdLink = regexp.MustCompile(`\]\(([^)#\s]*)[^)]*\)`)

// checkLinks checks that every relative link of the Markdown files
// installed under doc leads to an installed file or folder: the recipes'
// README once linked to the OTel Collector's drop-in and tmpfiles files,
// which install left out. Links out of the docs folder, into the source
// tree's deploy/ (the unit is installed elsewhere, the DaemonSet not at
// all), are the source tree's.
func checkLinks(t *testing.T, doc string) {
	t.Helper()
	for _, md := range filesUnder(t, doc) {
		if filepath.Ext(md) != ".md" {
			continue
		}
		text, err := os.ReadFile(filepath.Join(doc, md))
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range mdLink.FindAllStringSubmatch(string(text), -1) {
			target := filepath.Join(doc, filepath.Dir(md), m[1])
			if m[1] == "" || strings.Contains(m[1], "://") || !strings.HasPrefix(target, doc+"/") {
				continue
			}
			if _, err := os.Stat(target); err != nil {
				t.Errorf("installed %s links to %s, which make install left out", md, m[1])
			}
		}
	}
}

// TestMakeInstallPrefixVerifies installs under a PREFIX of the test's own
// and runs systemd-analyze verify on the installed unit as it is: its
// ExecStart names the installed binary, and the man page its
// Documentation= names is found where man looks under PREFIX.
// (verify --root would need the root's own targets, and its man check
// ignores the root.)
func TestMakeInstallPrefixVerifies(t *testing.T) {
	testnet.RequireTool(t, "make")
	analyze := testnet.RequireTool(t, "systemd-analyze")
	testnet.RequireTool(t, "man")
	prefix := filepath.Join(t.TempDir(), "local")
	vars := []string{"PREFIX=" + prefix}
	makeTarget(t, "install", vars...)
	env := append(os.Environ(), "MANPATH="+filepath.Join(prefix, "share/man"), "SYSTEMD_LOG_COLOR=0")
	verify := exec.Command(analyze, "verify", filepath.Join(prefix, "lib/systemd/system/tcptop.service"))
	verify.Env = env
	if out, err := verify.CombinedOutput(); err != nil || len(out) > 0 {
		t.Errorf("systemd-analyze verify on the installed unit: %v\n%s", err, out)
	}
	uninstalled(t, prefix, vars...)
}
