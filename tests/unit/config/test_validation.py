"""Config is validated on the way in; every message says what is wrong and how to fix it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from sluice.config.database import create_config_engine, resolve_url
from sluice.config.migrate import upgrade
from sluice.config.repository import SOURCES, ConfigRepository
from sluice.core.errors import ConfigError, ConflictError, NotFoundError, SluiceError
from sluice.service.catalog import Catalog, TableChanges


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def config_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The same checks against both config database backends."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'c.db'}"
    url: str = request.getfixturevalue("pg_database")
    return resolve_url(url)


@pytest.fixture
def catalog(config_url: str) -> Iterator[Catalog]:
    engine = create_config_engine(config_url)
    upgrade(engine)
    catalog = Catalog(ConfigRepository(engine))
    catalog.add_source("shop", "sqlite", '{"path": "shop.db"}')
    catalog.add_destination("wh", "duckdb", '{"path": "wh.duckdb"}')
    yield catalog
    engine.dispose()


def table(**options: object) -> Callable[[Catalog], object]:
    base: dict[str, object] = {"source": "shop", "destination": "wh"}
    base.update(options)
    return lambda c: c.add_table("orders", TableChanges(**base))  # type: ignore[arg-type]


CASES: list[tuple[str, Callable[[Catalog], object], type[SluiceError], str]] = [
    (
        "unknown load type",
        table(load="fulll"),
        ConfigError,
        "load type 'fulll' (--load) is unknown: use 'full' or 'incremental'",
    ),
    (
        "unknown sink load type",
        table(sink_load="merge"),
        ConfigError,
        "load type 'merge' (--sink-load) is unknown",
    ),
    (
        "zero schedule",
        table(every=0),
        ConfigError,
        "schedule 0 (--every) must be a number of minutes from 1 to 5256000 (ten years)",
    ),
    ("negative sink schedule", table(sink_every=-5), ConfigError, "schedule -5 (--sink-every)"),
    (
        # Beyond what a date can hold: `status`, the API and the scheduler would fail on it.
        "schedule past year 9999",
        table(every=5_000_000_000),
        ConfigError,
        "schedule 5000000000 (--every) must be a number of minutes from 1 to 5256000",
    ),
    (
        "incremental without key",
        table(load="incremental"),
        ConfigError,
        "hop 1 (source_to_dl) is incremental but has no incremental key: give one with --key COL",
    ),
    (
        "missing source",
        table(source="nope"),
        NotFoundError,
        "no source named 'nope': see `sluice source list`",
    ),
    (
        "missing destination",
        table(destination="nope"),
        NotFoundError,
        "no destination named 'nope'",
    ),
    (
        "missing pipeline",
        table(pipeline="nightly"),
        ConfigError,
        "pipeline 'nightly' has no stages: use one of default",
    ),
    (
        "injection in table name",
        lambda c: c.add_table(
            "orders; DROP TABLE x", TableChanges(source="shop", destination="wh")
        ),
        ConfigError,
        "may not contain ';'",
    ),
    ("bad key name", table(load="incremental", key="a--b"), ConfigError, "incremental key (--key)"),
    ("repeated primary key", table(primary_key=["id", "id"]), ConfigError, "names a column twice"),
    (
        "duplicate source",
        lambda c: c.add_source("shop", "sqlite", '{"path": "x"}'),
        ConflictError,
        "a source named 'shop' exists already",
    ),
    (
        "malformed creds JSON",
        lambda c: c.add_source("s2", "sqlite", '{"path": '),
        ConfigError,
        "source creds are not valid JSON (Expecting value at line 1 column 10)",
    ),
    (
        "creds not an object",
        lambda c: c.add_source("s2", "sqlite", '["x"]'),
        ConfigError,
        "source creds must be a JSON object, not list",
    ),
    (
        "creds missing field",
        lambda c: c.add_source("s2", "sqlite", "{}"),
        ConfigError,
        'field \'path\' is required; expected JSON like {"path": "data/shop.db"}',
    ),
    (
        "creds unknown field",
        lambda c: c.add_source("s2", "sqlite", '{"path": "x", "pw": 1}'),
        ConfigError,
        "field 'pw' is not known",
    ),
    (
        "unknown source type",
        lambda c: c.add_source("s2", "oracle", "{}"),
        ConfigError,
        "unknown source type 'oracle': available source types are ",
    ),
    (
        "duckdb is no source",
        lambda c: c.add_source("s2", "duckdb", '{"path": "x"}'),
        ConfigError,
        "unknown source type 'duckdb'",
    ),
    (
        "bad connection name",
        lambda c: c.add_source("my source", "sqlite", '{"path": "x"}'),
        ConfigError,
        "source name 'my source' is not valid",
    ),
    (
        "keep no full snapshot",
        table(lake_keep_full=0),
        ConfigError,
        "full snapshots to keep 0 (--lake-keep-full) must be at least 1: the newest full "
        "snapshot is always kept; give '' for the default",
    ),
    (
        "keep a negative number of snapshots",
        table(lake_keep_full="-2"),
        ConfigError,
        "full snapshots to keep -2 (--lake-keep-full) must be at least 1",
    ),
    (
        "keep a fraction of a snapshot",
        table(lake_keep_full="1.5"),
        ConfigError,
        "full snapshots to keep '1.5' (--lake-keep-full) is not a whole number: give a number "
        "N >= 1, or '' for the default",
    ),
    (
        "keep a word of snapshots",
        table(lake_keep_full="three"),
        ConfigError,
        "full snapshots to keep 'three' (--lake-keep-full) is not a whole number",
    ),
    (
        "keep true snapshots",
        table(lake_keep_full=True),
        ConfigError,
        "full snapshots to keep 'True' (--lake-keep-full) is not a whole number",
    ),
    (
        "keep more snapshots than an INTEGER holds",
        table(lake_keep_full="9" * 5000),
        ConfigError,
        "(--lake-keep-full) is above 2147483647",
    ),
    (
        "unknown stage type",
        lambda c: c.add_stage("p", 1, "x", "transform", None),
        ConfigError,
        "stage type 'transform' is unknown",
    ),
    (
        "stage order taken",
        lambda c: c.add_stage("default", 1, "x", "extract", None),
        ConflictError,
        "pipeline 'default' has a stage at order 1 already",
    ),
]


@pytest.mark.parametrize(("label", "action", "error", "message"), CASES, ids=[c[0] for c in CASES])
def test_bad_input_is_refused_with_a_clear_message(
    catalog: Catalog,
    label: str,
    action: Callable[[Catalog], object],
    error: type[SluiceError],
    message: str,
) -> None:
    with pytest.raises(error) as caught:
        action(catalog)
    assert message in str(caught.value)


def test_nothing_is_stored_when_input_is_refused(catalog: Catalog) -> None:
    with pytest.raises(ConfigError):
        table(every=0)(catalog)
    assert catalog.repo.list_tables() == []


def test_duplicate_table_is_a_conflict(catalog: Catalog) -> None:
    table()(catalog)
    with pytest.raises(ConflictError, match="table 'orders' is configured already"):
        table()(catalog)


def test_edit_validates_the_merged_result(catalog: Catalog) -> None:
    table()(catalog)
    with pytest.raises(ConfigError, match="no incremental key"):
        catalog.edit_table("orders", TableChanges(load="incremental"))
    edited = catalog.edit_table("orders", TableChanges(load="incremental", key="updated_at"))
    assert edited.source_to_dl.incremental_key == "updated_at"
    assert edited.sink_tablename == "orders"


@pytest.mark.parametrize(
    ("given", "stored"), [(1, 1), ("5", 5), (" +07 ", 7), (2**31 - 1, 2**31 - 1)]
)
def test_full_snapshots_to_keep_are_stored_per_table(
    catalog: Catalog, given: int | str, stored: int
) -> None:
    assert table()(catalog).lake_keep_full is None  # type: ignore[attr-defined]
    edited = catalog.edit_table("orders", TableChanges(lake_keep_full=given))
    assert catalog.repo.get_table("orders").lake_keep_full == edited.lake_keep_full == stored
    untouched = catalog.edit_table("orders", TableChanges(every=5))
    assert untouched.lake_keep_full == stored
    assert catalog.edit_table("orders", TableChanges(lake_keep_full="")).lake_keep_full is None


def test_a_source_in_use_cannot_be_removed(catalog: Catalog) -> None:
    table()(catalog)
    with pytest.raises(ConflictError, match="used by table"):
        catalog.repo.remove_connection(SOURCES, "shop")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("config.db", "sqlite:///config.db"),
        ("sqlite:////abs/c.db", "sqlite:////abs/c.db"),
        ("postgresql://u@h:5432/db", "postgresql+psycopg://u@h:5432/db"),
        ("postgres://u@h/db", "postgresql+psycopg://u@h/db"),
    ],
)
def test_config_db_urls(raw: str, expected: str) -> None:
    assert resolve_url(raw) == expected


def test_unsupported_config_db_backend() -> None:
    with pytest.raises(ConfigError, match="backend 'mysql' is not supported"):
        resolve_url("mysql://root@localhost/x")
