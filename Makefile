# Quick start: `make run` (demo store on SQLite) and `make test` (the whole suite).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 5000
export FLASK_APP := app

.PHONY: install run worker test test-fast lint format chromium benchmark benchmark-scale clean postman postman-collection chaos chaos-short

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# Reinstall only when pyproject.toml changes.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

install: $(VENV)/.installed

# Links printed and emailed (welcome, reset) point at the port the store runs on.
run: export BASE_URL ?= http://127.0.0.1:$(PORT)
run: install
	$(BIN)/flask init-db
	$(BIN)/flask seed-demo
	@echo "Starting the store (web + in-process worker) on http://127.0.0.1:$(PORT)/  (Ctrl-C stops it)"
	$(BIN)/flask run --host 127.0.0.1 --port $(PORT)

worker: install
	$(BIN)/flask worker

# Debian's Chromium drives the browser tests; installed when missing and we are allowed to.
chromium:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    (apt-get install -y -qq chromium >/dev/null 2>&1 || (apt-get update -qq && apt-get install -y -qq chromium >/dev/null)) \
	      || echo "Could not install chromium: browser tests will skip"; \
	  else echo "chromium not found and cannot be installed here: browser tests will skip"; fi; }

test: install chromium
	$(BIN)/pytest $(PYTEST_ARGS)

test-fast: install
	$(BIN)/pytest -m "not e2e" $(PYTEST_ARGS)

# Style, types and layers: ruff (lint and format check), mypy (app/domain, app/services), import-linter.
lint: install
	$(BIN)/ruff check app tests
	$(BIN)/ruff format --check app tests
	$(BIN)/mypy
	$(BIN)/lint-imports

format: install
	$(BIN)/ruff check --fix app tests
	$(BIN)/ruff format app tests

benchmark: install
	$(BIN)/python tests/benchmarks/run.py

# Launch day at scale (tests/benchmarks/launch_day.py): PostgreSQL on 127.0.0.1:5432, Redis (database 9), gunicorn, one
# flask worker and an SMTP server: onboarding 10k, a sign-in burst, an order burst, the first page's bytes, then the page benchmark.
benchmark-scale: install
	$(BIN)/python tests/benchmarks/launch_day.py $(SCALE_ARGS)

# Faults survived, measured (tests/reliability/chaos.py): PostgreSQL on 127.0.0.1:5432 and redis-server installed.
chaos: install
	$(BIN)/python tests/reliability/chaos.py $(CHAOS_ARGS)

# Scenarios 1 (worker killed) and 2 (SMTP down), smaller: a couple of minutes, for CI.
chaos-short: install
	$(BIN)/python tests/reliability/chaos.py --short $(CHAOS_ARGS)

# newman, Postman's command-line runner, pinned, from the npm registry into the venv (Debian's Node.js when missing).
NEWMAN_VERSION := 6.2.2
NEWMAN := $(VENV)/newman-$(NEWMAN_VERSION)/node_modules/.bin/newman
$(NEWMAN): | $(BIN)/python
	@command -v npm >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    apt-get install -y -qq nodejs npm >/dev/null 2>&1 || (apt-get update -qq && apt-get install -y -qq nodejs npm >/dev/null); \
	  else echo "npm not found and cannot be installed here"; exit 1; fi; }
	npm install --no-save --no-audit --no-fund --loglevel=error --prefix $(VENV)/newman-$(NEWMAN_VERSION) newman@$(NEWMAN_VERSION)

# The committed Postman collection (postman/), run by newman against a live server with demo data, signed v1 and v2.
postman: install $(NEWMAN)
	$(BIN)/python tests/postman/run.py --newman $(NEWMAN)

# Regenerate postman/ from the OpenAPI document (after changing the API; a test checks it is current).
postman-collection: install
	$(BIN)/python tests/postman/generate.py

clean:
	rm -rf $(VENV) instance .pytest_cache test-artifacts
