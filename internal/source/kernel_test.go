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
