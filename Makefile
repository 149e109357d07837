# LLM Lab — the two commands a learner needs:  `make lab`  and  `make test`.
# Both create .venv when it is missing, install the kit, and fetch the default corpus.
# Re-running them once everything is installed costs seconds (the install is stamped).

PYTHON      ?= python3
VENV        ?= .venv
PY          := $(VENV)/bin/python
STAMP       := $(VENV)/.llm-lab-installed
LAB_ARGS    ?=
PYTEST_ARGS ?=
# Two pytest workers with one torch thread each use two cores without oversubscribing them;
# each test file (so each notebook) runs whole on one worker.
TEST_WORKERS ?= 2
# For a Linux machine without an NVIDIA GPU, a small CPU-only torch:
#   make lab TORCH_INDEX=https://download.pytorch.org/whl/cpu
TORCH_INDEX ?=
PIP_INDEX   := $(if $(TORCH_INDEX),--extra-index-url $(TORCH_INDEX),)
ROOT_FLAG   := $(if $(filter 0,$(shell id -u)),--allow-root,)
# The browser test (tests/browser: JupyterLab driven by headless Chromium through playwright).
# `make test` runs it after the other tests when Chromium is installed (Debian/Ubuntu:
# apt-get install chromium); `make test BROWSER=0` leaves it out, `make test-browser` runs it alone.
CHROMIUM     ?= /usr/bin/chromium
BROWSER      ?= $(if $(wildcard $(CHROMIUM)),1,0)
BROWSER_ARGS ?=
BROWSER_TEST  = $(if $(wildcard $(CHROMIUM)),LABKIT_CHROMIUM=$(CHROMIUM) ,)OMP_NUM_THREADS=1 LABKIT_FAST=1 $(PY) -m pytest tests/browser -p no:cacheprovider $(BROWSER_ARGS)

.PHONY: lab test setup data lint classroom clean-venv help
.PHONY: test-browser screenshots binder-check test-seeds gpu-check
# `make test-seeds` reruns every notebook (fast mode) with its random draws shifted by each offset
# (LABKIT_SEED_OFFSET): a claim that holds only for the default seed fails here.
SEED_OFFSETS ?= 1 2

help:
	@echo "make lab        set up (first time) and open the course in JupyterLab"
	@echo "make test       set up (first time) and run unit tests + every notebook (fast mode),"
	@echo "                then the browser test when Chromium is installed (BROWSER=0: skip it)"
	@echo "make classroom  write an nbgrader course folder (one assignment per notebook) to classroom/"
	@echo "make test-browser  run every notebook in JupyterLab in headless Chromium"
	@echo "make screenshots   write the README's pictures to docs/img/"
	@echo "make binder-check  build the Binder environment in a fresh venv and run notebook 00 in it"
	@echo "make test-seeds    rerun every notebook (fast mode) under seed offsets $(SEED_OFFSETS)"
	@echo "make gpu-check     on a CUDA machine: unit tests, every notebook in full mode, benchmarks"

$(PY):
	$(PYTHON) -m venv $(VENV)

$(STAMP): $(PY) requirements.txt constraints.txt pyproject.toml
	$(PY) -m pip install --quiet --upgrade "pip>=24"
	$(PY) -m pip install --quiet $(PIP_INDEX) -c constraints.txt -r requirements.txt -e ".[notebook,test,browser]" -e ./exercises
	@touch $(STAMP)

setup: $(STAMP)

data: setup
	$(PY) -m labkit data fetch shakespeare

lab: data
	$(VENV)/bin/jupyter lab --notebook-dir=notebooks $(ROOT_FLAG) $(LAB_ARGS)

test: data
	$(PY) -m ruff check labkit exercises tests benchmarks
	OMP_NUM_THREADS=1 LABKIT_FAST=1 $(PY) -m pytest tests notebooks -n $(TEST_WORKERS) --dist loadfile --nbval-lax --nbval-current-env -p no:cacheprovider $(PYTEST_ARGS)
ifeq ($(BROWSER),1)
	$(BROWSER_TEST)
else
	@echo "browser test skipped: no Chromium at $(CHROMIUM) (apt-get install chromium), or BROWSER=0"
endif

test-seeds: data
	@set -e; for offset in $(SEED_OFFSETS); do \
	    echo "notebooks with LABKIT_SEED_OFFSET=$$offset"; \
	    LABKIT_SEED_OFFSET=$$offset OMP_NUM_THREADS=1 LABKIT_FAST=1 $(PY) -m pytest notebooks \
	        -n $(TEST_WORKERS) --dist loadfile --nbval-lax --nbval-current-env -p no:cacheprovider $(PYTEST_ARGS); \
	done

gpu-check: data
	$(PY) benchmarks/gpu_check.py

test-browser: data
	$(BROWSER_TEST)

screenshots: data
	$(if $(wildcard $(CHROMIUM)),LABKIT_CHROMIUM=$(CHROMIUM) ,)$(PY) tests/browser/screenshots.py

binder-check:
	bash binder/check.sh

classroom: setup
	$(PY) -m labkit classroom export classroom

clean-venv:
	rm -rf $(VENV)
