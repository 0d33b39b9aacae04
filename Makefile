# The few verbs people type. Every target sets up .venv from requirements.lock first.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
export DAGSTER_HOME ?= $(CURDIR)/.dagster_home

.PHONY: setup run test test-fast ui lint format clean-lake

$(BIN)/lakehouse: requirements.lock pyproject.toml
	$(PYTHON) -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11) and "Python 3.11 is required (set PYTHON=python3.11)")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements.lock
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps -e .
	touch $@

setup: $(BIN)/lakehouse          ## create .venv with the pinned dependencies

run: setup                       ## materialize the bundled data over the default range
	$(BIN)/lakehouse run

test: setup                      ## the whole test suite (what CI runs)
	$(BIN)/python -m pytest

test-fast: setup                 ## the suite without the slow end-to-end tests
	$(BIN)/python -m pytest -m "not slow"

ui: setup                        ## the Dagster UI on http://127.0.0.1:3000
	mkdir -p $(DAGSTER_HOME) && test -f $(DAGSTER_HOME)/dagster.yaml || printf 'telemetry:\n  enabled: false\nrun_queue:\n  max_concurrent_runs: 1\n' > $(DAGSTER_HOME)/dagster.yaml
	DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS=$${DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS:-true} \
	  $(BIN)/dagster dev -w workspace.yaml -h 127.0.0.1 -p 3000

lint: setup
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

format: setup
	$(BIN)/ruff format . && $(BIN)/ruff check --fix .

clean-lake:                      ## delete the local lake and Dagster's run history
	rm -rf data/lake/* $(DAGSTER_HOME)
