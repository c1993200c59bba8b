# Two commands: `make run` (install + start on SQLite) and `make test` (install + every test).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test install lint bench clean schema screenshots postgres

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

# The browser tests drive Debian's Chromium (never a downloaded one).
CHROMIUM := /usr/bin/chromium
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
$(CHROMIUM):
	@echo "installing Debian's chromium for the browser tests"
	$(SUDO) apt-get install -y chromium || { $(SUDO) apt-get update && $(SUDO) apt-get install -y chromium; }

run: $(STAMP)
	$(BIN)/wamux serve

# The PostgreSQL tests (contract suite, backups, the end-to-end subset) use the local server
# at 127.0.0.1:5432 (tests/services/postgres.py); it is started when it does not answer.
postgres:
	@pg_isready -q -h 127.0.0.1 || pg_ctlcluster --skip-systemctl-redirect $$(ls /etc/postgresql) main start
	@pg_isready -h 127.0.0.1

test: $(STAMP) $(CHROMIUM) postgres
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/python -m pytest
	# The end-to-end subset (tests/backends.py) again on PostgreSQL and on MongoDB (a SecantusDB
	# server the tests start), the two side by side.
	bash tests/run_backends.sh $(BIN)/python

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

# Rewrites graphql_schema/schema.graphql from the code (a test compares the two).
schema: $(STAMP)
	$(BIN)/python -m graphql_schema.sdl

# Refreshes the dashboard screenshots the README shows (the browser tests save them).
screenshots: $(STAMP) $(CHROMIUM)
	WAMUX_SCREENSHOTS_DIR=docs/screenshots $(BIN)/python -m pytest tests/e2e/test_dashboard_browser.py

bench: $(STAMP)
	@command -v wrk >/dev/null || { echo "bench needs wrk: apt-get install wrk"; exit 2; }
	$(BIN)/python bench/send_text.py
	$(BIN)/python bench/webhooks.py

clean:
	rm -rf $(VENV) .pytest_cache
