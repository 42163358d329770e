"""The Salesforce source against its stand-in (tests/salesforce_fake.py: HTTPS, Salesforce's
REST and Bulk API 2.0 shapes): every field type exact through the lake into DuckDB, REST
paging and a Bulk job giving the same rows, incremental on SystemModstamp, deleted records by
queryAll, the three OAuth logins, and errors in one line (a refused login, the API limit, an
unknown object or key)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime, time
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tests import salesforce_fake
from tests.conformance.systems import DuckDBSystem
from tests.conftest import Sluice

FIELDS: list[dict[str, Any]] = [
    {"name": "Id", "type": "id"},
    {"name": "Name", "type": "string"},
    {"name": "IsActive__c", "type": "boolean"},
    {"name": "Employees", "type": "int"},
    {"name": "AnnualRevenue", "type": "currency", "precision": 18, "scale": 2},
    {"name": "Share__c", "type": "percent", "precision": 5, "scale": 2},
    {"name": "Score__c", "type": "double", "precision": 18, "scale": 6},
    {"name": "Founded__c", "type": "date"},
    {"name": "SystemModstamp", "type": "datetime"},
    {"name": "Opens__c", "type": "time"},
    {"name": "Notes__c", "type": "textarea"},
    {"name": "BillingAddress", "type": "address"},
    {"name": "BillingCity", "type": "string"},
    {"name": "Logo__c", "type": "base64"},
    {"name": "IsDeleted", "type": "boolean"},
]
T0 = datetime(2024, 1, 15, 10, 20, 30, 123000, tzinfo=UTC)


def _record(n: int, at: datetime = T0, **changes: Any) -> dict[str, Any]:
    record = {
        "Id": f"001{n:015d}", "Name": f"Acme {n} 🎉 'q'", "IsActive__c": n % 2 == 0,
        "Employees": n * 1000, "AnnualRevenue": Decimal("9999999999999999.99") - n,
        "Share__c": Decimal("12.50"), "Score__c": Decimal("0.000001") * n,
        "Founded__c": date(1999, 12, 31), "SystemModstamp": at, "Opens__c": time(9, 30, 0, 5000),
        "Notes__c": None if n == 3 else "line 1\nline 2, \"quoted\"", "BillingCity": "Zürich",
        "Logo__c": "/services/data/v61.0/sobjects/Account/x/Logo__c", "IsDeleted": False,
    }  # fmt: skip
    return record | changes


@pytest.fixture
def org(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[salesforce_fake.FakeSalesforce]:
    fake = salesforce_fake.FakeSalesforce(tmp_path)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(fake.ca_bundle))
    monkeypatch.setenv("SLUICE_RETRY_BASE", "0.01")
    fake.org.objects["Account"] = salesforce_fake.SObject(FIELDS, [_record(n) for n in range(1, 6)])
    yield fake
    fake.stop()


def _configure(sluice: Sluice, workdir: Path, creds: dict[str, Any], *options: str) -> DuckDBSystem:
    warehouse = DuckDBSystem(workdir / "wh.duckdb")
    sluice("init", ok=True)
    sluice("source add sf --type salesforce --creds", json.dumps(creds), ok=True)
    sluice("destination add wh --type duckdb --creds", json.dumps(warehouse.creds()), ok=True)
    sluice("table add Account --source sf --destination wh --primary-key Id", *options, ok=True)
    return warehouse


def _expected(records: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    kept = [f["name"] for f in FIELDS if f["type"] not in ("address", "base64")]
    return [tuple(r.get(name) for name in kept) for r in sorted(records, key=lambda r: r["Id"])]


def _as_read(rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """DuckDB's answers: timestamps in the session's zone, made UTC for comparing."""
    return [tuple(v.astimezone(UTC) if isinstance(v, datetime) else v for v in r) for r in rows]


@pytest.mark.parametrize("path", ["rest", "bulk"])
def test_every_field_type_arrives_exactly_by_rest_pages_and_by_a_bulk_job(
    sluice: Sluice,
    workdir: Path,
    org: salesforce_fake.FakeSalesforce,
    monkeypatch: pytest.MonkeyPatch,
    path: str,
) -> None:
    org.org.page_size = 2  # five records: three REST pages
    monkeypatch.setenv("SLUICE_READ_BATCH_ROWS", "2")  # and three Bulk result pages
    threshold = 1_000_000 if path == "rest" else 1
    warehouse = _configure(sluice, workdir, org.creds(bulk_threshold=threshold))
    ran = sluice("run Account --json", ok=True).json()
    assert ran["status"] == "success"
    assert _as_read(warehouse.rows("Account", '"Id"')) == _expected(
        org.org.objects["Account"].records
    )
    warned = " ".join(w for s in ran["stages"] for w in (s.get("warnings") or []))
    assert "Logo__c (base64)" in warned
    calls = " ".join(org.org.calls)
    assert ("jobs/query" in calls) == (path == "bulk")
    if path == "bulk":
        assert sum("/results" in c for c in org.org.calls) == 3
    else:
        assert sum(c.startswith("GET /services/data/v61.0/query/") for c in org.org.calls) >= 3


def test_incremental_reads_take_each_new_version_once_and_deleted_records_by_query_all(
    sluice: Sluice, workdir: Path, org: salesforce_fake.FakeSalesforce
) -> None:
    records = org.org.objects["Account"].records
    warehouse = _configure(
        sluice, workdir, org.creds(include_deleted=True), "--load", "incremental",
        "--key", "SystemModstamp", "--sink-load", "incremental",
    )  # fmt: skip
    sluice("run Account", ok=True)
    later = T0.replace(hour=11)
    records[0] |= {"Name": "Acme 1 renamed", "SystemModstamp": later}
    records[1] |= {"IsDeleted": True, "SystemModstamp": later}
    records.append(_record(6, at=T0))  # late, at the old watermark: still read once
    shown = sluice("run Account --json", ok=True).json()
    extract = next(s for s in shown["stages"] if s["stage_type"] == "extract")
    assert extract["rows_processed"] == 3
    assert _as_read(warehouse.rows("Account", '"Id"')) == _expected(records)
    assert sluice("run Account --json", ok=True).json()["stages"][1]["rows_processed"] == 0


def test_logins_by_password_and_jwt_and_a_refused_one_in_one_line(
    sluice: Sluice, org: salesforce_fake.FakeSalesforce
) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    org.org.jwt_public_key = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()  # fmt: skip
    sluice("init", ok=True)
    base = {"instance_url": org.url, "client_id": salesforce_fake.CLIENT_ID}
    password = {
        **org.creds(),
        "username": salesforce_fake.USERNAME,
        "password": salesforce_fake.PASSWORD,
        "security_token": salesforce_fake.TOKEN,
    }
    jwt_creds = {**base, "username": salesforce_fake.USERNAME, "private_key": pem}
    for name, creds in (("pw", password), ("jwt", jwt_creds)):
        added = sluice(f"source add {name} --type salesforce --creds", json.dumps(creds), ok=True)
        assert "daily API requests left" in added.err  # the check's line
    shown = sluice("source show jwt --json", ok=True).out
    assert "PRIVATE KEY" not in shown and pem.splitlines()[1] not in shown
    wrong = {**org.creds(), "client_secret": "not-the-secret-3f"}
    refused = sluice("source add bad --type salesforce --creds", json.dumps(wrong))
    assert refused.code != 0
    assert "refused the client credentials login: authentication failure" in refused.err
    assert "not-the-secret-3f" not in refused.err and len(refused.err.strip().splitlines()) == 1
    plain = sluice(
        "source add insecure --type salesforce --creds",
        json.dumps({**org.creds(), "instance_url": "http://acme.my.salesforce.com"}),
    )
    assert plain.code != 0 and "must be the org's https URL" in plain.err


def test_the_api_limit_an_unknown_object_and_an_unknown_key_fail_naming_the_fix(
    sluice: Sluice, workdir: Path, org: salesforce_fake.FakeSalesforce
) -> None:
    _configure(sluice, workdir, org.creds())
    missing = sluice("table add Acount --source sf --destination wh")
    assert missing.code != 0 and "did you mean 'Account'" in missing.err
    sluice("table edit Account --load incremental --key Modstamp --no-check", ok=True)
    wrong_key = sluice("run Account --json").json()
    assert (
        "incremental key 'Modstamp' (did you mean 'SystemModstamp'?)" in wrong_key["error_message"]
    )
    sluice("table edit Account --key SystemModstamp", ok=True)
    org.org.requests_left = 0
    limited = sluice("run Account --json").json()
    assert limited["status"] == "failed"
    assert "API request limit is used up" in limited["error_message"]
    assert "REQUEST_LIMIT_EXCEEDED" in limited["error_message"]


def test_discover_lists_the_orgs_objects_and_a_document_matches_them(
    sluice: Sluice, workdir: Path, org: salesforce_fake.FakeSalesforce
) -> None:
    org.org.objects["Invoice__c"] = salesforce_fake.SObject(
        [{"name": "Id", "type": "id"}, {"name": "SystemModstamp", "type": "datetime"}],
        [{"Id": "a01000000000001", "SystemModstamp": T0}],
    )
    _configure(sluice, workdir, org.creds())
    found = {e["table"]: e for e in sluice("discover sf --json", ok=True).json()}
    assert set(found) == {"Account", "Invoice__c"}
    assert found["Account"]["rows_estimate"] == 5
    assert found["Account"]["primary_key"] == ["Id"]
    assert found["Account"]["incremental_keys"][0]["column"] == "SystemModstamp"
    document = workdir / "sf.yaml"
    document.write_text(
        "tables:\n  - match: '*__c'\n    source: sf\n    destination: wh\n"
        "    load: incremental\n    key: SystemModstamp\n"
    )
    applied = sluice(f"apply {document} --json", ok=True).json()
    assert [(s["action"], s["name"]) for s in applied["steps"]] == [("add", "Invoice__c")]
    sluice("run Invoice__c", ok=True)
