"""The MySQL source against the real MariaDB: every type exactly, bounds, snapshot, errors."""

from __future__ import annotations

import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pytest

from sluice.connectors.base import ReadRequest
from sluice.connectors.mysql.config import MySQLCreds
from sluice.connectors.mysql.source import MySQLSource
from sluice.connectors.mysql.types import declared_type_of
from sluice.core.errors import StageError, TerminalError, TransientError
from sluice.core.models import TableRef
from tests.services import mysql_admin

pytestmark = pytest.mark.mysql

MAX_65 = "9" * 35 + "." + "9" * 30
# (declared type, SQL literals inserted, values read back, Arrow type)
TYPES: list[tuple[str, list[str], list[Any], pa.DataType]] = [
    ("tinyint", ["-128", "127"], [-128, 127], pa.int8()),
    ("tinyint unsigned", ["0", "255"], [0, 255], pa.uint8()),
    ("bool", ["FALSE", "TRUE", "127"], [0, 1, 127], pa.int8()),
    ("smallint", ["-32768", "32767"], [-32768, 32767], pa.int16()),
    ("smallint unsigned", ["65535"], [65535], pa.uint16()),
    ("mediumint", ["-8388608", "8388607"], [-8388608, 8388607], pa.int32()),
    ("mediumint unsigned", ["16777215"], [16777215], pa.uint32()),
    ("int", ["-2147483648", "2147483647"], [-(2**31), 2**31 - 1], pa.int32()),
    ("int unsigned", ["4294967295"], [2**32 - 1], pa.uint32()),
    ("bigint", [str(-(2**63)), str(2**63 - 1)], [-(2**63), 2**63 - 1], pa.int64()),
    ("bigint unsigned", [str(2**64 - 1), str(2**63)], [2**64 - 1, 2**63], pa.uint64()),
    ("decimal(5,2)", ["-999.99", "0.01"], [Decimal("-999.99"), Decimal("0.01")],
     pa.decimal128(5, 2)),
    ("decimal(18,4)", ["99999999999999.9999", "-99999999999999.9999", "0.0001"],
     [Decimal("99999999999999.9999"), Decimal("-99999999999999.9999"), Decimal("0.0001")],
     pa.decimal128(18, 4)),
    ("decimal(18,0)", ["-999999999999999999", "999999999999999999"],
     [Decimal("-999999999999999999"), Decimal("999999999999999999")], pa.decimal128(18, 0)),
    ("decimal(18,18)", ["0.000000000000000001", "-0.999999999999999999"],
     [Decimal("0.000000000000000001"), Decimal("-0.999999999999999999")],
     pa.decimal128(18, 18)),
    ("decimal(10,2) unsigned", ["99999999.99", "0"], [Decimal("99999999.99"), Decimal("0.00")],
     pa.decimal128(10, 2)),
    # Read natively (connectorx's 28 digits at scale 10) at the edge of what that holds,
    # and beside it a scale past 10, which connectorx would round (0.00000000001 -> 0).
    ("decimal(28,10)", ["9" * 18 + "." + "9" * 10, "-0.0000000001"],
     [Decimal("9" * 18 + "." + "9" * 10), Decimal("-0.0000000001")], pa.decimal128(28, 10)),
    ("decimal(12,11)", ["9.99999999999", "-0.00000000001"],
     [Decimal("9.99999999999"), Decimal("-0.00000000001")], pa.decimal128(12, 11)),
    ("decimal(19,2)", ["99999999999999999.99", "-0.01"],
     [Decimal("99999999999999999.99"), Decimal("-0.01")], pa.decimal128(19, 2)),
    ("decimal(38,10)", ["9" * 28 + "." + "9" * 10, "-0.0000000001"],
     [Decimal("9" * 28 + "." + "9" * 10), Decimal("-0.0000000001")], pa.decimal128(38, 10)),
    ("decimal(65,30)", [MAX_65, "-" + MAX_65, "0.5"],
     [MAX_65, "-" + MAX_65, "0.500000000000000000000000000000"], pa.string()),
    ("decimal(65,0)", ["-" + "9" * 65], ["-" + "9" * 65], pa.string()),
    ("float", ["0.1", "-3.4028234663852886e38"], [0.10000000149011612, -3.4028234663852886e38],
     pa.float32()),
    ("double", ["0.1", "1.7976931348623157e308", "-2.2250738585072014e-308"],
     [0.1, 1.7976931348623157e308, -2.2250738585072014e-308], pa.float64()),
    ("char(5)", ["'ab'", "'😀'"], ["ab", "😀"], pa.string()),
    ("varchar(20)", ["'h😀é ✓'", "''"], ["h😀é ✓", ""], pa.string()),
    ("text", ["'x\\'y\\\\z'"], ["x'y\\z"], pa.string()),
    ("longtext", ["REPEAT('🦆', 70000)"], ["🦆" * 70000], pa.string()),
    ("text COLLATE utf8mb4_unicode_ci", ["'Ünïcode 😀'"], ["Ünïcode 😀"], pa.string()),
    ("enum('a','b c')", ["'b c'", "'a'"], ["b c", "a"], pa.string()),
    ("set('x','y')", ["'x,y'", "''"], ["x,y", ""], pa.string()),
    ("binary(4)", ["0x00010203", "0x61"], [b"\x00\x01\x02\x03", b"a\x00\x00\x00"], pa.binary()),
    ("varbinary(10)", ["0xff00", "''"], [b"\xff\x00", b""], pa.binary()),
    ("blob", ["0xdeadbeef"], [b"\xde\xad\xbe\xef"], pa.binary()),
    ("longblob", ["REPEAT(0x00ff, 40000)"], [b"\x00\xff" * 40000], pa.binary()),
    ("date", ["'1000-01-01'", "'9999-12-31'", "'0001-01-01'"],
     [date(1000, 1, 1), date(9999, 12, 31), date(1, 1, 1)], pa.date32()),
    ("datetime", ["'1000-01-01 00:00:00'", "'9999-12-31 23:59:59'"],
     [datetime(1000, 1, 1), datetime(9999, 12, 31, 23, 59, 59)], pa.timestamp("us")),
    ("datetime(6)", ["'2024-02-29 12:34:56.123456'", "'1969-12-31 23:59:59.999999'"],
     [datetime(2024, 2, 29, 12, 34, 56, 123456), datetime(1969, 12, 31, 23, 59, 59, 999999)],
     pa.timestamp("us")),
    ("datetime(3)", ["'2024-01-01 00:00:00.5'"], [datetime(2024, 1, 1, 0, 0, 0, 500000)],
     pa.timestamp("us")),
    ("timestamp(6) NULL", ["'1970-01-01 00:00:01'", "'2038-01-19 03:14:07.999999'"],
     [datetime(1970, 1, 1, 0, 0, 1, tzinfo=UTC), datetime(2038, 1, 19, 3, 14, 7, 999999, UTC)],
     pa.timestamp("us", tz="UTC")),
    ("time", ["'-838:59:59'", "'838:59:59'", "'00:00:00'"],
     [-timedelta(hours=838, minutes=59, seconds=59), timedelta(hours=838, minutes=59,
      seconds=59), timedelta(0)], pa.duration("us")),
    ("time(6)", ["'-00:00:01.5'", "'838:59:59.999999'", "'-12:00:00.000001'"],
     [timedelta(seconds=-1.5), timedelta(hours=838, minutes=59, seconds=59, microseconds=999999),
      -timedelta(hours=12, microseconds=1)], pa.duration("us")),
    ("year", ["1901", "2155", "0"], [1901, 2155, 0], pa.int16()),
    ("json", ["'{\"b\": 1, \"a\": [1.50, 2]}'"], ['{"b": 1, "a": [1.50, 2]}'], pa.string()),
    ("bit(1)", ["b'1'", "b'0'"], [b"\x01", b"\x00"], pa.binary()),
    ("bit(10)", ["b'1010101010'"], [b"\x02\xaa"], pa.binary()),
    ("bit(64)", [f"{2**64 - 1}"], [b"\xff" * 8], pa.binary()),
    ("uuid", ["'123e4567-e89b-12d3-a456-426614174000'"],
     ["123e4567-e89b-12d3-a456-426614174000"], pa.string()),
    ("inet6", ["'::ffff:1.2.3.4'"], ["::ffff:1.2.3.4"], pa.string()),
]  # fmt: skip


