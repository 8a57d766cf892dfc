# tiktok-audience-sync: the two set-up commands are `make demo` and `make test`.
VENV ?= .venv
PYTHON ?= python3.11
BIN := $(VENV)/bin

.PHONY: demo test install install-dev validate sandbox airflow-ui clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

install: $(BIN)/python
	$(BIN)/pip install --quiet -r requirements.txt

install-dev: $(BIN)/python
	$(BIN)/pip install --quiet -r requirements-dev.txt

## Build the demo contact database (SQLite), start the TikTok sandbox, run every audience DAG, print the table.
demo: install
	$(BIN)/tiktok-audiences demo

## Run the whole test suite (starts the machine's PostgreSQL for the integration tests).
test: install-dev
	bash scripts/start-postgres.sh
	$(BIN)/python -m pytest

validate: install
	$(BIN)/tiktok-audiences validate

## Start the TikTok sandbox on port 8765 (for the Airflow UI walk-through in the README).
sandbox: install
	$(BIN)/tiktok-sandbox --port 8765

## Open the demo in the Airflow UI (http://localhost:8080) with the sandbox on :8765.
airflow-ui: install
	bash scripts/airflow-ui.sh

clean:
	rm -rf .demo .pytest_cache
