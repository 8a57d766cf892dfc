# tiktok-audience-sync: the two set-up commands are `make demo` and `make test`.
VENV ?= .venv
PYTHON ?= python3.11
BIN := $(VENV)/bin

.PHONY: demo test install install-dev validate sandbox airflow-ui dist clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# An .egg-info left in src/ by an older install would be a second copy of the distribution (see provider/setup.cfg).
install: $(BIN)/python
	rm -rf provider/src/*.egg-info sandbox/src/*.egg-info
	$(BIN)/pip install --quiet -r requirements.txt

install-dev: $(BIN)/python
	rm -rf provider/src/*.egg-info sandbox/src/*.egg-info
	$(BIN)/pip install --quiet -r requirements-dev.txt

## Build the demo contact database (SQLite), start the TikTok sandbox, run every audience DAG, print the table.
demo: install
	$(BIN)/tiktok-audiences demo

## Run the whole test suite (starts the machine's PostgreSQL; installs Debian's chromium for the browser tests).
## Lint and import order (ruff.toml), then the strict type check of the pure rooms (mypy.ini).
lint: install-dev
	$(BIN)/ruff check .
	$(BIN)/mypy

test: install-dev lint
	bash scripts/start-postgres.sh
	bash scripts/install-browser.sh
	$(BIN)/python -m pytest

validate: install
	$(BIN)/tiktok-audiences validate

## Start the TikTok sandbox on port 8765 (for the Airflow UI walk-through in the README).
sandbox: install
	$(BIN)/tiktok-sandbox --port 8765

## Open the demo in the Airflow UI (http://localhost:8080) with the sandbox on :8765.
airflow-ui: install
	bash scripts/airflow-ui.sh

## Build the wheels and sdists of both distributions into dist/ (provider: tiktok-audience-sync; sandbox).
dist: install-dev
	$(BIN)/python -m build --outdir dist provider
	$(BIN)/python -m build --outdir dist sandbox

clean:
	rm -rf .demo .pytest_cache dist

## Benchmark (issue 5): first / incremental (1% churn) / no-change / naive REPLACE syncs vs the floor,
## written to bench/results/ (results.json, results.md, bench.png). Sizes: make bench BENCH_SIZES="100000 1000000 10000000"
.PHONY: bench
BENCH_SIZES ?= 100000 1000000 10000000
bench: install
	$(BIN)/pip install --quiet -r bench/requirements.txt
	bash scripts/start-postgres.sh
	$(BIN)/python bench/bench.py --sizes $(BENCH_SIZES)
