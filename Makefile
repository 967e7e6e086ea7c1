# sparkhub — build and test entry points. `make test` is what CI runs.
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

VENV := .venv
PYTHON := $(VENV)/bin/python
CARGO ?= cargo
WITH_EMULATOR := tests/emulator/with-emulator
SHELL_SCRIPTS := shared/core/src/scripts/*.sh shared/tests/golden/*.sh $(WITH_EMULATOR) .ci/run

.PHONY: help test build test-hubs demo tools venv venv-checkov venv-lambda venv-jupyterhub npm shellcheck chromium fmt-check clippy test-rust check-asl check-shell check-infra generate emulator clean

help: ## Show the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

# The tools install while cargo compiles (pip and npm mostly wait on the
# network and the disk; the build keeps both cores busy), each target's
# output printed when it is done.
test: fmt-check ## Everything CI checks: format, lints, unit + emulator tests, the demo, ASL, shell and infra checks
	@echo "make test: tools and build, side by side"
	@$(MAKE) --no-print-directory -j2 --output-sync=target tools build
	@echo "make test: the tests, side by side"
	@$(MAKE) --no-print-directory -j2 --output-sync=target test-rust test-hubs check-asl check-shell check-infra
	@echo "make test: all checks passed"

tools: venv venv-checkov venv-lambda venv-jupyterhub npm shellcheck chromium ## Install the test tools this machine lacks

venv: $(VENV)/.installed ## Python venv with the pinned emulator
$(VENV)/.installed: requirements-dev.txt
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

venv-lambda: .venv-lambda/.installed
.venv-lambda/.installed: requirements-lambda.txt
	python3 -m venv .venv-lambda
	.venv-lambda/bin/pip install --quiet --disable-pip-version-check -r requirements-lambda.txt
	touch $@

# Real JupyterHubs for the tests of the on-cluster scripts: the version EMR 7
# ships and the current 5.x, each in its own venv (their pins conflict).
venv-jupyterhub: .venv-jupyterhub/.installed .venv-jupyterhub5/.installed ## Python venvs with the pinned JupyterHubs the tests start
.venv-jupyterhub/.installed: requirements-jupyterhub.txt
	python3 -m venv .venv-jupyterhub
	.venv-jupyterhub/bin/pip install --quiet --disable-pip-version-check -r requirements-jupyterhub.txt
	touch $@
.venv-jupyterhub5/.installed: requirements-jupyterhub5.txt
	python3 -m venv .venv-jupyterhub5
	.venv-jupyterhub5/bin/pip install --quiet --disable-pip-version-check -r requirements-jupyterhub5.txt
	touch $@

# One cargo build for the lints, the tests, the demo and its functions:
# clippy-driver compiles the workspace's own crates (as RUSTC_WORKSPACE_WRAPPER,
# with -D warnings: the lints of `cargo clippy --all-targets`, and the code it
# emits is rustc's), and `--all-targets` resolves one set of features for the
# test executables and the binaries alike, so `cargo test`, the demo, the CLI
# it runs and the three functions reuse every crate of it: the AWS SDK is
# compiled once, not once for clippy, once for the tests and once more for
# the binaries.
# (Only for these targets: `make generate` builds without the lints.) The
# binaries are built with the dev-dependencies' features too (the AWS SDK's
# test-util, serde_json's preserve_order), so the demo's functions are those
# of the tests, not byte for byte what `sam build` ships.
build test-rust test-hubs demo: export RUSTC_WORKSPACE_WRAPPER := clippy-driver
build test-rust test-hubs demo: export CLIPPY_ARGS := -D__CLIPPY_HACKERY__warnings__CLIPPY_HACKERY__
TARGET_DIR ?= $(or $(CARGO_TARGET_DIR),target)
# A clean build gains nothing from incremental compilation's caches.
ifeq ($(CI),true)
export CARGO_INCREMENTAL := 0
endif

# The demo runs with an emulator of its own (in test-rust too): the tutorial
# profile keeps its name, and no cluster another test left counts against it.
# KEEP=1 keeps its files (the report's HTML page) and prints where they are.
DEMO := PATH="$(CURDIR)/.venv-lambda/bin:$$PATH" $(TARGET_DIR)/debug/demo$(if $(KEEP), --keep)

demo: build venv venv-lambda chromium ## The whole life of a cluster, locally: emulator, the three functions under cargo lambda watch, the report in a headless Chromium (KEEP=1 keeps the report's page)
	$(WITH_EMULATOR) sh -c '$(DEMO)'

venv-checkov: .venv-checkov/.installed
.venv-checkov/.installed: requirements-checkov.txt
	python3 -m venv .venv-checkov
	.venv-checkov/bin/pip install --quiet --disable-pip-version-check -r requirements-checkov.txt
	touch $@

npm: node_modules/.installed ## npm tools (asl-validator, configurable-http-proxy), pinned by package-lock.json
node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

shellcheck: ## shellcheck from Debian when it is missing (needs root, as in CI)
	@if ! command -v shellcheck >/dev/null; then \
	  if [ "$$(id -u)" != 0 ]; then echo "shellcheck is missing: sudo apt-get install shellcheck" >&2; exit 1; fi; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq shellcheck >/dev/null; \
	fi

# The HTML report is opened in a real headless browser by the tests
# (tests/tests/report_html.rs).
chromium: ## chromium from Debian when it is missing (needs root, as in CI)
	@if ! command -v chromium >/dev/null; then \
	  if [ "$$(id -u)" != 0 ]; then echo "chromium is missing: sudo apt-get install chromium" >&2; exit 1; fi; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	fi

fmt-check:
	$(CARGO) fmt --all --check

build: ## Compile and lint every crate and target once (clippy -D warnings on the workspace's own crates)
	$(CARGO) build --workspace --all-targets --locked

clippy: ## clippy alone (make build lints too, and builds what the tests need)
	$(CARGO) clippy --workspace --all-targets --locked -- -D warnings

# The real-hub tests (tests/tests/jupyterhub.rs) wait on their hubs, the
# others on the emulator: make test runs them side by side (their own
# processes and ports; cargo holds the build directory's lock only while it
# builds). test-rust skips them by name; a test added there runs in both
# until it is listed here.
HUB_TESTS := the_hub_emr_7_ships the_current_hub

test-rust: build venv venv-lambda npm chromium ## Unit tests, integration tests (with a headless Chromium) and the stack smoke test against one local emulator, then the demo against its own (test-hubs: the real-hub tests)
	$(WITH_EMULATOR) sh -c '$(CARGO) test --workspace --locked -- $(foreach t,$(HUB_TESTS),--skip $(t)) && $(PYTHON) tests/infra/deploy_emulator.py'
	$(WITH_EMULATOR) sh -c '$(DEMO)'

test-hubs: build venv-jupyterhub npm ## The on-cluster scripts against two real JupyterHubs (1.5.0, what EMR 7 ships, and 5.x)
	$(CARGO) test --workspace --locked --test jupyterhub

# The definitions name the partition as ${Partition} (the template's
# DefinitionSubstitutions fill it in); validated as the aws partition deploys them.
check-asl: npm ## Validate the generated state machines
	@dir=$$(mktemp -d); trap 'rm -rf "$$dir"' EXIT; \
	for f in infra/statemachines/*.asl.json; do sed 's/\$${Partition}/aws/g' "$$f" >"$$dir/$$(basename "$$f")"; done; \
	npx --no-install asl-validator $$(for f in "$$dir"/*.asl.json; do printf -- '--json-path %s ' "$$f"; done)

check-shell: shellcheck ## shellcheck every script, templates and rendered examples
	shellcheck $(SHELL_SCRIPTS)

check-infra: venv venv-checkov npm ## The SAM template: checks against the code, the IAM simulation, cfn-lint, checkov
	$(PYTHON) -m unittest discover -s tests/infra -v
	$(VENV)/bin/cfn-lint infra/template.yaml
	.venv-checkov/bin/checkov --quiet --compact --skip-download --framework cloudformation -f infra/template.yaml

generate: ## Rewrite generated files (ASL, golden files, IAM inventory, template sections, README diagram, key reference and permissions table) from the code; review the diff
	$(CARGO) run --locked -q -p sparkhub-codegen

emulator: venv ## Run the local emulator in the foreground (prints its port)
	$(PYTHON) tests/emulator/sparkhub_emulator.py --port $${PORT:-4566}

clean:
	rm -rf target $(VENV) .venv-checkov .venv-lambda .venv-jupyterhub .venv-jupyterhub5 node_modules
