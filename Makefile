# leadflow: the two set-up commands are `make demo` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install demo test lint bench clean

install: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

## make demo: install, build the demo funnel in the embedded SQLite store, print the funnel and explained top leads
demo: install
	LEADFLOW_DATABASE_URL=$${LEADFLOW_DATABASE_URL:-sqlite:///var/demo.db} $(BIN)/leadflow demo

## make test: install and run the whole suite (PostgreSQL tests run when LEADFLOW_TEST_POSTGRES_URL is set)
test: install lint
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: install
	$(BIN)/lint-imports
	$(BIN)/ruff check src tests benchmarks

bench: install
	$(BIN)/python benchmarks/ingest.py
	$(BIN)/python benchmarks/rescore.py

clean:
	rm -rf $(VENV) var .pytest_cache .hypothesis
