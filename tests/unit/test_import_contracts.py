"""The import rules of pyproject's [tool.importlinter] hold: the code follows the data flow
(config -> connectors -> lake -> stages -> service/engine -> executors/scheduler -> edges),
connector packages stand alone, and no shared module names a system."""

from __future__ import annotations

from pathlib import Path

import pytest
from importlinter import configuration
from importlinter.application.use_cases import lint_imports

PROJECT = Path(__file__).resolve().parents[2]


def test_the_import_contracts_hold(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(PROJECT)
    configuration.configure()  # what the lint-imports command does first
    passed = lint_imports(
        config_filename=str(PROJECT / "pyproject.toml"), cache_dir=str(tmp_path), no_logo=True
    )
    assert passed, "an import breaks a contract: the report above names it"
