# imgflow: `make run` (the local pipeline) and `make test` (every test) work on a fresh machine.
SHELL := /bin/bash
# the project's folder, wherever make runs (sam build runs the build targets in packaging/<arch>)
ROOT := $(patsubst %/,%,$(dir $(abspath $(lastword $(MAKEFILE_LIST)))))
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMPS := .stamps
# fonts for text watermarks (serving needs them); Chromium (browser tests) and Node.js (the CloudFront
# function's JavaScript) only for the tests
APT_RUN := fonts-dejavu-core fontconfig ca-certificates
# PostgreSQL (the cluster backend's tests), buildah and mmdebstrap (`make image` and its test)
APT_PACKAGES := $(APT_RUN) chromium nodejs postgresql buildah mmdebstrap
PORT ?= 8080
DATA_DIR ?= var

.PHONY: image image-base image-wheels setup run-setup run test lint fuzz mutate bench scale bench-peers loadtest package coldstart clean help build-ApiFunction build-ProcessorFunction build-ReconcilerFunction build-TransformFunction

help:
	@echo "make run    - install what serving needs and serve imgflow on http://127.0.0.1:$(PORT) (data in ./$(DATA_DIR))"
	@echo "make test   - install everything (dev tools, checkov, SAM CLI, Chromium) and run every test"
	@echo "make lint   - ruff, mypy --strict, import-linter, bandit"
	@echo "make fuzz   - a long atheris session over probe/decode (FUZZ_SECONDS=$(FUZZ_SECONDS)); findings land in tests/processing/fuzz_regressions/"
	@echo "make mutate - plant each mutant of bench/mutants.toml, run the tests meant to catch it, print caught/survived (MUTATE_ARGS=\"--only ID --listed\")"
	@echo "make bench  - benchmark imgflow against Pillow engines, the codec floor and the peers"
	@echo "make scale  - docs/scale.md's cost and limit tables from the newest bench run (SCALE_ARGS=\"--results FILE --no-docs\")"
	@echo "make bench-peers - install the peers make bench compares with: thumbor, sharp, wrk"
	@echo "make loadtest - 500 uploads into imgflow serve, 2 workers, 2 killed mid-run (UPLOADS=N KILLS=N)"
	@echo "make package - the Lambda artefacts under build/ (ARCH=x86_64|arm64); see docs/deploy-aws.md"
	@echo "make coldstart - the Lambda handlers' import times from the built artefacts (CPython 3.12), and their sizes"

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
	$(BIN)/python -m pip install --progress-bar on -e '.[processing,fast-jpeg]'
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
	@echo "== installing $(TOOL_REQ) into $(TOOL_VENV)"
	@test -x $(TOOL_VENV)/bin/python || $(PYTHON) -m venv $(TOOL_VENV)
	$(TOOL_VENV)/bin/python -m pip install --upgrade pip
	$(TOOL_VENV)/bin/python -m pip install '$(TOOL_REQ)'
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

# The one container image of the cluster backend (docs/cluster.md): a Debian bookworm base made
# from Debian's packages by mmdebstrap (no registry needed; Python and the fonts included), imgflow
# and its dependencies as wheels built on the host (its index and certificates), then the
# Containerfile on them with buildah (chroot isolation, vfs storage: works as root on machines
# that cannot run containers); nothing is fetched then. `make setup` makes the base and the wheels, so the
# image test builds offline.
IMAGE := imgflow:latest
IMAGE_BASE := localhost/imgflow-base:bookworm
BUILDAH := buildah --storage-driver vfs
IMAGE_PACKAGES := python3,python3-venv,ca-certificates,fonts-dejavu-core,fontconfig
image-base: $(STAMPS)/image-base
$(STAMPS)/image-base: $(STAMPS)/apt
	@echo "==> making the image's bookworm base with mmdebstrap ($(IMAGE_PACKAGES))"
	@mkdir -p build $(STAMPS)
	mmdebstrap --quiet --variant=minbase --include=$(IMAGE_PACKAGES) bookworm build/bookworm.tar
	-$(BUILDAH) rmi -f $(IMAGE_BASE) >/dev/null 2>&1
	ctr=$$($(BUILDAH) from scratch) && $(BUILDAH) add $$ctr build/bookworm.tar / && \
	  $(BUILDAH) commit --quiet --rm $$ctr $(IMAGE_BASE)
	rm -f build/bookworm.tar
	@touch $@
# every dependency of imgflow as a wheel, and the build backend (the image builds imgflow from source)
image-wheels: $(STAMPS)/image-wheels
$(STAMPS)/image-wheels: pyproject.toml | $(STAMPS)/venv
	rm -rf .image-wheels
	$(BIN)/pip wheel -q --wheel-dir .image-wheels ".[processing,fast-jpeg,cluster]"
	rm -f .image-wheels/imgflow-*.whl
	$(BIN)/pip download -q --dest .image-wheels "setuptools>=77" wheel
	@touch $@
setup: $(STAMPS)/image-base $(STAMPS)/image-wheels
image: image-base image-wheels
	$(BUILDAH) bud --quiet --format docker --isolation chroot --network host --build-arg BASE=$(IMAGE_BASE) -t $(IMAGE) -f Containerfile .
	@echo "built $(IMAGE): every role, e.g. buildah run --network host \$$($(BUILDAH) from $(IMAGE)) imgflow --help"

run: run-setup
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

# Hand-written mutants, one at a time (bench/mutate.py): each must make its tests fail. Files are
# restored after each, on Ctrl-C too; fails when one survives. MUTATE_ARGS="--only ID --file PATH --listed"
MUTATE_ARGS ?=
mutate: setup
	$(BIN)/python -m bench.mutate $(MUTATE_ARGS)

bench: setup
	$(BIN)/python -m bench.run
	$(BIN)/python -m bench.webp_options
	$(BIN)/python -m bench.pipeline
	$(BIN)/python -m bench.scale
	$(BIN)/python -m bench.ondemand
	$(BIN)/python -m bench.http
	$(BIN)/python -m bench.cli_vs_cascade
	$(BIN)/python -m bench.cluster

# docs/scale.md's tables again from a bench run (the newest; SCALE_ARGS="--results FILE --no-docs")
scale:
	$(BIN)/python -m bench.scale $(SCALE_ARGS)

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

# Not part of `make test` (its CI-sized version is: tests/local/test_loadtest.py).
UPLOADS ?= 500
KILLS ?= 2
loadtest: setup
	$(BIN)/python -m bench.loadtest --uploads $(UPLOADS) --kills $(KILLS) --workers 2

clean:
	rm -rf $(STAMPS) $(VENV) .venv-checkov .venv-sam .venv-thumbor bench/peers/node/node_modules $(WHEELHOUSE_DIR) .aws-sam .pytest_cache .mypy_cache .ruff_cache build dist
