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

DEMO_ENV := LEADFLOW_DATABASE_URL=$${LEADFLOW_DATABASE_URL:-sqlite:///var/demo.db} LEADFLOW_WORKSPACE=$${LEADFLOW_WORKSPACE:-demo}

## make demo: install, build the demo (funnel, sales team, spend, users, predictive model) in the embedded SQLite
## store, then serve the app at http://127.0.0.1:8000 (Ctrl-C stops it; a second run reuses the data)
demo: install
	$(DEMO_ENV) $(BIN)/leadflow demo
	$(DEMO_ENV) $(BIN)/leadflow serve

## make test: install and run the whole suite (PostgreSQL tests run when LEADFLOW_TEST_POSTGRES_URL is set)
test: install lint
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: install
	$(BIN)/lint-imports
	$(BIN)/ruff check src tests benchmarks

## make bench: every benchmark (each prints a table and writes benchmarks/results/*.json); slow
bench: install
	$(BIN)/python benchmarks/ingest.py
	$(BIN)/python benchmarks/rescore.py
	$(BIN)/python benchmarks/http_ingest.py
	$(BIN)/python benchmarks/backtest.py
	$(BIN)/python benchmarks/leadlist.py
	$(BIN)/python benchmarks/predictive/real_data.py

clean:
	rm -rf $(VENV) var .pytest_cache .hypothesis