def run(database: str, *statements: str) -> list[tuple[Any, ...]]:
    admin = mysql_admin()
    try:
        with admin.cursor() as cursor:
            cursor.execute(f"USE `{database}`")
            for statement in statements:
                cursor.execute(statement)
            return [tuple(row) for row in cursor.fetchall()]
    finally:
        admin.close()


def database_of(url: str) -> str:
    return url.rsplit("/", 1)[1]


def read_all(source: MySQLSource, name: str, **options: Any) -> pa.Table:
    batches = list(source.read(ReadRequest(TableRef(name), **options)))
    schema = source.check(TableRef(name), count_rows=False).schema
    return pa.Table.from_batches(batches, schema=schema)


@pytest.fixture
def source(mysql_database: str) -> Iterator[MySQLSource]:
    yield MySQLSource(MySQLCreds(url=mysql_database))  # type: ignore[arg-type]


def test_every_type_arrives_exactly_with_its_declared_type(
    mysql_database: str, source: MySQLSource
) -> None:
    db = database_of(mysql_database)
    columns = ", ".join(f"c{i} {declared}" for i, (declared, *_) in enumerate(TYPES))
    run(db, f"CREATE TABLE every_type (id int PRIMARY KEY, {columns}) ENGINE=InnoDB")
    rows = max(len(values) for _, values, _, _ in TYPES) + 1  # the last row: all NULL
    for row in range(rows):
        literals = [values[row] if row < len(values) else "NULL" for _, values, _, _ in TYPES]
        run(db, f"INSERT INTO every_type VALUES ({row}, {', '.join(literals)})")
    declared = dict(
        run(
            db,
            "SELECT COLUMN_NAME, COLUMN_TYPE FROM information_schema.COLUMNS "
            f"WHERE TABLE_SCHEMA = '{db}' AND TABLE_NAME = 'every_type'",
        )
    )

    table = read_all(source, "every_type", batch_rows=2).sort_by("id")
    assert table.column("id").to_pylist() == list(range(rows))
    for i, (kind, _, expected, arrow_type) in enumerate(TYPES):
        field = table.schema.field(f"c{i}")
        assert field.type == arrow_type, kind
        assert declared_type_of(field) == declared[f"c{i}"], kind
        padded = expected + [None] * (rows - len(expected))
        assert table.column(f"c{i}").to_pylist() == padded, kind


