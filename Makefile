# imgflow: `make run` (the local pipeline) and `make test` (every test) work on a fresh machine.
SHELL := /bin/bash
# the project's folder, wherever make runs (sam build runs the build targets in packaging/<arch>)
ROOT := $(patsubst %/,%,$(dir $(abspath $(lastword $(MAKEFILE_LIST)))))
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMPS := .stamps
APT_PACKAGES := chromium fonts-dejavu-core fontconfig ca-certificates
PORT ?= 8080
DATA_DIR ?= var

.PHONY: setup run test lint fuzz bench loadtest package coldstart clean help build-ApiFunction build-ProcessorFunction build-ReconcilerFunction build-TransformFunction

help:
	@echo "make run    - set up and serve imgflow on http://127.0.0.1:$(PORT) (data in ./$(DATA_DIR))"
	@echo "make test   - set up and run every test"
	@echo "make lint   - ruff, mypy --strict, import-linter, bandit"
	@echo "make fuzz   - a long atheris session over probe/decode (FUZZ_SECONDS=$(FUZZ_SECONDS)); findings land in tests/processing/fuzz_regressions/"
	@echo "make bench  - benchmark imgflow against Pillow engines and the codec floor"
	@echo "make loadtest - 500 uploads into imgflow serve, 2 workers, 2 killed mid-run (UPLOADS=N KILLS=N)"
	@echo "make package - the Lambda artefacts under build/ (ARCH=x86_64|arm64); see docs/deploy-aws.md"
	@echo "make coldstart - the Lambda handlers' import times from the built artefacts (CPython 3.12), and their sizes"

setup: $(STAMPS)/apt $(STAMPS)/venv

