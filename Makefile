# Two commands do all set-up on a fresh machine:  make reproduce  and  make test.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
PROFILE ?= default
PYTEST_ARGS ?=
SHELL := /bin/bash
.SHELLFLAGS := -o pipefail -c

.PHONY: install reproduce smoke twin test unit notebooks lab benchmarks clean-venv

install: $(STAMP)

# The venv is (re)built when the dependency pins change. torch/torchvision are pinned to the releases
# these machines serve from local disk (see README).
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --disable-pip-version-check -q -e '.[test]' 2>&1 | { grep -v '^WARNING: Location' || true; }
	touch $(STAMP)

reproduce: $(STAMP)
	$(BIN)/mammo reproduce --profile $(PROFILE)

smoke: $(STAMP)
	$(BIN)/mammo reproduce --profile smoke

# The twin first (about 17 min on 2 cores when absent, seconds when its checksums already match), then three
# largely single-threaded pytest processes side by side, so that both cores stay busy to the end: nbval over the
# committed notebooks, the unit tests that reproduce whole cohorts (COHORT_TESTS, about half the unit tests' time)
# and the other unit tests. The logs of the first two are printed after the third; every exit code counts.
# Notebook outputs go to scratch run folders (MAMMO_RUN_DIR), never over the committed tables/ and figures/.
COHORT_TESTS := tests/test_reproduce_cohort.py tests/test_train_cohort.py tests/test_cohort_images.py

twin: $(STAMP)
	$(BIN)/mammo synth --which twin --no-progress

test: twin
	scratch=$$(mktemp -d); \
	  { MAMMO_RUN_DIR=$$scratch/run $(BIN)/python -m pytest notebooks --nbval-lax --nbval-current-env \
	      --nbval-sanitize-with tests/nbval_sanitize.cfg -p no:cacheprovider $(PYTEST_ARGS) \
	      > $$scratch/nbval.log 2>&1; echo $$? > $$scratch/nbval.rc; } & \
	  { MAMMO_RUN_DIR=$$scratch/cohorts $(BIN)/python -m pytest $(COHORT_TESTS) -p no:cacheprovider $(PYTEST_ARGS) \
	      > $$scratch/cohorts.log 2>&1; echo $$? > $$scratch/cohorts.rc; } & \
	MAMMO_RUN_DIR=$$scratch/unit $(BIN)/python -m pytest tests $(addprefix --ignore=,$(COHORT_TESTS)) \
	  -p no:cacheprovider $(PYTEST_ARGS); unit=$$?; \
	wait; echo "== unit tests reproducing cohorts ($(COHORT_TESTS))"; cat $$scratch/cohorts.log; \
	echo "== nbval (notebooks/)"; cat $$scratch/nbval.log; co=$$(cat $$scratch/cohorts.rc); nb=$$(cat $$scratch/nbval.rc); \
	echo "unit tests exit $$unit, cohort unit tests exit $$co, nbval exit $$nb"; \
	test "$$unit" -eq 0 && test "$$co" -eq 0 && test "$$nb" -eq 0

unit: $(STAMP)
	$(BIN)/python -m pytest tests -p no:cacheprovider $(PYTEST_ARGS)

# Re-execute the committed notebooks in place (default profile) and refresh tables/ and figures/.
notebooks: $(STAMP)
	$(BIN)/mammo reproduce --refresh-committed

# JupyterLab on notebooks/ with the project's kernel (installed into the venv on first use); as root it adds
# --allow-root. Extra options: make lab LAB_ARGS="--port 8890 --no-browser".
LAB_ARGS ?=
lab: $(STAMP)
	$(BIN)/python -m mammo_lib.run.jupyter $(LAB_ARGS)

benchmarks: $(STAMP)
	for script in benchmarks/bench_*.py; do echo "== $$script"; $(BIN)/python $$script || exit 1; done

clean-venv:
	rm -rf $(VENV)