def test_timestamps_arrive_in_utc_whatever_the_writers_time_zone(
    mysql_database: str, source: MySQLSource
) -> None:
    db = database_of(mysql_database)
    run(
        db,
        "CREATE TABLE ts (id int PRIMARY KEY, at timestamp(6) NULL, local datetime(6))",
        "SET time_zone = '+02:00'",
        "INSERT INTO ts VALUES (1, '2024-06-01 12:00:00.25', '2024-06-01 12:00:00.25')",
    )
    table = read_all(source, "ts")
    assert table.column("at").to_pylist() == [datetime(2024, 6, 1, 10, 0, 0, 250000, UTC)]
    # DATETIME has no time zone: it is read as written.
    assert table.column("local").to_pylist() == [datetime(2024, 6, 1, 12, 0, 0, 250000)]


def test_wide_decimal_tells_a_postgres_sink_its_precision(
    source: MySQLSource, mysql_database: str
) -> None:
    run(database_of(mysql_database), "CREATE TABLE d (x decimal(65,30))")
    field = source.check(TableRef("d")).schema.field("x")
    assert field.metadata[b"POSTGRESQL:type"] == b"numeric"
    typmod = int(field.metadata[b"POSTGRESQL:typmod"]) - 4
    assert (typmod >> 16, typmod & 0xFFFF) == (65, 30)


