# The two commands of the README. Everything a fresh machine needs is installed here.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

export DO_NOT_TRACK := 1
export DBT_SEND_ANONYMOUS_USAGE_STATS := false
export GX_ANALYTICS_ENABLED := false

.PHONY: setup demo test lint ui bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

## The dbt manifest the Dagster definitions are built from (re-parsed only when a dbt file changed).
setup: $(STAMP)
	$(BIN)/python -m dagster_project.dbt_manifest

## Set up, then run the main job on the embedded default: sample CRM + sample leads → summary.
demo: setup
	$(BIN)/leadops demo

## Set up, then run the whole test suite.
test: setup
	$(BIN)/python -m pytest -q

lint: setup
	$(BIN)/ruff check . && $(BIN)/ruff format --check .
	LEADOPS_WAREHOUSE_PATH=$(CURDIR)/.leadops/lint.duckdb $(BIN)/sqlfluff lint dbt_project/models

ui: setup
	$(BIN)/leadops dev

clean:
	rm -rf .leadops dbt_project/target dbt_project/logs
