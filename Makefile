# The few verbs people type. Every target sets up .venv from requirements.lock first.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
export DAGSTER_HOME ?= $(CURDIR)/.dagster_home

.PHONY: setup run test test-fast ui lint typecheck format lock clean-lake

# Every file installed is checked against the lock's hashes; the project itself is built with
# the locked setuptools (no build isolation), so nothing unlocked is downloaded.
$(BIN)/lakehouse: requirements.lock pyproject.toml
	$(PYTHON) -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11) and "Python 3.11 is required (set PYTHON=python3.11)")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check --require-hashes -r requirements.lock
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	touch $@

setup: $(BIN)/lakehouse          ## create .venv with the pinned dependencies

run: setup                       ## materialize the bundled data over the default range
	$(BIN)/lakehouse run

test: lint typecheck             ## ruff, mypy, then the whole test suite (what CI runs)
	$(BIN)/python -m pytest

test-fast: setup                 ## the suite without the slow end-to-end tests
	$(BIN)/python -m pytest -m "not slow"

# Under deploy/process_group.py, which stops every process of dagster dev (code servers, a
# run's workers and pool) on Ctrl-C within seconds: dagster dev alone leaves them running.
UI_PORT ?= 3000
ui: setup                        ## the Dagster UI on http://127.0.0.1:3000 (UI_PORT=...)
	mkdir -p $(DAGSTER_HOME) && test -f $(DAGSTER_HOME)/dagster.yaml || printf 'telemetry:\n  enabled: false\nrun_queue:\n  max_concurrent_runs: 1\n' > $(DAGSTER_HOME)/dagster.yaml
	DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS=$${DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS:-true} \
	  exec $(BIN)/python deploy/process_group.py $(BIN)/dagster dev -w workspace.yaml -h 127.0.0.1 -p $(UI_PORT)

lint: setup                      ## ruff: lint rules and formatting, changing nothing
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

typecheck: setup                 ## mypy: strict on core/ and lake/ (pyproject.toml [tool.mypy])
	$(BIN)/mypy

format: setup
	$(BIN)/ruff format . && $(BIN)/ruff check --fix .

# Resolves pyproject.toml's dependencies, the dev and scale extras included, for Python 3.11
# on Linux, with the hashes of every file, using the uv pinned in the dev extra. Extras stay
# on their lines (gql[requests]==...): pip's hash-checking mode rejects an extra that a
# dependency asks for but the lock does not name. Versions already in requirements.lock are
# kept unless pyproject.toml rules them out; LOCK_ARGS='--upgrade-package NAME' (or
# '--upgrade') moves them.
LOCK_ARGS ?=
lock: setup                      ## regenerate requirements.lock from pyproject.toml
	$(BIN)/uv pip compile pyproject.toml --extra dev --extra scale --python-version 3.11 \
	  --python-platform x86_64-unknown-linux-gnu --generate-hashes --no-strip-extras \
	  --custom-compile-command 'make lock' --quiet --output-file requirements.lock $(LOCK_ARGS)

clean-lake:                      ## delete the local lake and Dagster's run history
	rm -rf data/lake/* $(DAGSTER_HOME)