@pytest.mark.parametrize(
    ("declared", "value"),
    [
        ("date", "0000-00-00"),
        ("datetime(6)", "0000-00-00 00:00:00"),
        ("date", "2020-00-15"),
        ("datetime", "2020-01-00 10:00:00"),
        ("timestamp NULL", "0000-00-00 00:00:00"),
    ],
)
def test_a_zero_date_fails_naming_column_and_fix(
    mysql_database: str, source: MySQLSource, declared: str, value: str
) -> None:
    db = database_of(mysql_database)
    run(
        db,
        "SET SESSION sql_mode = ''",
        f"CREATE TABLE z (id int PRIMARY KEY, d {declared})",
        f"INSERT INTO z VALUES (1, '2024-05-06'), (2, '{value}')",
    )
    with pytest.raises(TerminalError) as caught:
        read_all(source, "z")
    message = str(caught.value)
    assert "\n" not in message
    shown = f"`{db}`.`z`"
    assert f"column 'd' ({declared.split()[0]}) of {shown} holds the zero date '{value}" in message
    assert "IF(MONTH(`d`) = 0 OR DAYOFMONTH(`d`) = 0, NULL, `d`) AS `d`" in message
    assert "run `sluice table edit z --zero-dates null`" in message
    # The fix the message names works: the view reads, the zero date as NULL.
    run(
        db,
        "CREATE VIEW z_fixed AS SELECT id, IF(MONTH(`d`) = 0 OR DAYOFMONTH(`d`) = 0, "
        "NULL, `d`) AS `d` FROM z",
    )
    fixed = read_all(source, "z_fixed").sort_by("id")
    assert fixed.column("d").to_pylist()[1] is None
    assert fixed.column("d").to_pylist()[0] is not None


def test_the_null_policy_reads_zero_dates_as_null_and_counts_them(
    mysql_database: str, source: MySQLSource
) -> None:
    db = database_of(mysql_database)
    run(
        db,
        "SET SESSION sql_mode = ''",
        "CREATE TABLE z (id int PRIMARY KEY, d date, dt datetime(6), ts timestamp(3) NULL, k int)",
        "INSERT INTO z VALUES (1, '2024-05-06', '2024-05-06 01:02:03.5', "
        "'2024-05-06 01:02:03.25', 1), (2, '0000-00-00', '2020-01-00 10:00:00', "
        "'0000-00-00 00:00:00', 2), (3, '2020-00-15', NULL, NULL, 3), (4, NULL, NULL, NULL, 4)",
    )
    read = source.read(ReadRequest(TableRef("z"), zero_dates_to_null=True, count_rows=True))
    table = pa.Table.from_batches(list(read)).sort_by("id")
    assert read.counted == 4
    assert table.column("d").to_pylist() == [date(2024, 5, 6), None, None, None]
    assert table.column("dt").to_pylist() == [
        datetime(2024, 5, 6, 1, 2, 3, 500000),
        None,
        None,
        None,
    ]
    assert table.column("ts").to_pylist() == [
        datetime(2024, 5, 6, 1, 2, 3, 250000, tzinfo=UTC),
        None,
        None,
        None,
    ]
    assert table.schema.names == ["id", "d", "dt", "ts", "k"]  # the flag columns are gone
    assert table.schema.field("ts").type == pa.timestamp("us", tz="UTC")
    shown = f"`{db}`.`z`"
    assert read.warnings == [
        f"2 zero date(s) in column 'd' of {shown} read as NULL (zero-date policy null)",
        f"1 zero date(s) in column 'dt' of {shown} read as NULL (zero-date policy null)",
        f"1 zero date(s) in column 'ts' of {shown} read as NULL (zero-date policy null)",
    ]
    # A table without zero dates reads the same under either policy, with no warning.
    run(db, "DELETE FROM z WHERE id IN (2, 3)")
    read = source.read(ReadRequest(TableRef("z"), zero_dates_to_null=True))
    assert pa.Table.from_batches(list(read)).sort_by("id") == read_all(source, "z").sort_by("id")
    assert read.warnings == []


def test_a_spatial_column_is_refused_with_the_view_that_reads_it(
    mysql_database: str, source: MySQLSource
) -> None:
    run(database_of(mysql_database), "CREATE TABLE g (id int PRIMARY KEY, p point)")
    with pytest.raises(
        TerminalError, match=r"column 'p' of `sluice_t_\w+`.`g` has type point.*ST_AsText"
    ):
        read_all(source, "g")


