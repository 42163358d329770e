# sluice: `make demo` runs the main job end to end; `make test` runs the whole suite.
# Both set themselves up on a fresh machine: a local virtualenv in .venv.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-dev
# BigQuery's stand-in for the tests (tests/bigquery_emulator.py) pins its own duckdb, so it
# lives in a virtualenv of its own; its spatial extension is installed from a wheel (DuckDB
# cannot download extensions here) into the HOME the emulator runs with.
BQEMU := .venv-bqemu
DUCKDB_EXTENSIONS := $(BQEMU)/home/.duckdb/extensions/v1.5.5/linux_amd64

.PHONY: demo test lint services browser bytecode clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[all,dev]'
	touch $(VENV)/.installed $@

$(BQEMU)/.installed:
	$(PYTHON) -m venv $(BQEMU)
	$(BQEMU)/bin/python -m pip install --quiet 'bqemulator==1.4.0' 'duckdb==1.5.5' \
		'duckdb-extension-spatial==1.5.5' 'numpy>=1.26'
	mkdir -p $(DUCKDB_EXTENSIONS)
	cp "$$($(BQEMU)/bin/python -c 'import duckdb_extension_spatial as e, pathlib; \
		print(next(pathlib.Path(e.__file__).parent.rglob("spatial.duckdb_extension")))')" \
		$(DUCKDB_EXTENSIONS)/
	touch $@

# pip compiles the libraries it installs but not an editable install's own modules: where
# PYTHONDONTWRITEBYTECODE is set, every sluice process would compile them again (~0.3 s).
# compileall only writes what changed since.
bytecode: $(VENV)/.installed
	$(BIN)/python -m compileall -q src

demo: $(VENV)/.installed bytecode
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
test: $(STAMP) $(BQEMU)/.installed services browser bytecode
	$(BIN)/ruff check
	$(BIN)/mypy
	$(BIN)/pytest -n auto --maxprocesses 4 --dist loadfile

clean:
	rm -rf $(VENV) $(BQEMU) demo lake databases/config_db/data .pytest_cache .mypy_cache .ruff_cache
