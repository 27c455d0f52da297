# vehicle-sales-rfm: the two commands a newcomer needs are `make demo` and `make test`.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
PYTHON ?= python3.11
VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
STAMP := $(VENV)/.installed-stamp
DEMO_DATE ?= 2005-06-01
PYTEST_ARGS ?=

.PHONY: install demo test test-fast airflow bench lint lock sample clean help

help:
	@echo "make install  - create .venv with the pinned dependency set (idempotent)"
	@echo "make demo     - provision PostgreSQL, run the whole DAG once on the bundled sample, print a summary"
	@echo "make test     - the full test suite against a real PostgreSQL and a real Airflow"
	@echo "make airflow  - start a local Airflow (standalone) with the DAG; prints URL and admin password"
	@echo "make bench    - benchmarks (staging/core refresh, phones, geocoding, segmentation)"

install: $(STAMP)

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

demo: install
	@$(BIN)/python scripts/demo.py --date $(DEMO_DATE)

test: install
	@bash scripts/ensure_chromium.sh
	@export TEST_PG_SERVER_URL="$$($(BIN)/python scripts/provision_db.py --server-only)"; \
	 $(BIN)/python -m pytest $(PYTEST_ARGS)

test-fast: install
	@export TEST_PG_SERVER_URL="$$($(BIN)/python scripts/provision_db.py --server-only)"; \
	 $(BIN)/python -m pytest -m "not e2e and not slow" $(PYTEST_ARGS)

airflow: install
	@$(BIN)/python scripts/airflow_local.py

bench: install
	@export TEST_PG_SERVER_URL="$$($(BIN)/python scripts/provision_db.py --server-only)"; \
	 $(BIN)/python bench/run_all.py

lint: install
	$(BIN)/ruff check .

sample: install
	$(BIN)/python scripts/generate_sample.py --out data/sample_sales_data.csv

lock: install
	$(BIN)/python -m pip freeze --exclude-editable | grep -v '^-e' > constraints.txt.new
	@{ echo "# Full resolved dependency set (pip freeze of requirements.txt + requirements-dev.txt on Python 3.11)."; \
	   echo "# Regenerate with: make lock"; cat constraints.txt.new; } > constraints.txt && rm constraints.txt.new

clean:
	rm -rf .airflow reports artifacts .pytest_cache
