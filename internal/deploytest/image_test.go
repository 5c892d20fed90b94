package deploytest

import (
	"debug/elf"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestStaticVersionedBuild checks what `make build` ships: a binary with no
// dynamic loader and no shared libraries (so it runs on any distribution and
// FROM scratch), and the version git describes rather than "dev".
func TestStaticVersionedBuild(t *testing.T) {
	f, err := elf.Open(tcptopBin)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP || p.Type == elf.PT_DYNAMIC {
			t.Errorf("the binary has a %v segment: it is dynamically linked", p.Type)
		}
	}
	if libs, _ := f.ImportedLibraries(); len(libs) > 0 {
		t.Errorf("the binary needs shared libraries %v", libs)
	}
	out, err := exec.Command(tcptopBin, "--version").Output()
	if err != nil {
		t.Fatal(err)
	}
	want := "dev"
	if d, err := exec.Command("git", "-C", repoRoot, "describe", "--tags", "--always", "--dirty").Output(); err == nil {
		want = strings.TrimSpace(string(d))
	}
	if got := strings.TrimSpace(string(out)); got != "tcptop "+want || want == "dev" {
		t.Errorf("--version printed %q, want the version stamped from git (%q)", got, "tcptop "+want)
	}
}

// containerfile is the instructions of the container recipe, one per
// logical line (continuations joined), as instruction → arguments.
func containerfile(t *testing.T) [][2]string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(repoRoot, "deploy/container/Containerfile"))
	if err != nil {
		t.Fatal(err)
	}
	var out [][2]string
	text := strings.ReplaceAll(string(raw), "\\\n", " ")
	for _, l := range strings.Split(text, "\n") {
		l = strings.TrimSpace(l)
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		ins, args, _ := strings.Cut(l, " ")
		out = append(out, [2]string{strings.ToUpper(ins), strings.TrimSpace(args)})
	}
	return out
}

// TestContainerfile checks the image recipe: FROM scratch, the static
// binary copied from the build context (bin/, where make build puts it),
// run as the entrypoint with NDJSON output by default.
func TestContainerfile(t *testing.T) {
	var froms, copies []string
	var entrypoint, cmd []string
	for _, in := range containerfile(t) {
		switch in[0] {
		case "FROM":
			froms = append(froms, in[1])
		case "COPY", "ADD":
			copies = append(copies, in[1])
		case "ENTRYPOINT":
			if err := json.Unmarshal([]byte(in[1]), &entrypoint); err != nil {
				t.Errorf("ENTRYPOINT %s: want the exec (JSON) form: a scratch image has no shell", in[1])
			}
		case "CMD":
			if err := json.Unmarshal([]byte(in[1]), &cmd); err != nil {
				t.Errorf("CMD %s: want the exec (JSON) form", in[1])
			}
		}
	}
	if !slices.Equal(froms, []string{"scratch"}) {
		t.Errorf("FROM %v, want only scratch", froms)
	}
	if len(copies) != 1 || len(strings.Fields(copies[0])) != 2 {
		t.Fatalf("want one COPY of the binary, got %v", copies)
	}
	src, dst := strings.Fields(copies[0])[0], strings.Fields(copies[0])[1]
	if src != "tcptop" {
		t.Errorf("COPY takes %q, want tcptop (the build context is make's bin/)", src)
	}
	if len(entrypoint) != 1 || entrypoint[0] != dst {
		t.Errorf("ENTRYPOINT %v, want [%q], the copied binary", entrypoint, dst)
	}
	if !slices.Contains(cmd, "--output=ndjson") {
		t.Errorf("CMD %v, want --output=ndjson for the node's log agent", cmd)
	}
	mk, err := os.ReadFile(filepath.Join(repoRoot, "Makefile"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(mk), "-f deploy/container/Containerfile") || !strings.Contains(string(mk), "$(dir $(BIN))") {
		t.Error("make image should build deploy/container/Containerfile with the binary's folder as context")
	}
}
