# tcptop build, test and code generation. `make help` lists the targets.
GO      ?= go
BIN     ?= bin/tcptop
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X github.com/tcptop/tcptop/internal/cli.Version=$(VERSION)

.PHONY: help build man completions install uninstall image test fuzz test-recipes test-vm deps generate check-generate bench bench-scale soak clean

help:
	@echo "build           build $(BIN), static, version stamped (no clang needed: the eBPF object is committed)"
	@echo "man             write the man page bin/tcptop.1"
	@echo "completions     write bash, zsh and fish completion scripts to bin/completions/"
	@echo "install         install the binary, man page, completions, systemd unit and recipes"
	@echo "                under PREFIX (/usr/local), staged under DESTDIR if given"
	@echo "uninstall       remove what install put there (same PREFIX and DESTDIR)"
	@echo "image           build the FROM scratch container image with podman (tcptop:VERSION, tcptop:latest)"
	@echo "test            run all tests; as root the kernel tests load the probes for real"
	@echo "fuzz            run each fuzz target for FUZZTIME (default 10s)"
	@echo "test-recipes    build an OpenTelemetry Collector and test the recipe with it (a few minutes)"
	@echo "test-vm         run the kernel tests in each VM kernel of scripts/kernels.conf under qemu"
	@echo "                (KERNEL=5.10 for one, KERNEL=all adds the host's line)"
	@echo "generate        rebuild the eBPF object and Go bindings with clang-19"
	@echo "check-generate  fail if the committed eBPF files differ from a fresh build"
	@echo "bench           run the benchmarks (ratios against in-run baselines)"
	@echo "soak            tcptop for DURATION (10m) under a mixed load of known byte counts (root)"
	@echo "bench-scale     tcptop against ss at 10,000 and 50,000 held connections (root, minutes)"

# Static (no cgo, no dynamic loader), so the same file runs on any
# distribution and in a FROM scratch image.
build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/tcptop

man:
	@mkdir -p bin
	$(GO) run -ldflags "$(LDFLAGS)" ./internal/cli/mangen > bin/tcptop.1

completions: build
	@mkdir -p bin/completions
	$(BIN) --completion=bash > bin/completions/tcptop.bash
	$(BIN) --completion=zsh > bin/completions/_tcptop
	$(BIN) --completion=fish > bin/completions/tcptop.fish

# Where distributions put each file. PREFIX=/usr for a package, whose
# build stages the tree under DESTDIR; systemd also reads units from
# /usr/local/lib/systemd/system, so the default needs no other setting.
PREFIX  ?= /usr/local
BINDIR  ?= $(PREFIX)/bin
DATADIR ?= $(PREFIX)/share
MANDIR  ?= $(DATADIR)/man
DOCDIR  ?= $(DATADIR)/doc/tcptop
UNITDIR ?= $(PREFIX)/lib/systemd/system

