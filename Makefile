# The two commands of the README. Everything a fresh machine needs is installed here.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

export DO_NOT_TRACK := 1
export DBT_SEND_ANONYMOUS_USAGE_STATS := false
export GX_ANALYTICS_ENABLED := false

.PHONY: setup demo test test-fast lint ui bench clean bottlecrm

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	# caldav pulls urllib3-future, whose wheel installs a .pth that swaps urllib3 for itself in every
	# interpreter (requests then runs on a urllib3 it was not pinned against); built from source with
	# URLLIB3_NO_OVERRIDE=1 it installs beside the real urllib3 instead.
	URLLIB3_NO_OVERRIDE=1 $(BIN)/python -m pip install --quiet --no-binary urllib3-future -e '.[dev]'
	touch $(STAMP)

## The dbt manifest the Dagster definitions are built from (re-parsed only when a dbt file changed).
setup: $(STAMP)
	$(BIN)/python -m dagster_project.dbt_manifest

## Set up, then run the main job on the embedded default: sample CRM + sample leads → summary.
demo: setup
	$(BIN)/leadops demo

## Set up, then run the whole test suite in four stages: the core suite (pure functions, assets with
## fakes, dbt builds and in-process pipeline scenarios; two workers, one per core, dealt as tests/conftest.py
## says), the system stage (the Dagster daemon and `leadops run` as their own processes, killed mid-run),
## then LeadOps against a real self-hosted CRM (BottleCRM), then the same dbt project on Apache Spark (one
## in-process local[2] session, every mart compared with DuckDB's; 12-15 min on 2 shared cores, not 4).
test: setup bottlecrm
	$(BIN)/python -m pytest -q -n 2 --dist loadfile -m "not bottlecrm and not system and not spark" --durations=15
	$(BIN)/python -m pytest -q -m system
	$(BIN)/python -m pytest -q -m bottlecrm
	$(BIN)/python -m pytest -q -m spark

## BottleCRM in its own Python 3.12 venv with a migrated template database, built once (tools/bottlecrm).
bottlecrm:
	bash tools/bottlecrm/setup.sh

## What to run on every change: pure functions, assets with fakes, definitions load (no dbt build, no
## daemon; under 2 min on 2 cores).
test-fast: setup
	$(BIN)/python -m pytest -q -n 2 -m "not slow and not spark"

## Style, SQL style and the one-way import contract ([tool.importlinter] in pyproject.toml).
lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	mkdir -p .leadops
	LEADOPS_WAREHOUSE_PATH=$(CURDIR)/.leadops/lint.duckdb $(BIN)/sqlfluff lint dbt_project/models
	$(BIN)/lint-imports

ui: setup
	$(BIN)/leadops dev

clean:
	rm -rf .leadops dbt_project/target dbt_project/logs
