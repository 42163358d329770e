# sluice: `make demo` runs the main job end to end; `make test` runs the whole suite.
# Both set themselves up on a fresh machine: a local virtualenv in .venv.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-dev

.PHONY: demo test lint services clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(VENV)/.installed $@

demo: $(VENV)/.installed
	$(BIN)/sluice demo --dir demo

services:
	bash scripts/ensure-services.sh

lint: $(STAMP)
	$(BIN)/ruff check
	$(BIN)/mypy

test: $(STAMP) services
	$(BIN)/ruff check
	$(BIN)/mypy
	$(BIN)/pytest

clean:
	rm -rf $(VENV) demo lake databases/config_db/data .pytest_cache .mypy_cache .ruff_cache
