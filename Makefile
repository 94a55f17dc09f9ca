# s3vl: every entry point a user or CI needs. `make demo` and `make test` work on a fresh machine.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
PYTEST_ARGS ?=
export PYTHONPATH := $(CURDIR)/lambda:$(CURDIR)/local

.PHONY: help setup setup-local local-up local-down demo test test-fast lint pytest package extension \
        install-extension pgtle bench clean

help:
	@echo "make demo        set up, start the local stack, load demo data, run demo queries"
	@echo "make test        the whole test suite (lint + unit + SQL + end-to-end + infrastructure)"
	@echo "make test-fast   unit, emulator and SQL regress tests: no local stack (PostgreSQL alone"
	@echo "                 for the SQL), a couple of minutes"
	@echo "make local-up    start emulator, Lambda endpoint and PostgreSQL (writes .local/stack.env)"
	@echo "make local-down  stop everything local-up started"
	@echo "make package     build the Lambda deployment zip (build/s3vl-lambda.zip)"
	@echo "make extension   build the s3vl extension files (build/extension/)"
	@echo "make install-extension  copy them into \`pg_config --sharedir\`/extension"
	@echo "make pgtle       build the pg_tle registration script (build/pgtle/s3vl-pgtle.sql)"
	@echo "make bench       run every benchmark in bench/"

# Two install levels: what the demo runs (local) and what the tests add (dev).
setup-local: $(VENV)/.s3vl-installed-local
# The dev group includes the local one: after `make setup`, the demo installs nothing more.
$(VENV)/.s3vl-installed-local: pyproject.toml local/s3vectors-emulator/pyproject.toml scripts/bootstrap.sh
	@if [ -f $(VENV)/.s3vl-installed-dev ] && [ ! pyproject.toml -nt $(VENV)/.s3vl-installed-dev ] \
	  && [ ! local/s3vectors-emulator/pyproject.toml -nt $(VENV)/.s3vl-installed-dev ]; \
	then touch $@; else bash scripts/bootstrap.sh local; fi

setup: $(VENV)/.s3vl-installed-dev
$(VENV)/.s3vl-installed-dev: pyproject.toml local/s3vectors-emulator/pyproject.toml scripts/bootstrap.sh
	@bash scripts/bootstrap.sh dev

local-up: setup-local
	@$(PY) -m s3vl_local.stack up

local-down:
	@if [ -x $(PY) ]; then $(PY) -m s3vl_local.stack down; else echo "nothing to stop"; fi

# The demo brings the stack up itself (once: one `[stack] up` line), then loads and queries.
demo: setup-local
	@$(PY) -m s3vl_local.demo

lint: setup
	@$(VENV)/bin/ruff check lambda local tests bench
	@$(VENV)/bin/mypy lambda/s3vl_lambda local/s3vl_local local/s3vectors-emulator/s3vectors_emulator

# Several pytest-xdist workers, a test module to each (--dist loadfile keeps a module's tests and
# module fixtures in one process); each worker starts a stack of its own, and the slowest modules
# are handed out first (tests/conftest.py: SLOW_MODULES, hence --no-loadscope-reorder).
# Most tests wait on PostgreSQL, HTTP, pg_cron or subprocesses: on 2 cores 3 workers ran the suite
# in half the time of one process, 4 were slower than 3.
# PYTEST_WORKERS=0 runs everything in one process.
PYTEST_WORKERS ?= 3
pytest: setup
	@$(VENV)/bin/pytest -n $(PYTEST_WORKERS) --dist loadfile --no-loadscope-reorder $(PYTEST_ARGS)

test: lint pytest

# The unit, emulator and SQL tests not marked `stack` (tests/conftest.py marks every user of the
# local_stack fixture): no emulator + Lambda endpoint + PostgreSQL stack is started; the SQL
# regress scripts run on the test PostgreSQL alone. Infrastructure, e2e and bench run in `make test`.
test-fast: setup
	@$(VENV)/bin/pytest tests/unit local/s3vectors-emulator/tests tests/sql -m "not stack" -q $(PYTEST_ARGS)

package: setup
	@bash scripts/package-lambda.sh

extension:
	@bash sql/build-extension.sh build

install-extension: extension
	@bash sql/build-extension.sh install

pgtle:
	@bash sql/build-pgtle.sh

bench: setup
	@bash bench/run_all.sh

clean: local-down
	rm -rf build .pytest_cache .mypy_cache .ruff_cache
