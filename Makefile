# imgflow: `make run` (the local pipeline) and `make test` (every test) work on a fresh machine.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMPS := .stamps
APT_PACKAGES := chromium fonts-dejavu-core fontconfig ca-certificates
PORT ?= 8080
DATA_DIR ?= var

.PHONY: setup run test lint bench bench-peers package clean help build-ApiFunction build-ProcessorFunction build-ReconcilerFunction

help:
	@echo "make run    - set up and serve imgflow on http://127.0.0.1:$(PORT) (data in ./$(DATA_DIR))"
	@echo "make test   - set up and run every test"
	@echo "make lint   - ruff, mypy --strict, import-linter"
	@echo "make bench  - benchmark imgflow against Pillow engines, the codec floor and the peers"
	@echo "make bench-peers - install the peers make bench compares with: thumbor, sharp, wrk"
	@echo "make package - the Lambda artefacts under build/ (ARCH=x86_64|arm64); see docs/deploy-aws.md"

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

# checkov pins heavy dependencies of its own: it lives in a venv of its own.
CHECKOV_VERSION ?= 3.3.30
setup: $(STAMPS)/checkov-$(CHECKOV_VERSION)
$(STAMPS)/checkov-$(CHECKOV_VERSION):
	@mkdir -p $(STAMPS)
	@test -x .venv-checkov/bin/python || $(PYTHON) -m venv .venv-checkov
	.venv-checkov/bin/python -m pip install -q --upgrade pip
	.venv-checkov/bin/python -m pip install -q 'checkov==$(CHECKOV_VERSION)'
	@touch $@

# Lambda artefacts (manylinux wheels for Python 3.12, no boto3): build/api, build/processor and their zips.
# `sam build` runs the build-<Function> targets (BuildMethod: makefile) with ARTIFACTS_DIR set.
ARCH ?= x86_64
PACKAGE_PY = $(if $(wildcard $(BIN)/python),$(BIN)/python,$(PYTHON)) packaging/package.py
package:
	$(PACKAGE_PY) api --arch $(ARCH) --out build/api --zip build/api.zip
	$(PACKAGE_PY) processor --arch $(ARCH) --out build/processor --zip build/processor.zip

build-ApiFunction:
	$(PACKAGE_PY) api --arch $(ARCH) --out "$(ARTIFACTS_DIR)"

build-ProcessorFunction build-ReconcilerFunction:
	$(PACKAGE_PY) processor --arch $(ARCH) --out "$(ARTIFACTS_DIR)"

run: setup
	$(BIN)/imgflow serve --port $(PORT) --data-dir $(DATA_DIR)

test: setup
	$(BIN)/python -m pytest

lint: setup
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy
	$(BIN)/lint-imports

bench: setup
	$(BIN)/python -m bench.run
	$(BIN)/python -m bench.pipeline
	$(BIN)/python -m bench.scale

# The peers `make bench` compares imgflow with, never installed by `make test`: thumbor in a venv of
# its own (a Python it supports: THUMBOR_PYTHON), sharp from npm under bench/peers/node (Node.js
# >= 20.9), wrk (the load generator for the status-read figure) and GNU time (a command's peak RSS).
THUMBOR_VERSION ?= 7.8.0
THUMBOR_PYTHON ?= $(PYTHON)
BENCH_APT_PACKAGES := wrk time
bench-peers: $(STAMPS)/thumbor-$(THUMBOR_VERSION) $(STAMPS)/sharp $(STAMPS)/bench-apt

$(STAMPS)/thumbor-$(THUMBOR_VERSION):
	@mkdir -p $(STAMPS)
	@test -x .venv-thumbor/bin/python || $(THUMBOR_PYTHON) -m venv .venv-thumbor
	.venv-thumbor/bin/python -m pip install -q --upgrade pip
	.venv-thumbor/bin/python -m pip install -q 'thumbor==$(THUMBOR_VERSION)'
	@touch $@

$(STAMPS)/sharp: bench/peers/node/package.json bench/peers/node/package-lock.json
	@mkdir -p $(STAMPS)
	@command -v node >/dev/null || { echo "sharp needs Node.js >= 20.9 and npm on PATH"; exit 1; }
	cd bench/peers/node && npm ci --no-audit --no-fund
	@touch $@

$(STAMPS)/bench-apt: Makefile
	@mkdir -p $(STAMPS)
	@if command -v apt-get >/dev/null 2>&1; then \
	  missing=$$(for p in $(BENCH_APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	  if [ -n "$$missing" ]; then \
	    $$( [ "$$(id -u)" = 0 ] || echo sudo ) apt-get update -q && \
	    DEBIAN_FRONTEND=noninteractive $$( [ "$$(id -u)" = 0 ] || echo sudo ) apt-get install -y -q --no-install-recommends $$missing; \
	  fi; \
	fi
	@touch $@

clean:
	rm -rf $(STAMPS) $(VENV) .venv-checkov .venv-thumbor bench/peers/node/node_modules .pytest_cache .mypy_cache .ruff_cache build dist
