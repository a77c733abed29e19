# imgflow: `make run` (the local pipeline) and `make test` (every test) work on a fresh machine.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMPS := .stamps
# fonts for text watermarks (serving needs them); Chromium only for the browser tests
APT_RUN := fonts-dejavu-core fontconfig ca-certificates
APT_PACKAGES := $(APT_RUN) chromium
PORT ?= 8080
DATA_DIR ?= var

.PHONY: setup run-setup run test lint bench package clean help build-ApiFunction build-ProcessorFunction build-ReconcilerFunction

help:
	@echo "make run    - install what serving needs and serve imgflow on http://127.0.0.1:$(PORT) (data in ./$(DATA_DIR))"
	@echo "make test   - install everything (dev tools, checkov, Chromium) and run every test"
	@echo "make lint   - ruff, mypy --strict, import-linter"
	@echo "make bench  - benchmark imgflow against Pillow engines and the codec floor"
	@echo "make package - the Lambda artefacts under build/ (ARCH=x86_64|arm64); see docs/deploy-aws.md"

# setup: everything the tests, lint and bench need (CI runs it through `make lint` and `make test`).
# run-setup: only what `make run` needs (the image engine and the server; no dev tools, checkov or Chromium).
setup: $(STAMPS)/apt $(STAMPS)/venv
run-setup: $(STAMPS)/apt-run $(STAMPS)/venv-run

define apt_install
	@mkdir -p $(STAMPS)
	@if command -v apt-get >/dev/null 2>&1; then \
	  missing=$$(for p in $(1); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	  if [ -n "$$missing" ]; then \
	    echo "== installing system packages: $$missing"; \
	    $$( [ "$$(id -u)" = 0 ] || echo sudo ) apt-get update && \
	    DEBIAN_FRONTEND=noninteractive $$( [ "$$(id -u)" = 0 ] || echo sudo ) apt-get install -y --no-install-recommends $$missing; \
	  fi; \
	fi
	@touch $@
endef

# System packages: fonts for text watermarks; Chromium for the browser tests.
$(STAMPS)/apt: Makefile
	$(call apt_install,$(APT_PACKAGES))
	@touch $(STAMPS)/apt-run

$(STAMPS)/apt-run: Makefile
	$(call apt_install,$(APT_RUN))

$(VENV)/bin/python:
	@echo "== creating the virtualenv $(VENV)"
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --upgrade pip

$(STAMPS)/venv: pyproject.toml | $(VENV)/bin/python
	@mkdir -p $(STAMPS)
	@echo "== installing imgflow with the image engine, the AWS SDK and the dev tools into $(VENV)"
	$(BIN)/python -m pip install --progress-bar on -e '.[dev]'
	@touch $@ $(STAMPS)/venv-run

$(STAMPS)/venv-run: pyproject.toml | $(VENV)/bin/python
	@mkdir -p $(STAMPS)
	@echo "== installing imgflow with the image engine into $(VENV)"
	$(BIN)/python -m pip install --progress-bar on -e '.[processing]'
	@touch $@

# checkov pins heavy dependencies of its own: it lives in a venv of its own.
CHECKOV_VERSION ?= 3.3.30
setup: $(STAMPS)/checkov-$(CHECKOV_VERSION)
$(STAMPS)/checkov-$(CHECKOV_VERSION):
	@mkdir -p $(STAMPS)
	@echo "== installing checkov $(CHECKOV_VERSION) into .venv-checkov"
	@test -x .venv-checkov/bin/python || $(PYTHON) -m venv .venv-checkov
	.venv-checkov/bin/python -m pip install --upgrade pip
	.venv-checkov/bin/python -m pip install 'checkov==$(CHECKOV_VERSION)'
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

run: run-setup
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

clean:
	rm -rf $(STAMPS) $(VENV) .venv-checkov .pytest_cache .mypy_cache .ruff_cache build dist
