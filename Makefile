# vehicle-sales-rfm: the two commands a newcomer needs are `make demo` and `make test`.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
PYTHON ?= python3.11
VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
STAMP := $(VENV)/.installed-stamp
DEMO_DATE ?= 2005-06-01
PYTEST_ARGS ?=

.PHONY: help install demo test test-fast airflow airflow-celery bench lint format sample lock clean

help:  ## this list
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/:[^#]*## /\t/' | awk -F'\t' '{printf "make %-10s %s\n", $$1, $$2}'

install: $(STAMP)  ## create .venv with the pinned dependency set and the bundle (idempotent)

$(STAMP): requirements.txt requirements-dev.txt constraints.txt pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "$(PYTHON) not found: install Python 3.11 or run make PYTHON=/path/to/python3.11"; exit 1; }
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -r requirements.txt -r requirements-dev.txt -c constraints.txt
	@# the bundle itself, editable: include/vehicle_sales on the path and its provider entry point
	@# (the ArcGIS connection type in the UI); plugins/ on the path as Airflow puts it there
	$(BIN)/python -m pip install -q --no-deps -e .
	$(BIN)/python -c "import sysconfig,pathlib; pathlib.Path(sysconfig.get_paths()['purelib'], 'vehicle_sales_rfm.pth').write_text('$(CURDIR)/plugins\n')"
	@touch $(STAMP)

demo: install  ## provision PostgreSQL, run the whole DAG once on the bundled sample, print a summary
	@$(BIN)/python scripts/demo.py --date $(DEMO_DATE)

test: install  ## the full test suite against a real PostgreSQL and a real Airflow
	@bash scripts/ensure_chromium.sh
	@export TEST_PG_SERVER_URL="$$($(BIN)/python scripts/provision_db.py --server-only)"; \
	 $(BIN)/python -m pytest $(PYTEST_ARGS)

test-fast: install  ## the suite without the end-to-end and slow tests
	@export TEST_PG_SERVER_URL="$$($(BIN)/python scripts/provision_db.py --server-only)"; \
	 $(BIN)/python -m pytest -m "not e2e and not celery and not slow" $(PYTEST_ARGS)

airflow: install  ## a local Airflow (standalone) with the DAG; prints URL and admin password
	@$(BIN)/python scripts/airflow_local.py

airflow-celery: install  ## a local CeleryExecutor deployment (2 workers, Flower, Redis, PostgreSQL); prints URLs and login
	@$(BIN)/python scripts/airflow_celery.py

bench: install  ## benchmarks (ingestion, phones, geocoding, segmentation); not part of make test
	@export TEST_PG_SERVER_URL="$$($(BIN)/python scripts/provision_db.py --server-only)"; \
	 $(BIN)/python bench/run_all.py

lint: install  ## ruff check and ruff format --check
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install  ## apply ruff format and ruff's fixes
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

sample: install  ## regenerate data/sample_sales_data.csv (byte for byte the same)
	$(BIN)/python scripts/generate_sample.py --out data/sample_sales_data.csv

lock: install  ## re-freeze constraints.txt from .venv
	$(BIN)/python -m pip freeze --exclude-editable | grep -v '^-e' > constraints.txt.new
	@{ echo "# Full resolved dependency set (pip freeze of requirements.txt + requirements-dev.txt on Python 3.11)."; \
	   echo "# Regenerate with: make lock"; cat constraints.txt.new; } > constraints.txt && rm constraints.txt.new

clean:  ## remove .airflow/, .airflow-celery/, reports/, artifacts/, .pytest_cache/
	rm -rf .airflow .airflow-celery reports artifacts .pytest_cache
