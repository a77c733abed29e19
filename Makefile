# imgflow: `make run` (the local pipeline) and `make test` (every test) work on a fresh machine.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMPS := .stamps
APT_PACKAGES := chromium fonts-dejavu-core fontconfig ca-certificates
PORT ?= 8080
DATA_DIR ?= var

.PHONY: setup run test lint bench package clean help build-ApiFunction build-ProcessorFunction build-ReconcilerFunction build-TransformFunction

help:
	@echo "make run    - set up and serve imgflow on http://127.0.0.1:$(PORT) (data in ./$(DATA_DIR))"
	@echo "make test   - set up and run every test"
	@echo "make lint   - ruff, mypy --strict, import-linter"
	@echo "make bench  - benchmark imgflow against Pillow engines and the codec floor"
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

build-ProcessorFunction build-ReconcilerFunction build-TransformFunction:
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
	$(BIN)/python -m bench.ondemand

clean:
	rm -rf $(STAMPS) $(VENV) .venv-checkov .pytest_cache .mypy_cache .ruff_cache build dist
