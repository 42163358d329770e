"""Credentials: encrypted at rest, or env references; never printed, stored plain or leaked."""

from __future__ import annotations

import json
import sqlite3
import stat
from pathlib import Path

import pytest

from tests.conftest import Sluice

SECRET = "Pl4nted-S3cret-4471"
PG_CREDS = {"host": "127.0.0.1", "port": 1, "user": "app", "password": SECRET, "database": "shop"}


def test_init_creates_a_private_key_file_and_creds_are_sealed(
    sluice: Sluice, workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SLUICE_SECRET_KEY")
    result = sluice("init", ok=True)
    key_file = workdir / "databases/config_db/data/secret.key"
    assert f"secret key created: {key_file}" in result.out
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    sluice(f"source add pg --type postgres --creds '{json.dumps(PG_CREDS)}' --no-check", ok=True)
    sluice("init", ok=True)  # a second init keeps the key
    database = workdir / "databases/config_db/data/config.db"
    sluice('destination add wh --type duckdb --creds \'{"path": "wh.duckdb"}\'', ok=True)
    raw = b"".join(p.read_bytes() for p in database.parent.glob("config.db*"))
    assert SECRET.encode() not in raw
    with sqlite3.connect(database) as c:
        stored = c.execute("SELECT source_creds FROM sources_config").fetchone()[0]
    assert stored.startswith("fernet:v1:")
    shown = sluice("source show pg --json", ok=True).json()
    assert shown["creds"]["password"] == "***" and shown["creds"]["host"] == "127.0.0.1"


def test_a_secret_never_appears_in_any_output(sluice: Sluice, workdir: Path) -> None:
    sluice("init", ok=True)
    sluice(f"source add pg --type postgres --creds '{json.dumps(PG_CREDS)}' --no-check", ok=True)
    url_creds = {"url": f"postgresql://app:{SECRET}@127.0.0.1:1/shop"}
    sluice(
        f"destination add pgd --type postgres --creds '{json.dumps(url_creds)}' --no-check", ok=True
    )
    sluice("table add orders --source pg --destination pgd --no-check", ok=True)
    outputs = [
        sluice(command)
        for command in (
            "source list",
            "source list --json",
            "source show pg",
            "source show pg --json",
            "destination list --json",
            "destination show pgd",
            "source test pg",
            "destination test pgd",
            "run orders",
            "run orders --json",
            "runs --json",
            "runs show 1",
            "runs show 1 --json",
            "table show orders --json",
            "status --json",
        )
    ]
    for result in outputs:
        assert SECRET not in result.out + result.err
    assert outputs[6].code == 1 and "127.0.0.1" in outputs[6].err  # the failure is explained
    raw = b"".join(p.read_bytes() for p in (workdir / "databases/config_db/data").glob("*"))
    assert SECRET.encode() not in raw


def test_env_references_keep_the_secret_out_of_the_database(
    sluice: Sluice, workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sluice("init", ok=True)
    creds = {**PG_CREDS, "password": {"env": "SHOP_PG_PASSWORD"}}
    sluice(f"source add pg --type postgres --creds '{json.dumps(creds)}' --no-check", ok=True)
    sluice('destination add wh --type duckdb --creds \'{"path": "wh.duckdb"}\'', ok=True)
    shown = sluice("source show pg --json", ok=True).json()
    assert shown["creds"]["password"] == {"env": "SHOP_PG_PASSWORD"}
    missing = sluice("source test pg")
    assert missing.code == 3
    assert "refers to environment variable SHOP_PG_PASSWORD, which is not set" in missing.err
    monkeypatch.setenv("SHOP_PG_PASSWORD", SECRET)
    tested = sluice("source test pg")
    assert tested.code == 1  # nothing listens on port 1; the password was used, never shown
    assert SECRET not in tested.err + tested.out


def test_the_wrong_key_is_a_clear_error(
    sluice: Sluice, workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sluice("init", ok=True)
    sluice(f"source add pg --type postgres --creds '{json.dumps(PG_CREDS)}' --no-check", ok=True)
    monkeypatch.setenv("SLUICE_SECRET_KEY", "A" * 43 + "=")
    result = sluice("source show pg")
    assert result.code == 3
    assert "cannot be decrypted with the secret key in" in result.err
    monkeypatch.setenv("SLUICE_SECRET_KEY", "short")
    assert "is not a valid key" in sluice("source show pg").err


def test_plain_creds_from_a_seed_made_database_still_work(sluice: Sluice, workdir: Path) -> None:
    sluice("init", ok=True)
    with sqlite3.connect(workdir / "databases/config_db/data/config.db") as c:
        c.execute(
            "INSERT INTO sources_config (id, source_name, source_type, source_creds) VALUES "
            "('0190a1b2-0000-7000-8000-000000000001', 'legacy', 'sqlite', '{\"path\": \"x.db\"}')"
        )
    assert sluice("source show legacy --json", ok=True).json()["creds"] == {"path": "x.db"}


def test_lake_option_secrets_are_scrubbed_from_run_errors(
    sluice: Sluice, workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SLUICE_STAGE_MODULES", "tests.plugins.leaky_stage")
    monkeypatch.setenv("SLUICE_TEST_LEAK", SECRET)
    options = {
        "endpoint_url": "http://127.0.0.1:1",
        "access_key_id": "AKIDLAKE",
        "secret_access_key": SECRET,
    }
    sluice(f"init --lake s3://lake/x --lake-options '{json.dumps(options)}'", ok=True)
    sluice('source add src --type sqlite --creds \'{"path": "src.db"}\' --no-check', ok=True)
    sluice('destination add wh --type duckdb --creds \'{"path": "wh.duckdb"}\'', ok=True)
    sluice("stages add --pipeline leaky --order 1 --type test_leak_secret --name Leak", ok=True)
    sluice("table add t --source src --destination wh --pipeline leaky --no-check", ok=True)

    outputs = [sluice("run t --hop source_to_dl --json"), sluice("runs show 1 --json")]

    error = outputs[1].json()["stages"][0]["error_message"]
    assert "could not sign the request with ***" in error
    for result in outputs:
        assert SECRET not in result.out + result.err
    raw = b"".join(p.read_bytes() for p in (workdir / "databases/config_db/data").glob("*"))
    assert SECRET.encode() not in raw


def test_an_unreadable_key_file_is_a_config_error_naming_it(
    sluice: Sluice, workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SLUICE_SECRET_KEY")
    key_file = workdir / "databases/config_db/data/secret.key"
    key_file.mkdir(parents=True)  # a directory where the key file should be

    result = sluice("init")

    assert result.code == 3
    assert result.err.startswith(f"error: cannot create the secret key file {key_file}")
    key_file.rmdir()
    sluice("init", ok=True)
    sluice(f"source add pg --type postgres --creds '{json.dumps(PG_CREDS)}' --no-check", ok=True)
    key_file.unlink()
    key_file.mkdir()
    shown = sluice("source show pg")
    assert shown.code == 3
    assert shown.err.startswith("error: cannot read the secret key file ")
    assert "secret.key: Is a directory; make it a readable file" in shown.err
    assert "lake" not in shown.err