def test_incremental_lower_bound_with_fallback_key(
    mysql_database: str, source: MySQLSource
) -> None:
    db = database_of(mysql_database)
    run(
        db,
        "CREATE TABLE inc (id int PRIMARY KEY, name varchar(20), amount decimal(8,2), "
        "created datetime(6) NOT NULL, updated datetime(6) NULL, at timestamp(6) NULL)",
        "INSERT INTO inc VALUES "
        "(1, 'a', 1.00, '2024-01-01 00:00:00', NULL, '2024-01-01 00:00:00'), "
        "(2, 'O''Brien', 2.50, '2024-01-01 00:00:00', '2024-01-03 00:00:00', NULL), "
        "(3, 'z\\\\', 3.75, '2024-01-02 00:00:00.000001', NULL, '2024-01-05 10:00:00'), "
        "(4, 'b', 4.00, '2023-12-31 00:00:00', '2024-01-01 23:59:59.999999', NULL)",
    )

    def ids(key: str, bound: Any, fallback: str | None = None) -> list[int]:
        table = read_all(
            source, "inc", incremental_key=key, lower_bound=bound, fallback_key=fallback
        )
        return sorted(table.column("id").to_pylist())

    assert ids("updated", datetime(2024, 1, 2), "created") == [2, 3]
    assert ids("updated", datetime(2024, 1, 2)) == [2]  # NULL keys: not without a fallback
    assert ids("created", datetime(2024, 1, 2, 0, 0, 0, 1)) == [3]
    assert ids("created", date(2024, 1, 1)) == [1, 2, 3]
    # An aware bound compares in UTC (the session's time zone).
    aware = datetime(2024, 1, 5, 12, 0, tzinfo=UTC) - timedelta(hours=2, microseconds=1)
    assert ids("at", aware) == [3]
    assert ids("id", 3) == [3, 4]
    assert ids("amount", Decimal("2.50")) == [2, 3, 4]
    # Text bounds are spliced as hex literals: quotes and backslashes cannot end them.
    # Text compares in code-point order, as the engine's exact filter does: 'a' >= 'B' there,
    # though not in the column's case-insensitive collation.
    assert ids("name", "B") == [1, 2, 3, 4]
    assert ids("name", "b") == [3, 4]
    assert ids("name", "O'Brien") == [1, 2, 3, 4]
    assert ids("name", "z\\") == [3]
    assert ids("name", "x' OR '1'='1") == [3]


WRITER = """
import sys, pymysql
connection = pymysql.connect(host="127.0.0.1", port=3306, user="root", database=sys.argv[1],
                             autocommit=True)
with connection.cursor() as cursor:
    while True:
        cursor.execute("INSERT INTO busy (v) VALUES (0)")
"""


class Gap(MySQLSource):
    """Waits 0.3 s between its count and its read, while another process commits rows."""

    def pre_execution(self, table: TableRef, *, count_rows: bool) -> list[str]:
        return [*super().pre_execution(table, count_rows=count_rows), "DO SLEEP(0.3)"]


class GapNoSnapshot(Gap):
    snapshot_sql = "DO 0"  # each statement its own snapshot


def test_count_and_read_share_one_snapshot_while_rows_are_written(mysql_database: str) -> None:
    db = database_of(mysql_database)
    run(
        db,
        "CREATE TABLE busy (id bigint AUTO_INCREMENT PRIMARY KEY, v int) ENGINE=InnoDB",
        "INSERT INTO busy (v) SELECT seq FROM seq_1_to_300000",
    )
    creds = MySQLCreds(url=mysql_database)  # type: ignore[arg-type]

    def read_while_writing(reader: MySQLSource) -> tuple[int, int | None, int]:
        # Another process: connectorx holds the GIL while it waits for the server.
        writer = subprocess.Popen([sys.executable, "-c", WRITER, db])
        try:
            start = int(run(db, "SELECT COUNT(*) FROM busy")[0][0])
            while int(run(db, "SELECT COUNT(*) FROM busy")[0][0]) < start + 10:
                time.sleep(0.01)
            request = ReadRequest(TableRef("busy"), count_rows=True, batch_rows=50_000)
            read = reader.read(request)
            rows = sum(batch.num_rows for batch in read)
            return rows, read.counted, int(run(db, "SELECT COUNT(*) FROM busy")[0][0])
        finally:
            writer.kill()
            writer.wait()

    rows, counted, after = read_while_writing(Gap(creds))
    assert rows > 300_000
    assert counted == rows
    assert after > rows  # rows were committed after the snapshot, and not read
    # The test sees the difference: without the snapshot the read has rows the count missed.
    rows, counted, after = read_while_writing(GapNoSnapshot(creds))
    assert counted is not None
    assert rows > counted