# The data files install puts in place, as source:destination. The docs
# go with the recipes, whose links lead to them: the OTel Collector's
# drop-in and tmpfiles files too (its Go sources are the collector's
# build, not a recipe).
DOCS := docs/fields.md docs/fields-otel-ecs.md docs/security.md \
	$(wildcard docs/recipes/*.* docs/recipes/otelcol/*.yaml docs/recipes/otelcol/*.conf)
INSTALL_DATA := \
	bin/tcptop.1:$(MANDIR)/man1/tcptop.1 \
	bin/completions/tcptop.bash:$(DATADIR)/bash-completion/completions/tcptop \
	bin/completions/_tcptop:$(DATADIR)/zsh/site-functions/_tcptop \
	bin/completions/tcptop.fish:$(DATADIR)/fish/vendor_completions.d/tcptop.fish \
	$(foreach f,$(DOCS),$(f):$(DOCDIR)/$(f:docs/%=%))

# The unit names the binary where this install puts it.
install: build man completions
	install -D -m 0755 $(BIN) $(DESTDIR)$(BINDIR)/tcptop
	@set -e; for p in $(INSTALL_DATA); do \
		echo "install -D -m 0644 $${p%%:*} $(DESTDIR)$${p#*:}"; \
		install -D -m 0644 "$${p%%:*}" "$(DESTDIR)$${p#*:}"; \
	done
	install -d $(DESTDIR)$(UNITDIR)
	sed 's|^ExecStart=/usr/local/bin/tcptop |ExecStart=$(BINDIR)/tcptop |' deploy/systemd/tcptop.service \
		> $(DESTDIR)$(UNITDIR)/tcptop.service
	@grep -q '^ExecStart=$(BINDIR)/tcptop ' $(DESTDIR)$(UNITDIR)/tcptop.service || \
		(echo "install: the unit's ExecStart is not /usr/local/bin/tcptop: update the Makefile" >&2; exit 1)
	chmod 0644 $(DESTDIR)$(UNITDIR)/tcptop.service

# Removes the files, then tcptop's own folders if nothing else is in them.
uninstall:
	rm -f $(DESTDIR)$(BINDIR)/tcptop $(DESTDIR)$(UNITDIR)/tcptop.service
	@for p in $(INSTALL_DATA); do echo "rm -f $(DESTDIR)$${p#*:}"; rm -f "$(DESTDIR)$${p#*:}"; done
	-rmdir $(DESTDIR)$(DOCDIR)/recipes/otelcol $(DESTDIR)$(DOCDIR)/recipes $(DESTDIR)$(DOCDIR) 2>/dev/null

# The image holds the static binary only; podman builds it offline. It is
# tagged with the version and as latest, the tag deploy/kubernetes names.
image: build
	podman build -f deploy/container/Containerfile --build-arg VERSION=$(VERSION) \
		-t tcptop:$(VERSION) -t tcptop:latest $(dir $(BIN))

# Kernel tests share the host's probes and traffic: one package at a time.
# Without cgo, as the release is built: dropping privileges changes every
# thread at once, which a cgo build cannot (internal/privs).
# deploy/configtest is a module of its own (it needs k8s.io/api).
# TESTFLAGS: more go test flags (.ci/run passes -v: the host's line of
# the kernel matrix reports that run, VM_HOST_LOG in scripts/vm-test.sh).
TESTFLAGS ?=
test: deps
	$(GO) vet ./...
	CGO_ENABLED=0 $(GO) test -p 1 -count=1 $(TESTFLAGS) ./...
	cd deploy/configtest && $(GO) vet ./... && $(GO) test -count=1 ./...

# Every fuzz target (func FuzzXxx in a _test.go file) for FUZZTIME each:
# go test -fuzz takes one target at a time. make test runs their seeds,
# testdata/fuzz/FuzzXxx/, as ordinary tests; an input that fails is
# written there too, to be fixed and committed as a regression seed.
# Go before 1.27 may fail a target that found nothing with "context
# deadline exceeded" when -fuzztime ends while a worker is mid-input on a
# loaded machine (golang/go#75804, fixed in 1.27): fuzzing runs on
# FUZZ_TOOLCHAIN, which the go command fetches from the module proxy once.
FUZZTIME ?= 10s
FUZZ_TOOLCHAIN ?= go1.27.3
fuzz:
	@set -e; for dir in $$(grep -l '^func Fuzz' $$(find internal -name '*_test.go') | xargs -n1 dirname | sort -u); do \
		for name in $$(grep -ho '^func Fuzz[A-Za-z0-9_]*' $$dir/*_test.go | cut -d' ' -f2); do \
			echo "== $$name ($$dir, $(FUZZTIME))"; \
			GOTOOLCHAIN=$(FUZZ_TOOLCHAIN) CGO_ENABLED=0 $(GO) test ./$$dir -run '^$$' -fuzz "^$$name\$$" -fuzztime $(FUZZTIME); \
		done; \
	done

# The collector (docs/recipes/otelcol, its own module) takes minutes of CPU
# to build; the binary is kept in .cache/ until its sources change.
OTELCOL := .cache/otelcol-tcptop
$(OTELCOL): docs/recipes/otelcol/main.go docs/recipes/otelcol/go.mod docs/recipes/otelcol/go.sum
	@mkdir -p $(dir $@)
	cd docs/recipes/otelcol && CGO_ENABLED=0 nice -n 19 $(GO) build -trimpath -o $(CURDIR)/$@ .

test-recipes: deps $(OTELCOL)
	OTELCOL_BIN=$(CURDIR)/$(OTELCOL) $(GO) test -count=1 -v -run 'OTel' ./internal/deploytest

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

# A long run under mixed load of known byte counts (not in CI):
# DURATION=10m; the figures go into docs/reliability.md.
DURATION ?= 10m
soak: build
	$(GO) run ./tools/soak -tcptop $(BIN) -duration $(DURATION)

# Holds N established loopback connections (1% active) and measures
# tcptop's CPU per tick and memory against ss on them: SIZES=10000,50000.
SIZES ?= 10000,50000
bench-scale: build
	$(GO) run ./tools/bench-scale -tcptop $(BIN) -n $(SIZES)

clean:
	rm -rf bin .vm .cache
