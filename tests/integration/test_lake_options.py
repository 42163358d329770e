"""`sluice init --lake-options`: checked before anything is stored, sealed, shown masked."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import Sluice

CONFIG_DB = Path("databases/config_db/data/config.db")
LAKE = "s3://lake/sluice"
SECRET = "Lake-Opt10ns-Pl4nted-S3cret-5521"
OPTIONS = {
    "endpoint_url": "http://127.0.0.1:9",
    "region": "eu-west-1",
    "access_key_id": "AKIALAKEOPTIONS",
    "secret_access_key": SECRET,
}


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (
            '{"region": "eu-west-1",',
            "--lake-options is not valid JSON (Expecting property name enclosed in double quotes "
            "at line 1 column 24): pass an object such as",
        ),
        ('["region"]', "--lake-options must be a JSON object, not list"),
        (
            '{"endpoint": "http://x", "region": "r"}',
            "unknown lake option(s) 'endpoint': use endpoint_url, region, access_key_id, "
            "secret_access_key, session_token",
        ),
        (
            '{"region": 5}',
            'lake option \'region\' must be a non-empty string or {"env": "NAME"}, not int',
        ),
        ('{"region": ""}', "lake option 'region' must be a non-empty string"),
        (
            '{"secret_access_key": {"variable": "X"}}',
            'lake option \'secret_access_key\' must be a non-empty string or {"env": "NAME"}',
        ),
        (
            '{"access_key_id": "AKIA"}',
            "lake options access_key_id and secret_access_key go together: give both, or neither "
            "to use the AWS chain's credentials",
        ),
    ],
)
def test_bad_lake_options_are_refused_before_anything_is_written(
    sluice: Sluice, workdir: Path, options: str, message: str
) -> None:
    refused = sluice(f"init --lake {LAKE} --lake-options '{options}'")
    assert refused.code == 3
    assert refused.err.strip().startswith(f"error: {message}")  # the full message, or its start
    assert not (workdir / CONFIG_DB).exists()


def test_the_options_need_an_s3_lake(sluice: Sluice, workdir: Path) -> None:
    sluice("init", ok=True)
    refused = sluice(f"init --lake-options '{json.dumps(OPTIONS)}'")
    assert refused.code == 3
    assert refused.err.strip() == (
        f"error: --lake-options apply to an S3 lake (s3://bucket/prefix), and the lake is "
        f"{workdir / 'lake'}: give --lake s3://... as well"
    )
    assert SECRET not in refused.out + refused.err
    assert sluice("lake options --json", ok=True).json() == {
        "lake": str(workdir / "lake"),
        "lake_options": None,
    }


@pytest.mark.parametrize("lake", ["--lake local/lake ", ""])
def test_options_for_a_local_lake_are_refused_before_anything_is_created(
    sluice: Sluice, workdir: Path, monkeypatch: pytest.MonkeyPatch, lake: str
) -> None:
    monkeypatch.delenv("SLUICE_SECRET_KEY")  # so init would create a key file
    refused = sluice(f"init {lake}--lake-options '{json.dumps(OPTIONS)}'")
    assert refused.code == 3
    shown = workdir / "local/lake" if lake else workdir / "lake"
    assert refused.err.strip() == (
        f"error: --lake-options apply to an S3 lake (s3://bucket/prefix), and the lake is "
        f"{shown}: give --lake s3://... as well"
    )
    assert SECRET not in refused.out + refused.err
    assert list(workdir.iterdir()) == []  # no config database, no key file, no directories


def test_options_need_an_s3_lake_where_the_environment_puts_the_lake(
    sluice: Sluice, workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SLUICE_LAKE", str(workdir / "elsewhere"))
    refused = sluice(f"init --lake {LAKE} --lake-options '{json.dumps(OPTIONS)}'")
    assert refused.code == 3 and f"and the lake is {workdir / 'elsewhere'}:" in refused.err
    assert list(workdir.iterdir()) == []


def test_options_are_sealed_shown_masked_kept_and_removed(sluice: Sluice, workdir: Path) -> None:
    outputs = []
    options_file = workdir / "lake-options.json"
    options_file.write_text(json.dumps(OPTIONS))
    created = sluice(f"init --lake {LAKE} --lake-options @{options_file} --json", ok=True)
    outputs.append(created.out + created.err)
    masked = {**OPTIONS, "secret_access_key": "***"}
    assert created.json()["lake_options"] == masked
    shown = sluice("lake options --json", ok=True)
    assert shown.json() == {"lake": LAKE, "lake_options": masked}
    text = sluice("lake options", ok=True)
    assert 'secret_access_key: "***"' in text.out and "AKIALAKEOPTIONS" in text.out
    again = sluice("init", ok=True)  # an upgrade or re-run keeps the options
    line = next(x for x in again.out.splitlines() if x.startswith("lake options: "))
    assert json.loads(line.removeprefix("lake options: ")) == masked
    outputs += [shown.out, text.out, again.out + again.err]
    assert sluice("lake options --json", ok=True).json()["lake_options"] == masked
    stored = (workdir / CONFIG_DB).read_bytes()
    assert SECRET.encode() not in stored and b"AKIALAKEOPTIONS" not in stored
    assert all(SECRET not in output for output in outputs)

    env_ref = {**OPTIONS, "secret_access_key": {"env": "LAKE_SECRET"}}
    replaced = sluice(f"init --lake-options '{json.dumps(env_ref)}' --json", ok=True)
    assert replaced.json()["lake_options"] == env_ref  # a reference names no secret: shown

    cleared = sluice("init --lake-options '{}' --json", ok=True)
    assert cleared.json()["lake_options"] is None
    assert sluice("lake options --json", ok=True).json()["lake_options"] is None


def test_options_that_cannot_be_decrypted_do_not_stop_an_upgrade(
    sluice: Sluice, workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sluice(f"init --lake {LAKE} --lake-options '{json.dumps(OPTIONS)}'", ok=True)
    monkeypatch.setenv("SLUICE_SECRET_KEY", "bXlzZWNvbmRrZXlteXNlY29uZGtleW15c2Vjb25ka2U=")
    result = sluice("init", ok=True)
    assert "warning: the creds of the lake options cannot be decrypted" in result.err
    refused = sluice("lake options")
    assert refused.code == 3 and "cannot be decrypted with the secret key in" in refused.err
