"""The secret key: never silently replaced, restorable from what errors say, rotated in one
transaction, kept private; listings survive creds no key at hand opens."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from sluice.api import create_app
from sluice.config.repository import SOURCES
from sluice.core.faults import KEY_POINTS
from sluice.engine.services import Services
from tests.conftest import Sluice

DATA = Path("databases/config_db/data")
KEY = DATA / "secret.key"
OTHER_KEY = "bXlzZWNvbmRrZXlteXNlY29uZGtleW15c2Vjb25ka2U="
PG = {"host": "127.0.0.1", "port": 1, "user": "app", "password": "Sealed-Pw-91", "database": "x"}
S3 = {"endpoint_url": "http://127.0.0.1:1", "access_key_id": "AK", "secret_access_key": "Lk-5"}


@pytest.fixture
def keyed(sluice: Sluice, workdir: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Sluice]:
    """A config database whose creds and lake options are sealed with a key file."""
    monkeypatch.delenv("SLUICE_SECRET_KEY")
    sluice(f"init --lake s3://lake/x --lake-options '{json.dumps(S3)}'", ok=True)
    sluice(f"source add pg --type postgres --creds '{json.dumps(PG)}' --no-check", ok=True)
    sluice('destination add wh --type duckdb --creds \'{"path": "wh.duckdb"}\'', ok=True)
    yield sluice


def sealed_values() -> list[str]:
    with sqlite3.connect(DATA / "config.db") as c:
        return [
            row[0]
            for query in (
                "SELECT source_creds FROM sources_config",
                "SELECT destination_creds FROM destinations_config",
                "SELECT value FROM sluice_settings WHERE key = 'lake_options'",
                "SELECT url FROM sluice_alert_targets",
            )
            for row in c.execute(query)
        ]


def test_init_never_replaces_a_missing_key_while_values_are_sealed(keyed: Sluice) -> None:
    backup = KEY.read_bytes()
    KEY.unlink()
    refused = keyed("init")
    assert refused.code == 3
    assert refused.err.strip() == (
        f"error: the secret key file {KEY.absolute()} is missing, and 3 value(s) in the config "
        "database are sealed with a key: restore that file from a backup (or set "
        "SLUICE_SECRET_KEY to that key); `sluice init` does not make a new key, which could "
        "not open them"
    )
    assert not KEY.exists()
    missing = keyed("source show pg")
    assert missing.code == 3
    assert f"{KEY} is missing. If credentials were stored before, restore that file" in missing.err
    assert "`sluice init` creates one" in missing.err  # only for a new installation
    KEY.write_bytes(backup)
    KEY.chmod(0o600)
    assert keyed("source show pg --json", ok=True).json()["creds"]["host"] == "127.0.0.1"


def test_a_key_file_others_can_read_is_refused(keyed: Sluice) -> None:
    KEY.chmod(0o644)
    refused = keyed("source show pg")
    assert refused.code == 3
    assert refused.err.strip() == (
        f"error: the secret key file {KEY.absolute()} may be read by other users (mode 0644): "
        f"run `chmod 600 {KEY.absolute()}`, so that only its owner can read it"
    )
    KEY.chmod(0o640)
    assert "mode 0640" in keyed("source list").err
    KEY.chmod(0o600)
    keyed("source show pg", ok=True)


def test_creds_sealed_with_another_key_are_marked_not_fatal(
    keyed: Sluice, workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SLUICE_SECRET_KEY", OTHER_KEY)  # not the key they were sealed with
    keyed('source add lite --type sqlite --creds \'{"path": "x.db"}\' --no-check', ok=True)
    listed = {r["name"]: r for r in keyed("source list --json", ok=True).json()}
    assert listed["lite"]["creds"] == {"path": str(workdir / "x.db")}  # stored absolute
    assert "unreadable" not in listed["lite"]
    assert listed["pg"]["creds"] is None
    assert listed["pg"]["unreadable"].startswith(
        "the creds of source 'pg' cannot be decrypted with the secret key in SLUICE_SECRET_KEY: "
        "restore the key they were sealed with"
    )
    assert "`sluice source edit pg --creds JSON`" in listed["pg"]["unreadable"]
    table = keyed("source list")
    assert "CANNOT UNSEAL" in table.out and "warning: the creds of source 'pg'" in table.err
    shown = keyed("source show pg")
    assert shown.code == 3 and "restore the key they were sealed with" in shown.err
    # The API's listing marks it too.
    token = keyed("token create --role viewer", ok=True).out.strip()
    services = Services.open(None)
    with TestClient(create_app(services)) as client:
        answer = client.get("/api/sources", headers={"Authorization": f"Bearer {token}"})
    services.close()
    assert answer.status_code == 200
    assert {r["name"]: r["creds"] is None for r in answer.json()} == {"lite": False, "pg": True}
    # The fix the message names: enter the creds again; or remove the connection.
    keyed(f"source edit pg --creds '{json.dumps(PG)}' --no-check", ok=True)
    assert keyed("source show pg --json", ok=True).json()["creds"]["password"] == "***"
    keyed('destination add gone --type duckdb --creds \'{"path": "g"}\'', ok=True)
    monkeypatch.setenv("SLUICE_SECRET_KEY", "A" * 43 + "=")
    keyed("destination remove gone", ok=True)


def test_rotate_reseals_everything_under_a_new_key(keyed: Sluice) -> None:
    keyed("alerts add team json://127.0.0.1:9/hook-T0K", ok=True)
    old_key = KEY.read_text()
    before = sealed_values()
    services = Services.open(None)  # a process that was running before the rotation
    result = keyed("key rotate --json", ok=True).json()
    assert result == {"resealed": 4, "key_file": str(KEY.absolute()), "pending": False}
    assert KEY.read_text() != old_key and stat.S_IMODE(KEY.stat().st_mode) == 0o600
    assert not Path(f"{KEY}.new").exists()
    after = sealed_values()
    assert all(v.startswith("fernet:v1:") for v in after) and set(after).isdisjoint(before)
    assert keyed("source show pg --json", ok=True).json()["creds"]["host"] == "127.0.0.1"
    assert keyed("lake options --json", ok=True).json()["lake_options"]["access_key_id"] == "AK"
    assert keyed("alerts list --json", ok=True).json() == [
        {"name": "team", "url": "json://127.0.0.1/***", "tables": None}
    ]
    # A process opened before the rotation opens and seals with the new key from now on.
    assert services.repo.get_connection(SOURCES, "pg").creds["password"] == PG["password"]
    services.close()
    KEY.write_text(old_key)  # the old key opens nothing any more
    KEY.chmod(0o600)
    assert "cannot be decrypted" in keyed("source show pg").err


def test_rotate_changes_nothing_when_a_value_is_sealed_with_another_key(
    keyed: Sluice, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = KEY.read_text()
    monkeypatch.setenv("SLUICE_SECRET_KEY", OTHER_KEY)
    keyed('source add lite --type sqlite --creds \'{"path": "x.db"}\' --no-check', ok=True)
    monkeypatch.delenv("SLUICE_SECRET_KEY")
    before = sealed_values()
    refused = keyed("key rotate")
    assert refused.code == 3
    assert "the source 'lite' is sealed with another key" in refused.err
    assert "nothing was rotated" in refused.err
    assert sealed_values() == before and KEY.read_text() == key
    assert not Path(f"{KEY}.new").exists()


def test_rotate_with_the_key_in_the_environment_leaves_the_new_key_in_a_file(
    sluice: Sluice, monkeypatch: pytest.MonkeyPatch
) -> None:
    sluice("init", ok=True)
    sluice(f"source add pg --type postgres --creds '{json.dumps(PG)}' --no-check", ok=True)
    result = sluice("key rotate", ok=True)
    pending = KEY.absolute().with_name("secret.key.new")
    assert f"the new key is in {pending}: set SLUICE_SECRET_KEY to its contents" in result.out
    assert stat.S_IMODE(pending.stat().st_mode) == 0o600
    assert sluice("source show pg").code == 3  # the old key in the environment opens nothing
    monkeypatch.setenv("SLUICE_SECRET_KEY", pending.read_text())
    assert sluice("source show pg --json", ok=True).json()["creds"]["user"] == "app"


@pytest.mark.parametrize("point", KEY_POINTS)
def test_a_rotation_killed_at_any_point_leaves_a_key_that_opens_everything(
    keyed: Sluice, workdir: Path, point: str
) -> None:
    old_key = KEY.read_text()
    killed = subprocess.run(
        [sys.executable, "-m", "sluice", "key", "rotate"],
        env={**os.environ, "SLUICE_CRASH_AT": point},
        cwd=workdir,
        capture_output=True,
    )
    assert killed.returncode == -signal.SIGKILL
    pending = KEY.absolute().with_name("secret.key.new")
    if point == "key:before_commit":  # nothing committed: the old key, and no leftover needed
        assert KEY.read_text() == old_key
        keyed("source show pg", ok=True)
        again = keyed("key rotate")
        assert again.code == 3 and "an earlier `sluice key rotate` was cut short" in again.err
        pending.unlink()  # as the message says, when secrets open
        keyed("key rotate", ok=True)
        keyed("source show pg", ok=True)
        return
    # Committed, the key file not yet replaced: the error says where the new key is.
    refused = keyed("source show pg")
    assert refused.code == 3
    assert f"{pending} exists: a `sluice key rotate` was cut short" in refused.err
    pending.replace(KEY)
    assert keyed("source show pg --json", ok=True).json()["creds"]["user"] == "app"
