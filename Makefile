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

# The twin first (about 17 min on 2 cores when absent, seconds when its checksums already match), then the unit
# tests and nbval over the committed notebooks side by side (each is largely single-threaded); nbval's log is
# printed after the unit tests and both exit codes count. Notebook outputs go to a scratch run folder
# (MAMMO_RUN_DIR), never over the committed tables/ and figures/.
twin: $(STAMP)
	$(BIN)/mammo synth --which twin --no-progress

test: twin
	scratch=$$(mktemp -d); \
	  { MAMMO_RUN_DIR=$$scratch/run $(BIN)/python -m pytest notebooks --nbval-lax --nbval-current-env \
	      --nbval-sanitize-with tests/nbval_sanitize.cfg -p no:cacheprovider $(PYTEST_ARGS) \
	      > $$scratch/nbval.log 2>&1; echo $$? > $$scratch/nbval.rc; } & \
	MAMMO_RUN_DIR=$$scratch/unit $(BIN)/python -m pytest tests -p no:cacheprovider $(PYTEST_ARGS); unit=$$?; \
	wait; echo "== nbval (notebooks/)"; cat $$scratch/nbval.log; nb=$$(cat $$scratch/nbval.rc); \
	echo "unit tests exit $$unit, nbval exit $$nb"; test "$$unit" -eq 0 && test "$$nb" -eq 0

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
