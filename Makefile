# GridTriage: `make run` serves the demo, `make test` runs every test. See README.md.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
FLASK := $(VENV)/bin/flask --app app
HOST ?= 127.0.0.1
PORT ?= 5000
# gunicorn's layout, by this machine's cores (override: make run WORKERS=2 THREADS=4). On 2 cores or fewer, where
# PostgreSQL takes about half the CPU, one worker with 8 threads measured best (bench/README.md, bench_ingest.py);
# with more cores, a worker per core with 4 threads each.
CORES := $(shell nproc 2>/dev/null || echo 2)
WORKERS ?= $(if $(filter 1 2,$(CORES)),1,$(CORES))
THREADS ?= $(if $(filter 1 2,$(CORES)),8,4)

.PHONY: run test stop setup system-deps lint bench

run: setup
	@if [ -z "$$DATABASE_URL" ]; then $(PY) -m tools.pgcluster start; fi
	@$(FLASK) db-upgrade
	@$(FLASK) load-demo
	@$(FLASK) demo-accounts
	@$(FLASK) demo-scenario
	@echo "GridTriage: http://$(HOST):$(PORT)/   (Ctrl-C stops the web servers; make stop stops the database too)"
	@$(PY) -m tools.front serve --host $(HOST) --port $(PORT) --workers $(WORKERS) --threads $(THREADS)

test: setup
	@tools/system-deps.sh --browser
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy
	$(VENV)/bin/pytest

stop:
	@if [ -d var/front ]; then $(PY) -m tools.front stop; fi
	@if [ -d var/pg ]; then $(PY) -m tools.pgcluster stop; fi

setup: system-deps $(VENV)/.installed node_modules/.installed

system-deps:
	@tools/system-deps.sh

$(VENV)/.installed: requirements.txt requirements-nodeps.txt
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps -r requirements-nodeps.txt
	@touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --silent
	@touch $@

bench: setup
	$(PY) bench/bench_triage.py --quick