# System packages: Chromium for the browser tests, fonts for text watermarks.
$(STAMPS)/apt: Makefile
	@mkdir -p $(STAMPS)
	@if command -v apt-get >/dev/null 2>&1; then \
	  missing=$$(for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	  if [ -n "$$missing" ]; then \
	    echo "installing system packages: $$missing"; \
	    $$( [ "$$(id -u)" = 0 ] || echo sudo ) apt-get update -q && \
	    DEBIAN_FRONTEND=noninteractive $$( [ "$$(id -u)" = 0 ] || echo sudo ) apt-get install -y -q --no-install-recommends $$missing; \
	  fi; \
	fi
	@touch $@

$(STAMPS)/venv: pyproject.toml
	@mkdir -p $(STAMPS)
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	@touch $@

# Tools that pin heavy dependencies of their own live in venvs of their own: checkov, and the
# AWS SAM CLI (the tests run `sam build` for both architectures).
CHECKOV_VERSION ?= 3.3.30
SAM_VERSION ?= 1.170.0
TOOL_STAMPS := $(STAMPS)/checkov-$(CHECKOV_VERSION) $(STAMPS)/sam-$(SAM_VERSION)
setup: $(TOOL_STAMPS)
$(STAMPS)/checkov-$(CHECKOV_VERSION): TOOL_VENV = .venv-checkov
$(STAMPS)/checkov-$(CHECKOV_VERSION): TOOL_REQ = checkov==$(CHECKOV_VERSION)
$(STAMPS)/sam-$(SAM_VERSION): TOOL_VENV = .venv-sam
$(STAMPS)/sam-$(SAM_VERSION): TOOL_REQ = aws-sam-cli==$(SAM_VERSION)
$(TOOL_STAMPS):
	@mkdir -p $(STAMPS)
	@test -x $(TOOL_VENV)/bin/python || $(PYTHON) -m venv $(TOOL_VENV)
	$(TOOL_VENV)/bin/python -m pip install -q --upgrade pip
	$(TOOL_VENV)/bin/python -m pip install -q '$(TOOL_REQ)'
	@touch $@

# Lambda artefacts (packaging/package.py): manylinux wheels for CPython 3.12 (no boto3), imgflow's
# source, bytecode compiled by a CPython 3.12, and the processor's fonts.
# `make setup` fills a wheelhouse for both architectures; WHEELHOUSE=.wheelhouse builds offline from it.
ARCH ?= x86_64
WHEELHOUSE_DIR := .wheelhouse
WHEELHOUSE ?=
PACKAGE_PY = $(if $(wildcard $(ROOT)/$(BIN)/python),$(ROOT)/$(BIN)/python,$(PYTHON)) $(ROOT)/packaging/package.py
PACKAGE_OPTS = $(if $(WHEELHOUSE),--wheelhouse $(if $(filter /%,$(WHEELHOUSE)),$(WHEELHOUSE),$(ROOT)/$(WHEELHOUSE)))
setup: $(STAMPS)/wheelhouse
$(STAMPS)/wheelhouse: pyproject.toml packaging/package.py | $(STAMPS)/venv
	$(PACKAGE_PY) wheelhouse --dest $(WHEELHOUSE_DIR)
	@touch $@

package:
	$(PACKAGE_PY) api --arch $(ARCH) --out build/api --zip build/api.zip $(PACKAGE_OPTS)
	$(PACKAGE_PY) processor --arch $(ARCH) --out build/processor --zip build/processor.zip $(PACKAGE_OPTS)

# `sam build` runs build-<Function> with ARTIFACTS_DIR set, in the folder the function's Metadata
# WorkingDirectory names: packaging/<Architecture>, resolved by SAM (parameter overrides included).
# `--arch sam` takes the architecture from that folder's name: the template is the one source of truth.
# The API's small artefact (no image engine) serves the reconcile sweep too.
build-ApiFunction build-ReconcilerFunction:
	$(PACKAGE_PY) api --arch sam --out "$(ARTIFACTS_DIR)" $(PACKAGE_OPTS)

# The on-demand transform function renders: the processor's artefact (image engine, fonts).
build-ProcessorFunction build-TransformFunction:
	$(PACKAGE_PY) processor --arch sam --out "$(ARTIFACTS_DIR)" $(PACKAGE_OPTS)

# Import times of the handlers in fresh CPython 3.12 interpreters, from the x86_64 artefacts, and their
# sizes: figures, not a test (docs/deploy-aws.md, Cold start). Offline when `make setup` filled the wheelhouse.
coldstart:
	$(PACKAGE_PY:package.py=coldstart.py) $(if $(wildcard $(WHEELHOUSE_DIR)/x86_64),--wheelhouse $(WHEELHOUSE_DIR))

run: setup
	$(BIN)/imgflow serve --port $(PORT) --data-dir $(DATA_DIR)

test: setup
	$(BIN)/python -m pytest

lint: setup
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy
	$(BIN)/lint-imports
	$(BIN)/bandit -q -r src -c pyproject.toml -ll

# A long atheris (libFuzzer) session over the probe/decode entry point; `make test` runs a short one.
# The corpus grows under build/fuzz-corpus; any input that misbehaves is written to
# tests/processing/fuzz_regressions/ (crash-*, timeout-*, oom-*), which the test suite replays.
FUZZ_SECONDS ?= 1800
FUZZ_EXTRA_SEEDS ?= $(wildcard $(or $(IMGFLOW_CORPUS),../shared/corpus)/edge)
fuzz: setup
	@mkdir -p build/fuzz-corpus
	cp -n tests/processing/fuzz_seeds/* build/fuzz-corpus/
	$(if $(FUZZ_EXTRA_SEEDS),find $(FUZZ_EXTRA_SEEDS) -type f -size -64k -exec cp -n {} build/fuzz-corpus/ \;)
	MALLOC_ARENA_MAX=2 VIPS_CONCURRENCY=1 $(BIN)/python tests/processing/fuzz_decode.py build/fuzz-corpus \
	  -max_total_time=$(FUZZ_SECONDS) -timeout=30 -rss_limit_mb=1536 -max_len=65536 \
	  -artifact_prefix=tests/processing/fuzz_regressions/

bench: setup
	$(BIN)/python -m bench.run
	$(BIN)/python -m bench.ondemand

# Not part of `make test` (its CI-sized version is: tests/local/test_loadtest.py).
UPLOADS ?= 500
KILLS ?= 2
loadtest: setup
	$(BIN)/python -m bench.loadtest --uploads $(UPLOADS) --kills $(KILLS) --workers 2

clean:
	rm -rf $(STAMPS) $(VENV) .venv-checkov .venv-sam $(WHEELHOUSE_DIR) .aws-sam .pytest_cache .mypy_cache .ruff_cache build dist
