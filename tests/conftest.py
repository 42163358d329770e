"""Shared fixtures: an in-process `sluice` command and paths to the shared datasets."""

from __future__ import annotations

import json
import os
import shlex
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

PROJECT = Path(__file__).resolve().parent.parent
# Beside the checkout; a git worktree elsewhere names it with SLUICE_SHARED.
SHARED = Path(os.environ.get("SLUICE_SHARED", str(PROJECT.parent / "shared")))
CHINOOK_SQLITE = SHARED / "datasets" / "chinook" / "Chinook_Sqlite.sqlite"
IN_CI = os.environ.get("CI", "").lower() == "true"


@dataclass
class CliResult:
    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)


Sluice = Callable[..., CliResult]


TEST_SECRET_KEY = "k3NcJ3G9B0YxM3mX2pQv8LkVnTf6RzWcA1sDyHuIoEg="  # a Fernet key, for tests only


@pytest.fixture(autouse=True)
def secret_key(monkeypatch: pytest.MonkeyPatch) -> str:
    """Every test encrypts creds with a known key unless it removes it to test key files."""
    monkeypatch.setenv("SLUICE_SECRET_KEY", TEST_SECRET_KEY)
    monkeypatch.delenv("SLUICE_SECRET_KEY_FILE", raising=False)
    return TEST_SECRET_KEY


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh working directory: the default config database and lake land inside it."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SLUICE_CONFIG_DB", raising=False)
    monkeypatch.delenv("SLUICE_LAKE", raising=False)
    monkeypatch.setenv("COLUMNS", "200")
    return tmp_path


@pytest.fixture
def sluice(workdir: Path, capsys: pytest.CaptureFixture[str]) -> Sluice:
    """Run the real `sluice` entry point in-process: sluice("table list --json")."""
    from sluice.cli.app import main

    def run(command: str, *extra: str, ok: bool | None = None) -> CliResult:
        argv = ["sluice", *shlex.split(command), *extra]
        old = sys.argv
        sys.argv = argv
        code = 0
        capsys.readouterr()
        try:
            main()
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        finally:
            sys.argv = old
        captured = capsys.readouterr()
        result = CliResult(code=code, out=captured.out, err=captured.err)
        if ok is True:
            assert code == 0, f"`sluice {command}` exited {code}: {result.err or result.out}"
        return result

    return run
