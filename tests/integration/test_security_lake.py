"""Safety of what the config database and the command line hand sluice: lake deletions stay
inside the lake, names cannot disguise themselves, a bad config database or deeply nested
JSON gives one line with the fix."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from sluice.config import schema
from sluice.config.database import create_config_engine, resolve_url
from sluice.core.errors import TerminalError
from sluice.lake.store import LakeStore
from tests.conftest import Sluice

CONFIG = Path("databases/config_db/data/config.db")


def test_gc_never_deletes_outside_the_lake(configured: Sluice, workdir: Path) -> None:
    configured("table edit Genre --lake-keep-full 1", ok=True)
    configured("run Genre --hop source_to_dl", ok=True)
    configured("run Genre --hop source_to_dl", ok=True)
    # A copy of the table's batches outside the lake, and a row written straight into the
    # config database (no validation) whose name leads there.
    victim = workdir / "victim"
    shutil.copytree(workdir / "lake/chinook/Genre", victim)
    engine = create_config_engine(resolve_url(None))
    with engine.begin() as c:
        row = dict(c.execute(sa.select(schema.pipeline_config)).mappings().one())
        row.update(source_tablename="../../victim", sink_tablename="victim")
        c.execute(schema.pipeline_config.insert().values(row))
    engine.dispose()
    result = configured("lake gc")
    assert result.code == 3
    assert result.err.strip().splitlines() == [
        "error: table name '../../victim' cannot name a directory in the lake: fix that row of "
        "the config database (pipeline_config) to a valid name"
    ]
    kept = ["batch=00000001", "batch=00000002", "metadata"]  # metadata: the Iceberg table's
    assert sorted(p.name for p in victim.iterdir()) == kept


def test_the_store_refuses_any_deletion_outside_its_root(tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    (lake / "src/t/batch=1").mkdir(parents=True)
    outside = tmp_path / "outside"
    (outside / "batch=1").mkdir(parents=True)
    (outside / "batch=1/keep.txt").write_text("mine")
    os.symlink(outside / "batch=1", lake / "src/t/batch=2")
    store = LakeStore(str(lake))
    for path in (
        store.path("src", "..", "..", "outside", "batch=1"),  # a name with ..
        store.path("src", "t", "batch=2"),  # a link out of the lake
        str(outside / "batch=1"),  # somewhere else entirely
        store.root,  # the lake itself
    ):
        with pytest.raises(TerminalError, match="is not inside the lake"):
            store.delete_dir(path)
        if path != store.root:
            with pytest.raises(TerminalError, match="is not inside the lake"):
                store.delete_file(path + "/keep.txt")
    assert (outside / "batch=1/keep.txt").read_text() == "mine"
    store.delete_dir(store.path("src", "t", "batch=1"))  # inside: removed as before
    assert not (lake / "src/t/batch=1").exists()


@pytest.mark.parametrize(
    ("command", "character"),
    [
        ("table add Genre\u202etxt --source chinook --destination wh", "U+202E"),
        ("table add Genre --source chinook --destination wh --sink-table G\u2067x", "U+2067"),
        ("table add Genre --source chinook --destination wh --primary-key Id\u200b", "U+200B"),
        ("stages add --pipeline p --order 1 --type extract --name Ex\u202atract", "U+202A"),
        ('source add sh\u202eop --type sqlite --creds \'{"path": "x"}\'', "source name"),
    ],
)
def test_names_with_bidirectional_or_invisible_characters_are_refused(
    sluice: Sluice, command: str, character: str
) -> None:
    sluice("init", ok=True)
    sluice('destination add wh --type sqlite --creds \'{"path": "w"}\' --no-check', ok=True)
    sluice('source add chinook --type sqlite --creds \'{"path": "c"}\' --no-check', ok=True)
    result = sluice(command)
    assert result.code == 3
    [line] = result.err.strip().splitlines()
    assert character in line and "\u202e" not in line and "\u2067" not in line
    assert sluice("table list --json", ok=True).json() == []


def test_deeply_nested_json_is_one_line(sluice: Sluice, workdir: Path) -> None:
    sluice("init", ok=True)
    deep = workdir / "deep.json"
    deep.write_text('{"path": ' + "[" * 100_000 + "]" * 100_000 + "}")
    for command, what in (
        (f"source add deep --type sqlite --creds @{deep}", "source creds nest too deeply"),
        (f"init --lake-options @{deep}", "--lake-options nest too deeply"),
    ):
        result = sluice(command)
        assert result.code == 3
        assert result.err.startswith(f"error: {what} to read") and result.err.count("\n") == 1


@pytest.fixture
def read_only() -> Iterator[None]:
    """The config database made read-only: immutable when tests run as root (chmod does
    nothing against root), plain mode 0444 otherwise."""
    root = os.geteuid() == 0
    if root:
        subprocess.run(["chattr", "+i", str(CONFIG)], check=True)
    else:
        CONFIG.chmod(0o444)
    yield
    if root:
        subprocess.run(["chattr", "-i", str(CONFIG)], check=True)


def test_a_read_only_config_database_is_one_line(configured: Sluice, read_only: None) -> None:
    assert configured("table list --json", ok=True).json()[0]["source_tablename"] == "Genre"
    result = configured("table add Track --source chinook --destination wh")
    assert (result.code, result.err.count("\n")) == (3, 1)
    assert result.err.startswith(f"error: the config database {CONFIG} is read-only")
    assert "make the file, and the directory it is in" in result.err


@pytest.mark.parametrize(
    ("damage", "says"),
    [
        (
            lambda db: db.write_bytes(b""),
            "is an empty file (0 bytes): if it held your config, "
            "restore it from a backup; to start afresh, run `sluice init`",
        ),
        (
            lambda db: db.write_bytes(db.read_bytes()[:5000]),
            "is not a SQLite database or is damaged: restore it from a backup",
        ),
        (lambda db: db.write_bytes(b"not sqlite" * 500), "is not a SQLite database or is damaged"),
    ],
    ids=["empty", "truncated", "garbage"],
)
def test_a_broken_config_database_is_one_line_with_the_fix(
    configured: Sluice, damage: object, says: str
) -> None:
    for leftover in CONFIG.parent.glob("config.db-*"):  # WAL and shared memory
        leftover.unlink()
    damage(CONFIG)  # type: ignore[operator]
    for command in ("table list", 'source add x --type sqlite --creds \'{"path": "x"}\'', "init"):
        result = configured(command)
        if command == "init" and "empty" in says:
            assert result.code == 0  # the fix it names: a fresh config database
            continue
        assert result.code == 3, command
        assert result.err.count("\n") == 1 and says in result.err, command
