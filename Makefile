# Two commands do everything on a fresh machine: `make demo` and `make test`.
# Both bootstrap .venv idempotently (uv when available, else pip).
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export DAGSTER_HOME := $(CURDIR)/.dagster_home
export SODA_CORE_TELEMETRY_ENABLED := false
export DO_NOT_TRACK := 1
export DBT_SEND_ANONYMOUS_USAGE_STATS := false
export RUNTIME__DLTHUB_TELEMETRY := false

.PHONY: help venv demo test test-fast dev lint clean generate ingest build docs dashboard browser-deps spark-deps spark-up spark-down postgres-deps postgres-up postgres-down pg-up pg-down reports-data bench

help:
	@echo "make demo   - generate a demo mall, load it, build the warehouse, print what was built"
	@echo "make test   - run the test suite (unit, dbt, integration)"
	@echo "make dev    - start the Dagster UI on http://127.0.0.1:3000 (another port: make dev PORT=3001)"
	@echo "make dashboard - serve the management dashboards on http://127.0.0.1:8050 (make dashboard PORT=8051)"
	@echo "make bench  - time every stage at scale S (default 1) beside DuckDB: docs/performance.md"
	@echo "make spark-up / spark-down - a local Spark cluster (master, 2 workers, Thrift server): docs/scale-out.md"
	@echo "make postgres-up / postgres-down (or pg-up / pg-down) - the local PostgreSQL server audiences are delivered to (127.0.0.1:5433)"
	@echo "make lint   - ruff check, ruff format --check, sqlfluff (dbt templater) on the dbt models"
	@echo "make clean  - remove generated data, warehouse and .venv"

venv: $(STAMP)

# Re-installed when the pins or this recipe change or a top-level package appears (the
# editable install maps the packages it found at install time). Bytecode is compiled at
# install: where PYTHONDONTWRITEBYTECODE is set, every CLI call and Dagster run would
# otherwise compile dbt, Dagster and dlt again (about 2.5 s per process, measured).
$(STAMP): pyproject.toml Makefile $(wildcard */__init__.py)
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "error: $(PYTHON) not found (Python 3.11 is required)"; exit 1; }
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@if command -v uv >/dev/null 2>&1; then UV=uv; \
	 elif $(BIN)/python -m pip install -q uv==0.13.8 >/dev/null 2>&1; then UV=$(BIN)/uv; \
	 else UV=; fi; \
	 if [ -n "$$UV" ]; then $$UV pip install -q --compile-bytecode --python $(BIN)/python -e '.[dev]'; \
	 else $(BIN)/python -m pip install -q -e '.[dev]' && { $(BIN)/python -m compileall -q -j 0 $(VENV)/lib >/dev/null || true; }; fi
	@mkdir -p $(DAGSTER_HOME) && touch $(STAMP)

demo: venv
	$(BIN)/mallcrm demo

test: venv spark-deps postgres-deps lint
	$(BIN)/python -m pytest

test-fast: venv
	$(BIN)/python -m pytest -m "not integration"

# PORT=N moves the Dagster UI (default 3000) or the dashboards (default 8050).
dev: venv
	$(BIN)/mallcrm dev $(if $(PORT),--port $(PORT))

dashboard: venv
	$(BIN)/mallcrm dashboard $(if $(PORT),--port $(PORT))

# Debian's Chromium for the browser tests (Playwright drives it; nothing downloads a browser)
# and a CJK font so screenshots show the Chinese labels.
browser-deps:
	@test -x /usr/bin/chromium || { SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq --no-install-recommends chromium fonts-wqy-zenhei; }

# Java 17 for Spark (engine spark, the cross-engine tests): Debian's JDK; pyspark from PyPI
# brings Spark itself. The JDK compiles the masking UDF (mallcrm/spark/java).
spark-deps:
	@command -v javac >/dev/null 2>&1 || { SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq --no-install-recommends openjdk-17-jdk-headless; }

spark-up: venv spark-deps
	$(BIN)/mallcrm spark up

spark-down: venv
	$(BIN)/mallcrm spark down

# PostgreSQL 15 from Debian for the activation delivery (postgres/server.py runs its own
# cluster under the warehouse dir; nothing uses the system's server). The binaries live in
# /usr/lib/postgresql/<version>/bin, not on PATH: the check is initdb's presence there.
postgres-deps:
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || { SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
	  $$SUDO apt-get update -qq && $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql; }

postgres-up: venv postgres-deps
	$(BIN)/python -m postgres.server up

postgres-down: venv
	$(BIN)/python -m postgres.server down

pg-up: postgres-up
pg-down: postgres-down

# The Evidence project reads the BI copy from its source folder (see reports/README.md).
reports-data:
	ln -sf $(CURDIR)/warehouse/bi/mallcrm_bi.duckdb reports/sources/mallcrm/mallcrm_bi.duckdb
bench: venv
	$(BIN)/mallcrm bench --scale $(or $(S),1) $(if $(DAYS),--days $(DAYS))

# sqlfluff's dbt templater compiles the project against an empty DuckDB file (no data is
# read); DuckDB's bindings print reference-leak notes at exit under multiprocessing, which
# are filtered out (pipefail keeps sqlfluff's exit status).
LINT_WAREHOUSE := $(CURDIR)/dbt_project/target/lint/lint.duckdb
lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	@mkdir -p $(dir $(LINT_WAREHOUSE))
	set -o pipefail; cd dbt_project && MALLCRM_WAREHOUSE=$(LINT_WAREHOUSE) ../$(BIN)/sqlfluff lint models --processes 2 2>&1 \
	  | { grep -v -e 'leaked' -e 'nanobind' -e 'skipped remainder' -e 'refleaks' -e 'resource_tracker' || true; }

clean:
	rm -rf data warehouse $(VENV) .dagster_home dbt_project/target dbt_project/logs
	find models -mindepth 1 -maxdepth 1 -type d -exec rm -rf {} +