def test_a_read_whose_connection_dies_may_be_retried(
    mysql_database: str, source: MySQLSource
) -> None:
    db = database_of(mysql_database)
    # A view that streams slowly (0.2 ms a row), so the read is still going when it is killed.
    run(db, "CREATE TABLE big (id int PRIMARY KEY)",
        "INSERT INTO big SELECT seq FROM seq_1_to_20000",
        "CREATE VIEW slow AS SELECT id FROM big WHERE SLEEP(0.0002) = 0")  # fmt: skip
    rows = 0
    with pytest.raises(TransientError, match="reading from"):
        for batch in source.read(ReadRequest(TableRef("slow"), batch_rows=500)):
            if rows == 0:
                found = run(db, "SELECT ID FROM information_schema.PROCESSLIST "
                            "WHERE INFO = 'SELECT `id` FROM `slow`'")  # fmt: skip
                run(db, f"KILL {found[0][0]}")
            rows += batch.num_rows
    assert 0 < rows < 20_000


def test_odd_names_are_quoted(mysql_database: str, source: MySQLSource) -> None:
    db = database_of(mysql_database)
    run(db, "CREATE TABLE `odd ``name`` é` (`a b``c` int PRIMARY KEY, `select` date)",
        "INSERT INTO `odd ``name`` é` VALUES (1, '2024-01-02'), (2, NULL)")  # fmt: skip
    name = "odd `name` é"
    table = read_all(source, name, incremental_key="a b`c", lower_bound=2, count_rows=True)
    assert table.to_pylist() == [{"a b`c": 2, "select": None}]
    assert source.check(TableRef(name)).primary_key == ("a b`c",)
    assert source.check(TableRef(name, schema=db)).row_count == 2


@pytest.mark.parametrize("engine", ["MyISAM", "Aria", "MEMORY"])
def test_engines_without_transactions_read_and_count(
    mysql_database: str, source: MySQLSource, engine: str
) -> None:
    # No snapshot for them (see MySQLSource): START TRANSACTION is harmless, the count taken.
    run(database_of(mysql_database), f"CREATE TABLE m (id int PRIMARY KEY) ENGINE={engine}",
        "INSERT INTO m SELECT seq FROM seq_1_to_1000")  # fmt: skip
    read = source.read(ReadRequest(TableRef("m"), count_rows=True))
    rows = sum(b.num_rows for b in read)
    assert rows == read.counted == 1000


@pytest.fixture
def odd_user(mysql_database: str) -> Iterator[tuple[str, str]]:
    """A user whose password needs escaping in a URL, allowed on the test database."""
    user, password = f"sluice_{uuid.uuid4().hex[:8]}", "S3cr#t:p@ss/w%rd?"
    db = database_of(mysql_database)
    for host in ("localhost", "127.0.0.1"):
        run(
            db,
            f"CREATE USER '{user}'@'{host}' IDENTIFIED BY '{password}'",
            f"GRANT ALL ON `{db}`.* TO '{user}'@'{host}'",
        )
    yield user, password
    for host in ("localhost", "127.0.0.1"):
        run(db, f"DROP USER '{user}'@'{host}'")


def test_a_password_needing_escapes_works_in_both_creds_styles(
    mysql_database: str, odd_user: tuple[str, str]
) -> None:
    from urllib.parse import quote

    user, password = odd_user
    db = database_of(mysql_database)
    run(db, "CREATE TABLE t (id int PRIMARY KEY, s varchar(5))", "INSERT INTO t VALUES (1, 'x')")
    url = f"mysql://{user}:{quote(password, safe='')}@127.0.0.1:3306/{db}"
    for creds in (
        MySQLCreds(url=url),  # type: ignore[arg-type]
        MySQLCreds(host="127.0.0.1", user=user, password=password, database=db),  # type: ignore[arg-type]
    ):
        source = MySQLSource(creds)
        assert source.ping().startswith("MariaDB ")
        assert read_all(source, "t").to_pylist() == [{"id": 1, "s": "x"}]


def fails_fast(source: MySQLSource, kind: type[StageError], *secrets: str) -> str:
    for attempt in (source.ping, lambda: read_all(source, "t")):
        started = time.monotonic()
        with pytest.raises(kind) as caught:
            attempt()
        assert time.monotonic() - started < 15
        message = str(caught.value)
        assert "\n" not in message
        for secret in secrets:
            assert secret not in message
    return message


