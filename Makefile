# Support Portal — the two commands a newcomer needs: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
SUDO := $(shell [ "$$(id -u)" = "0" ] || echo sudo)
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: install run test lint check browser-deps mail-deps rt-deps bench preview load clean policy-docs

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e ".[test]"
	touch $@

install: $(VENV)/.installed

## Build the knowledge base, import the demo accounts (idempotent) and serve it on
## http://127.0.0.1:8000 (SQLite default). Mail is printed to the console.
## `make run CONTENT=examples/kolmisoft` serves a provider pack instead, with its own
## build, database and demo accounts (build/<pack>, var/<pack>.db, <pack>/accounts.yaml).
DEMO_EMAIL := anna@lindqvist.example
DEMO_ACCOUNT := HH-10234
CONTENT ?= content
ifeq ($(patsubst %/,%,$(CONTENT)),content)
RUN_ENV :=
RUN_ACCOUNTS := examples/accounts.yaml
RUN_DEMO := file a request as $(DEMO_EMAIL) (account $(DEMO_ACCOUNT), primary contact)
else
PACK := $(notdir $(patsubst %/,%,$(CONTENT)))
RUN_ENV := PORTAL_CONTENT_DIR=$(CONTENT) PORTAL_BUILD_DIR=build/$(PACK) PORTAL_DATABASE_URL=sqlite:///var/$(PACK).db
RUN_ACCOUNTS := $(CONTENT)/accounts.yaml
RUN_DEMO := file a request as a contact of $(RUN_ACCOUNTS)
endif
run: install
	$(RUN_ENV) $(BIN)/portal build
	$(RUN_ENV) $(BIN)/portal accounts import $(RUN_ACCOUNTS)
	@echo
	@echo "Demo: $(RUN_DEMO);"
	@echo "the filing link is printed below, between the mail's separator lines."
	@echo
	$(RUN_ENV) $(BIN)/portal serve

## Debian's Chromium for the browser tests (Playwright cannot download browsers here).
browser-deps:
	@command -v chromium >/dev/null 2>&1 || { \
		echo "Installing Debian's chromium for the browser tests"; \
		$(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq chromium >/dev/null; }

## Debian's Request Tracker 5 for the helpdesk tests (tests/support/rt.py starts a
## throw-away RT on SQLite in a temp dir; nothing is configured in /etc).
rt-deps:
	@[ -x /usr/share/request-tracker5/libexec/rt-server ] || { \
		echo "Installing Debian's request-tracker5 for the helpdesk tests"; \
		$(SUDO) apt-get update -qq && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
			request-tracker5 rt5-db-sqlite rt5-standalone rt5-clients dbconfig-no-thanks >/dev/null; }

## Debian's Dovecot IMAP server for the mail-in tests (tests/support/imap.py starts its own).
mail-deps:
	@[ -x /usr/sbin/dovecot ] || { \
		echo "Installing Debian's dovecot-imapd for the mail-in tests"; \
		$(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq dovecot-imapd >/dev/null; }

lint: install
	$(BIN)/ruff check portal kb tests bench scripts
	$(BIN)/ruff format --check portal kb tests bench scripts
	$(BIN)/mypy

check: install
	$(BIN)/portal check

## Regenerate the key tables of docs/policy.md from kb/policy/schema.py.
policy-docs: install
	$(BIN)/python -m kb.policy.reference --write docs/policy.md

## Everything: lint, types, content check, unit/HTTP/browser tests.
test: install browser-deps mail-deps rt-deps lint check
	@# two processes for everything but the browser (whole files per process, so module
	@# fixtures stay together), then the browser tests alone: under 10 minutes on 2 cores
	$(BIN)/pytest -q -n 2 --dist loadfile -m "not browser"
	$(BIN)/pytest -q -m browser

## Live preview for content editors: rebuilds on save, reloads open tabs, shows drafts.
preview: install
	$(BIN)/portal serve --reload

bench: install
	$(BIN)/python -m pip install -q -e ".[test,bench]"
	$(BIN)/python bench/run.py

## Load test on 127.0.0.1 (customers and staff agents): SQLite (1 process) and PostgreSQL (2 processes), 20 s each.
load: install
	$(BIN)/python bench/load.py

clean:
	rm -rf build var .pytest_cache .mypy_cache .ruff_cache
