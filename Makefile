# tcptop build, test and code generation. `make help` lists the targets.
GO      ?= go
BIN     ?= bin/tcptop
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X github.com/tcptop/tcptop/internal/cli.Version=$(VERSION)

.PHONY: help build test test-vm deps generate check-generate bench clean

help:
	@echo "build           build $(BIN) (no clang needed: the eBPF object is committed)"
	@echo "test            run all tests; as root the kernel tests load the probes for real"
	@echo "test-vm         run the kernel tests in each VM kernel of scripts/kernels.conf under qemu"
	@echo "                (KERNEL=5.10 for one, KERNEL=all adds the host's line)"
	@echo "generate        rebuild the eBPF object and Go bindings with clang-19"
	@echo "check-generate  fail if the committed eBPF files differ from a fresh build"
	@echo "bench           run the benchmarks (ratios against in-run baselines)"

build:
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/tcptop

# Kernel tests share the host's probes and traffic: one package at a time.
test: deps
	$(GO) vet ./...
	$(GO) test -p 1 -count=1 ./...

# The kernel matrix (scripts/kernels.conf): boots each Debian kernel under
# qemu (TCG) with the kernel tests, forcing every hook path it offers.
# KERNEL=name runs one; KERNEL=all adds the host kernel's line.
KERNEL ?=
test-vm:
	./scripts/vm-test.sh $(KERNEL)

deps:
	@./scripts/deps.sh test

generate:
	@./scripts/deps.sh generate
	cd internal/source && $(GO) generate

check-generate: generate
	git diff --exit-code -- internal/source bpf || \
		(echo "generated eBPF files are stale: run make generate and commit" >&2; exit 1)

bench:
	$(GO) test -p 1 -run '^$$' -bench . -benchmem ./internal/...

clean:
	rm -rf bin .vm
