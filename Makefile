# sluice: `make demo` runs the main job end to end; `make test` runs the whole suite.
# Both set themselves up on a fresh machine: a local virtualenv in .venv.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-dev

.PHONY: demo test lint services browser clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[all,dev]'
	touch $(VENV)/.installed $@

demo: $(VENV)/.installed
	$(BIN)/sluice demo --dir demo

services:
	bash scripts/ensure-services.sh

# The dashboard test drives Debian's Chromium (Playwright cannot download its own browser here).
browser:
	@command -v chromium >/dev/null || (apt-get update -qq && apt-get install -y -qq chromium)

lint: $(STAMP)
	$(BIN)/ruff check
	$(BIN)/mypy

# pytest: one worker per core (at most 4), each test file on one worker; the files share
# nothing but the services.
test: $(STAMP) services browser
	$(BIN)/ruff check
	$(BIN)/mypy
	$(BIN)/pytest -n auto --maxprocesses 4 --dist loadfile

clean:
	rm -rf $(VENV) demo lake databases/config_db/data .pytest_cache .mypy_cache .ruff_cache