def test_bad_password_fails_in_one_line_without_the_password(
    mysql_database: str, odd_user: tuple[str, str]
) -> None:
    user, _ = odd_user
    wrong = "Wr0ng-s3cret!"
    source = MySQLSource(
        MySQLCreds(
            host="127.0.0.1",
            user=user,
            password=wrong,  # type: ignore[arg-type]
            database=database_of(mysql_database),
        )
    )
    message = fails_fast(source, TerminalError, wrong)
    assert "(1045) Access denied" in message
    assert "check the user and password" in message


def test_unknown_database_fails_naming_it(mysql_database: str) -> None:
    source = MySQLSource(MySQLCreds(url="mysql://root@127.0.0.1:3306/sluice_no_such_db"))  # type: ignore[arg-type]
    message = fails_fast(source, TerminalError)
    assert "(1049) Unknown database 'sluice_no_such_db'" in message
    assert "fix the database name" in message


def test_unreachable_server_fails_fast_and_may_be_retried() -> None:
    source = MySQLSource(MySQLCreds(url="mysql://root:pw-123@127.0.0.1:1/db"))  # type: ignore[arg-type]
    message = fails_fast(source, TransientError, "pw-123")
    assert message.startswith("MySQL cannot connect to 127.0.0.1:1/db: (2003)")


@pytest.mark.parametrize("mode", ["disabled", "preferred", None])
def test_tls_modes_the_server_can_meet_read(mysql_database: str, mode: str | None) -> None:
    # The test server has TLS disabled: 'preferred' must fall back to plain for both drivers.
    run(
        database_of(mysql_database),
        "CREATE TABLE t (id int PRIMARY KEY)",
        "INSERT INTO t VALUES (7)",
    )
    for creds in (
        MySQLCreds(url=mysql_database + (f"?ssl-mode={mode}" if mode else "")),  # type: ignore[arg-type]
        MySQLCreds(host="127.0.0.1", user="root", database=database_of(mysql_database),
                   ssl_mode=mode),  # type: ignore[arg-type]
    ):  # fmt: skip
        assert read_all(MySQLSource(creds), "t").to_pylist() == [{"id": 7}]


def test_required_tls_without_it_on_the_server_fails_fast(mysql_database: str) -> None:
    creds = MySQLCreds(url=mysql_database + "?ssl-mode=required")  # type: ignore[arg-type]
    message = fails_fast(MySQLSource(creds), TerminalError)
    assert "does not offer TLS, but ssl_mode asks for it" in message


def test_missing_table_lists_tables_and_suggests(mysql_database: str, source: MySQLSource) -> None:
    run(
        database_of(mysql_database), "CREATE TABLE invoices (id int)", "CREATE TABLE items (id int)"
    )
    with pytest.raises(TerminalError) as caught:
        source.check(TableRef("invoice"))
    assert "(did you mean 'invoices'?); tables there: invoices, items" in str(caught.value)


@pytest.mark.parametrize(
    ("creds", "message"),
    [
        ({"url": "postgresql://u:pw@h/db"}, "'url' must be a MySQL URL"),
        ({"url": "mysql://u:pw@h:3306/"}, "'url' must name the database"),
        ({"url": "mysql://u:pw@h/db?sslmode=x"}, "unknown parameter(s) 'sslmode'"),
        ({"url": "mysql://u:pw@h/db", "host": "h"}, "give either 'url' or host"),
        ({"url": "mysql://u:pw@h/db?ssl-mode=required", "ssl_mode": "disabled"}, "given both"),
        ({"host": "h", "password": "pw"}, "missing: 'user', 'database'"),
        ({"host": "h", "user": "u", "database": "d", "ssl_mode": "on"}, "ssl_mode"),
    ],
)
def test_creds_are_checked_without_echoing_secrets(creds: dict[str, Any], message: str) -> None:
    from sluice.connectors.registry import validate_creds
    from sluice.core.errors import ConfigError

    with pytest.raises(ConfigError) as caught:
        validate_creds("mysql", creds, role="source")
    assert message in str(caught.value)
    assert "pw" not in str(caught.value).replace("password", "")
