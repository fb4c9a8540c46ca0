# `make demo` and `make test` work on a fresh machine: each creates .venv when missing, installs the
# project with what it needs, fetches MNIST into the data home, then runs.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
# Notebooks under test run at the quick size (seconds each); `make test SIAMESE_KIT_SIZE=class` runs
# them as a student would (a few minutes each), `SIAMESE_KIT_SIZE=full` the benchmark recipes.
SIAMESE_KIT_SIZE ?= quick
export SIAMESE_KIT_SIZE
export TF_CPP_MIN_LOG_LEVEL ?= 3
# Omniglot zips: point SIAMESE_KIT_OMNIGLOT at your copy; a checkout beside ../shared uses that one.
SIAMESE_KIT_OMNIGLOT ?= $(wildcard $(abspath $(CURDIR)/../shared/data/omniglot))
export SIAMESE_KIT_OMNIGLOT

# Every notebook, with its committed outputs, as a static HTML page for students who cannot run them.
# The pages load nothing from the network: formulas become MathML and widget outputs (each with a
# static picture beside it) are dropped, so they read offline too (siamese_kit/docs_build.py).
DOCS_DIR ?= docs/html
NOTEBOOKS := $(sort $(wildcard notebooks/*.ipynb notebooks/solutions/*.ipynb))

.PHONY: demo test test-floors test-backends install data browser docs clean-venv

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[test]"
	touch $@

install: $(VENV)/.installed

# A second environment at the lowest versions pyproject.toml allows (constraints-floors.txt pins
# TensorFlow and Keras to their floors), so `make test-floors` shows the declared floors are true.
VENV_FLOORS ?= .venv-floors
PY_FLOORS := $(VENV_FLOORS)/bin/python

$(VENV_FLOORS)/.installed: pyproject.toml constraints-floors.txt
	test -x $(PY_FLOORS) || $(PYTHON) -m venv $(VENV_FLOORS)
	$(PY_FLOORS) -m pip install --quiet --upgrade pip
	$(PY_FLOORS) -m pip install --quiet -c constraints-floors.txt -e ".[test]"
	touch $@

# Everything the tests, notebooks and demo read: MNIST, the Omniglot zips and Lake's runs, each fetched
# (checksummed) only when it is not here. One that cannot be had (offline, no local copy) is named with
# its fix and skipped by the tests that need it; under CI a missing dataset fails the run.
data: install
	@$(BIN)/siamese-kit data fetch --all --missing || { status=$$?; \
	  case "$$(echo "$${CI:-}" | tr A-Z a-z)" in ""|0|false|no|off) \
	    echo "make: going on; the tests and notebooks that need the data above are skipped";; \
	    *) echo "make: CI is set and data is missing"; exit $$status;; esac; }

demo: data
	$(BIN)/siamese-kit demo --out runs/demo

# Headless Chromium and its driver for the browser test (Debian packages). Elsewhere, install them
# yourself: the test is skipped without them, except under CI where it must run.
browser:
	@if command -v chromium >/dev/null && command -v chromedriver >/dev/null; then :; \
	elif command -v apt-get >/dev/null; then \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium chromium-driver >/dev/null \
	    || echo "make browser: could not install chromium and chromium-driver; the browser test needs them"; \
	else echo "make browser: no apt-get; install Chromium and chromedriver to run the browser test"; fi

docs: install
	$(PY) -m siamese_kit.docs_build $(DOCS_DIR) $(NOTEBOOKS)
	@echo "HTML pages of $(words $(NOTEBOOKS)) notebooks in $(DOCS_DIR)/"

# Two workers, each taking whole files (`--dist loadfile`): a notebook's cells run in order in one kernel,
# and the TensorFlow tests overlap their single-threaded tracing on the two cores (18 minutes in one process,
# 13 in two, on the project's 2-core machine).
PYTEST_WORKERS ?= -n 2 --dist loadfile

# The 25 slowest tests are listed at the end, so the 15-minute budget on 2 cores stays in view.
test: data browser
	$(PY) -m pytest -q $(PYTEST_WORKERS) --durations=25 --nbval-lax tests notebooks

# The same suite in the floors environment (data and the browser as for `test`).
test-floors: data browser $(VENV_FLOORS)/.installed
	$(PY_FLOORS) -m pytest -q $(PYTEST_WORKERS) --nbval-lax tests notebooks

# A third environment with JAX and PyTorch beside TensorFlow (the `backends` extra), where the model,
# loss, training, save/load and recipe tests run once per Keras backend (tests/backends.txt lists them).
VENV_BACKENDS ?= .venv-backends
PY_BACKENDS := $(VENV_BACKENDS)/bin/python
KERAS_BACKENDS ?= jax torch

$(VENV_BACKENDS)/.installed: pyproject.toml
	test -x $(PY_BACKENDS) || $(PYTHON) -m venv $(VENV_BACKENDS)
	$(PY_BACKENDS) -m pip install --quiet --upgrade pip
	$(PY_BACKENDS) -m pip install --quiet -e ".[test,backends]"
	touch $@

test-backends: data $(VENV_BACKENDS)/.installed
	@for backend in $(KERAS_BACKENDS); do \
	  echo "== KERAS_BACKEND=$$backend"; \
	  KERAS_BACKEND=$$backend $(PY_BACKENDS) -m pytest -q $(PYTEST_WORKERS) $$(grep -v '^#' tests/backends.txt) || exit $$?; \
	done

clean-venv:
	rm -rf $(VENV)
