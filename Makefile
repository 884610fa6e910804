# Two commands: `make run` serves the demo, `make test` runs the whole suite.
# Nothing here downloads at run time; installs come from the hashed lock files.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PORT   ?= 8000
export CONFIDE_DATA_DIR ?= $(CURDIR)/var
# gunicorn processes and threads each (docs/operations.md, "Capacity"): the work is CPU-bound
# Python, so one process per core; threads overlap each request's waits on the database.
GUNICORN_WORKERS ?= 2
GUNICORN_THREADS ?= 4

.PHONY: run test test-sqlite test-postgres install install-dev bench-install screenshots check clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# The stamp files make a second `make run` skip the install entirely.
$(VENV)/.installed-base: requirements/base.lock pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --require-hashes -r requirements/base.lock
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	touch $@

$(VENV)/.installed-dev: requirements/dev.lock pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --require-hashes -r requirements/dev.lock
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	touch $@ $(VENV)/.installed-base

install: $(VENV)/.installed-base
install-dev: $(VENV)/.installed-dev

# The load bench's generator (locust) in a venv of its own: gevent monkey-patches the standard
# library and locust registers a pytest plugin, neither of which belongs in .venv (bench/README.md).
bench-install: install
	@test -x .venv-bench/bin/python || $(PYTHON) -m venv .venv-bench
	.venv-bench/bin/python -m pip install --quiet --disable-pip-version-check --require-hashes -r requirements/bench.lock

# The demo is served over plain HTTP on loopback, so secure-only cookies are off for it;
# the secret key is made once, kept under the data directory with mode 0600; the directory is
# made (or tightened to) 0700, and the database files are 0600 (confide/core/db/sqlite.py).
run: export CONFIDE_SECRET_KEY_FILE ?= $(CONFIDE_DATA_DIR)/secret_key
run: export CONFIDE_HTTPS ?= 0
# Links in e-mails (password resets, alerts, notices) point at this server, on the port it serves.
run: export CONFIDE_BASE_URL ?= http://127.0.0.1:$(PORT)
# Twilio's webhooks are signed with the auth token: a documented demo token, so a text can be
# signed and posted to the local server (docs/architecture.md, "Messaging: inbound"). Not a secret.
run: export CONFIDE_TWILIO_AUTH_TOKEN ?= demo-twilio-token-not-secret
run: install
	@mkdir -p "$(CONFIDE_DATA_DIR)" && chmod 700 "$(CONFIDE_DATA_DIR)"
	@test -s "$(CONFIDE_SECRET_KEY_FILE)" || (umask 077 && $(BIN)/python -c 'import secrets; print(secrets.token_urlsafe(64))' > "$(CONFIDE_SECRET_KEY_FILE)")
	@$(BIN)/confide migrate --noinput -v 0
	@$(BIN)/confide demo
	@$(BIN)/confide portal age-check --schedule > /dev/null
	@$(BIN)/confide messaging sweep --schedule > /dev/null
	@$(BIN)/confide scheduling sweep --schedule > /dev/null
	@$(BIN)/confide directory purge --schedule > /dev/null
	@$(BIN)/confide rights sweep --schedule > /dev/null
	@$(BIN)/confide disclosures sweep --schedule > /dev/null
	@$(BIN)/confide retention run --schedule > /dev/null
	@echo "Serving Confide on http://127.0.0.1:$(PORT)/  (Ctrl-C to stop; a task worker and the audit sealer run beside it)"
	@echo "Links in e-mails point to $(CONFIDE_BASE_URL) (the outbox: $(CONFIDE_DATA_DIR)/outbox/)"
	@$(BIN)/confide db_worker --no-startup-delay --interval 2 -v 0 & worker=$$!; \
	  $(BIN)/confide audit seal --follow & sealer=$$!; \
	  trap 'kill $$worker $$sealer 2>/dev/null' EXIT INT TERM; \
	  $(BIN)/gunicorn confide.wsgi --bind 127.0.0.1:$(PORT) --workers $(GUNICORN_WORKERS) --threads $(GUNICORN_THREADS) \
	  --access-logformat '%(h)s "%(m)s %(U)s" %(s)s %(b)s %(L)ss' --access-logfile - --log-level warning

# The layer contracts first (pyproject.toml, [tool.importlinter]): a wrong-way import fails the build.
# SQLite always; PostgreSQL as well when DATABASE_URL is set (CI sets it). The browser
# tests run in the SQLite pass only: they test the UI, which does not depend on the database.
# The two passes run side by side: each is one Python process, so on two cores the whole run
# takes about as long as the longer pass rather than the sum of both. Each pass gets a data
# directory of its own (keyring, encrypted files, the file cache; the `run` target's
# CONFIDE_DATA_DIR=var is exported to every recipe, so it is overridden here), its own ports,
# and the PostgreSQL pass its own database. The PostgreSQL pass's output is printed after the
# SQLite pass's; either failing fails the target.
test: install-dev
	$(BIN)/lint-imports --no-cache
	@pg_log="$$(mktemp)"; pg_pid=""; sqlite_dir="$$(mktemp -d)"; pg_dir="$$(mktemp -d)"; \
	if [ -n "$$DATABASE_URL" ]; then \
	  echo "== PostgreSQL pass ($${DATABASE_URL%%@*}@...) started beside the SQLite pass; its output follows it =="; \
	  CONFIDE_DATA_DIR="$$pg_dir" CONFIDE_TEST_DATABASE=postgres $(BIN)/python -m pytest -q -m "not e2e" > "$$pg_log" 2>&1 & pg_pid=$$!; \
	else echo "DATABASE_URL not set: PostgreSQL pass skipped (CI runs it)."; fi; \
	echo "== SQLite pass =="; \
	CONFIDE_DATA_DIR="$$sqlite_dir" $(BIN)/python -m pytest -q; sqlite_status=$$?; \
	pg_status=0; \
	if [ -n "$$pg_pid" ]; then wait "$$pg_pid"; pg_status=$$?; echo "== PostgreSQL pass (exit $$pg_status) =="; cat "$$pg_log"; fi; \
	rm -rf "$$pg_log" "$$sqlite_dir" "$$pg_dir"; \
	echo "== SQLite pass exit $$sqlite_status, PostgreSQL pass exit $$pg_status =="; \
	test "$$sqlite_status" -eq 0 && test "$$pg_status" -eq 0

screenshots: install-dev
	CONFIDE_SCREENSHOTS_DIR=$(CURDIR)/docs/img $(BIN)/python -m pytest -q tests/e2e/test_screenshots.py -p no:randomly

check: install-dev
	$(BIN)/confide check --deploy --fail-level WARNING

clean:
	rm -rf $(VENV) .venv-bench var
