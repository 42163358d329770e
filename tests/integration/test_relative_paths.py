"""Relative SQLite/DuckDB paths: made absolute at add/edit, older relative ones reported."""

from __future__ import annotations

import shutil
from pathlib import Path

from sluice.config.repository import DESTINATIONS
from sluice.engine.services import Services
from tests.conftest import CHINOOK_SQLITE, Sluice


def test_a_relative_path_is_stored_absolute_and_said(sluice: Sluice, workdir: Path) -> None:
    shutil.copy(CHINOOK_SQLITE, workdir / "chinook.db")
    sluice("init", ok=True)
    added = sluice('source add src --type sqlite --creds \'{"path": "chinook.db"}\'', ok=True)
    assert f"path 'chinook.db' stored as '{workdir / 'chinook.db'}'" in added.err
    shown = sluice("source show src --json", ok=True).json()
    assert shown["creds"]["path"] == str(workdir / "chinook.db")
    sluice(
        'destination add wh --type duckdb --creds \'{"path": "/abs/wh.duckdb"}\' --no-check',
        ok=True,
    )
    (workdir / "out").mkdir()
    edited = sluice("destination edit wh --set path=out/wh.duckdb", ok=True)
    assert f"stored as '{workdir / 'out/wh.duckdb'}'" in edited.err
    assert sluice("destination show wh --json", ok=True).json()["creds"]["path"] == str(
        workdir / "out/wh.duckdb"
    )


def test_an_older_relative_path_is_reported_with_the_fix(sluice: Sluice, workdir: Path) -> None:
    sluice("init", ok=True)
    sluice(f'source add src --type sqlite --creds \'{{"path": "{CHINOOK_SQLITE}"}}\'', ok=True)
    sluice(f'destination add wh --type sqlite --creds \'{{"path": "{workdir}/wh.db"}}\'', ok=True)
    sluice("table add Genre --source src --destination wh", ok=True)
    services = Services.open(None)
    try:  # as an older version stored it, around the catalog
        services.repo.update_connection(DESTINATIONS, "wh", "sqlite", {"path": "data/wh.db"})
    finally:
        services.close()
    for command in ("table list", "status"):
        err = sluice(command, ok=True).err
        assert (
            "destination 'wh' has a relative path 'data/wh.db', read from whatever directory a "
            "run starts in: fix with `sluice destination edit wh --set "
            "path=/absolute/path/to/wh.db`"
        ) in err, command
        assert "source 'src'" not in err
