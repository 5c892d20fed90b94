package source

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cilium/ebpf/btf"
)

// A kernel without BTF is named as such, with the file tcptop looked for.
func TestNoKernelBTFNamesTheFile(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "vmlinux")
	_, err := loadKernelBTF(missing, btf.NewCache())
	if !errors.Is(err, ErrKernel) || !strings.Contains(err.Error(), missing) || !strings.Contains(err.Error(), "BTF") {
		t.Errorf("got %v, want an ErrKernel naming BTF and %s", err, missing)
	}
}

func TestUnknownHookPathRejected(t *testing.T) {
	if _, err := pathOrder("ebpf-magic"); err == nil || !strings.Contains(err.Error(), `"ebpf-magic"`) {
		t.Errorf("got %v", err)
	}
	order, err := pathOrder("")
	if err != nil || strings.Join(order, ",") != "tracepoint,fexit,kprobe" {
		t.Errorf("auto order %v, %v", order, err)
	}
}

func TestPrintableEscapesWhatATerminalOrAParserWouldChokeOn(t *testing.T) {
	for in, want := range map[string]string{
		"nginx":           "nginx",
		"käse":            "käse",
		"a b":             "a b",
		"tab\there":       `tab\x09here`,
		"\x1b[31mred":     `\x1b[31mred`,
		"bad\xff\xfeutf8": `bad\xff\xfeutf8`,
		`back\slash`:      `back\x5cslash`,
		"new\nline\r":     `new\x0aline\x0d`,
		"del\x7f":         `del\x7f`,
		"c1\u0085control": `c1\xc2\x85control`,
	} {
		if got := printable([]byte(in)); got != want {
			t.Errorf("printable(%q) = %q, want %q", in, got, want)
		}
	}
}
