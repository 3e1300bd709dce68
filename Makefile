# Support Portal — the two commands a newcomer needs: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
SUDO := $(shell [ "$$(id -u)" = "0" ] || echo sudo)
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: install run test lint check browser-deps bench preview load clean policy-docs

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e ".[test]"
	touch $@

install: $(VENV)/.installed

## Build the knowledge base and serve it on http://127.0.0.1:8000 (SQLite default).
run: install
	$(BIN)/portal build
	$(BIN)/portal serve

## Debian's Chromium for the browser tests (Playwright cannot download browsers here).
browser-deps:
	@command -v chromium >/dev/null 2>&1 || { \
		echo "Installing Debian's chromium for the browser tests"; \
		$(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq chromium >/dev/null; }

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
test: install browser-deps lint check
	$(BIN)/pytest -q

## Live preview for content editors: rebuilds on save, reloads open tabs, shows drafts.
preview: install
	$(BIN)/portal serve --reload

bench: install
	$(BIN)/python -m pip install -q -e ".[test,bench]"
	$(BIN)/python bench/run.py

## Load test on 127.0.0.1: SQLite (1 process) and PostgreSQL (2 processes), 20 s each.
load: install
	$(BIN)/python bench/load.py

clean:
	rm -rf build var .pytest_cache .mypy_cache .ruff_cache
