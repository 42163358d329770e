"""A sample "shop" source database for the incremental-replication demo.

``build_shop`` writes a deterministic SQLite database shaped like a small web shop's OLTP store
(customers, products, orders, order_items).  ``change_shop`` then applies one batch of the kind
of traffic the application would produce between two replication runs: new rows, updated rows,
and a few rows stamped *exactly* at the previous high-water mark of ``updated_at``.  Those last
rows are the case an incremental extractor most often gets wrong: with a strict ``>`` predicate
they are silently skipped, so the demo needs them to prove the boundary is inclusive.

All timestamps are naive UTC text ``'YYYY-MM-DD HH:MM:SS'``; that fixed-width layout sorts
lexicographically in time order, which both SQLite's ``max()`` and this module rely on.
"""

from __future__ import annotations

import bisect
import functools
import itertools
import random
import sqlite3
import unicodedata
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Generic, TypeVar

__all__ = [
    "TABLES",
    "ShopChange",
    "ShopSize",
    "build_shop",
    "change_shop",
    "table_counts",
]

TABLES: tuple[str, ...] = ("customers", "products", "orders", "order_items")

_T = TypeVar("_T")

_CustomerRow = tuple[int, str, str, str | None, str, int, str]
_ProductRow = tuple[int, str, str, str, float, float | None, str]
_OrderRow = tuple[int, int, str, str, float, str | None, str]
_ItemRow = tuple[int, int, int, int, float, float | None, str]


@dataclass(frozen=True)
class ShopSize:
    """Row counts for ``build_shop``; the defaults make a ~340k-row database."""

    customers: int = 20_000
    products: int = 2_000
    orders: int = 80_000
    order_items: int = 240_000

    def __post_init__(self) -> None:
        counts = (
            ("customers", self.customers),
            ("products", self.products),
            ("orders", self.orders),
            ("order_items", self.order_items),
        )
        for name, value in counts:
            if value < 0:
                raise ValueError(f"ShopSize.{name} must be >= 0, got {value}")
        # Foreign keys must point somewhere, so a child table needs a non-empty parent.
        if self.orders and not self.customers:
            raise ValueError("ShopSize: orders need at least one customer")
        if self.order_items and not (self.orders and self.products):
            raise ValueError("ShopSize: order_items need at least one order and one product")


@dataclass(frozen=True)
class ShopChange:
    """What one ``change_shop`` call wrote, per table (all four tables are keys).

    ``inserted`` and ``updated`` count every row written; ``at_watermark`` is the subset of
    those rows whose ``updated_at`` equals the table's ``max(updated_at)`` before the call.
    """

    inserted: dict[str, int]
    updated: dict[str, int]
    at_watermark: dict[str, int]


# --------------------------------------------------------------------------------------------
# Time axis.  Every generated instant is an integer number of seconds since _YEAR_START, so the
# hot loops do integer arithmetic and only format strings at the end.

_YEAR_START = datetime(2025, 1, 1)
_END_S = int((datetime(2025, 12, 31, 23, 59, 59) - _YEAR_START).total_seconds())
# Orders reach back before the updated_at window so that some of them are already settled.
_ORDERS_FROM_S = int((datetime(2024, 7, 1) - _YEAR_START).total_seconds())
_SIGNUP_FROM = date(2018, 1, 1)
# Initial customers all signed up before the first order could have been placed.
_SIGNUP_DAYS = (date(2024, 6, 30) - _SIGNUP_FROM).days
_DAY_S = 86_400
_HOUR_S = 3_600

# Ties at the boundary are what make ">" versus ">=" observable to an incremental reader.
# Rows per table sharing the initial max(updated_at):
_TIES_AT_MAX = 5
# Per change_shop call and table: rows inserted / updated exactly at the old max, and rows
# sharing the new max (so the next call's boundary is tied too).
_WATERMARK_INSERTS = 3
_WATERMARK_UPDATES = 2
_TIES_AT_NEW_MAX = 3


# A default build formats ~230k timestamps; gluing precomputed day and minute strings is about
# four times faster than going through datetime objects.
_MINUTE_TEXT = tuple(f"{m // 60:02d}:{m % 60:02d}:" for m in range(24 * 60))
_SECOND_TEXT = tuple(f"{s:02d}" for s in range(60))


@functools.cache
def _day_text(day: int) -> str:
    return (_YEAR_START.date() + timedelta(days=day)).isoformat()


def _fmt_s(seconds: int) -> str:
    """Format seconds since 2025-01-01 00:00:00 (negative is earlier) as DATETIME text."""
    day, rest = divmod(seconds, _DAY_S)
    minute, second = divmod(rest, 60)
    return f"{_day_text(day)} {_MINUTE_TEXT[minute]}{_SECOND_TEXT[second]}"


_END_TEXT = _fmt_s(_END_S)


def _fmt_dt(moment: datetime) -> str:
    return moment.isoformat(" ", "seconds")


# --------------------------------------------------------------------------------------------
# Vocabulary.


class _Weighted(Generic[_T]):
    """Weighted choice via bisect: ``random.choices`` costs ~4x more per call in hot loops."""

    __slots__ = ("_cumulative", "_total", "_values")

    def __init__(self, pairs: Sequence[tuple[_T, float]]) -> None:
        self._values = tuple(value for value, _ in pairs)
        self._cumulative = tuple(itertools.accumulate(weight for _, weight in pairs))
        self._total = self._cumulative[-1]

    def pick(self, rng: random.Random) -> _T:
        return self._values[bisect.bisect_right(self._cumulative, rng.random() * self._total)]


_ASCII_FOLD = str.maketrans({"Ł": "L", "ł": "l", "Ø": "O", "ø": "o", "ß": "ss"})


def _ascii_slug(text: str) -> str:
    """Email-safe local part: real shops keep accented names but ASCII addresses."""
    folded = unicodedata.normalize("NFKD", text.translate(_ASCII_FOLD))
    return "".join(ch for ch in folded.encode("ascii", "ignore").decode().lower() if ch.isalnum())


def _with_slugs(names: Sequence[str]) -> tuple[tuple[str, str], ...]:
    return tuple((name, _ascii_slug(name)) for name in names)


# Non-ASCII letters and an apostrophe are deliberate: they exercise text encoding and quoting
# on the way through Arrow and Parquet.
_FIRST_NAMES = _with_slugs(
    (
        "Emma", "Liam", "Olivia", "Noah", "Ava", "Lucas", "Mia", "Mateo", "Sofia", "Elias",
        "Zoë", "José", "Chloé", "Łukasz", "Søren", "Aoife", "Björn", "Anaïs", "Renée", "Jürgen",
        "Priya", "Arjun", "Yuki", "Hiro", "Amara", "Kwame", "Fatima", "Omar", "Inês", "Tomás",
        "Maja", "Nikola", "Elif", "Mehmet", "Chen", "Wei", "Ana", "João", "Sanna", "Mikko",
    )
)  # fmt: skip
_LAST_NAMES = _with_slugs(
    (
        "Smith", "García", "Müller", "Rossi", "Dubois", "Kowalski", "Novák", "Jensen", "O'Brien",
        "Nguyen", "Kim", "Patel", "Silva", "Andersson", "Öztürk", "Ivanova", "Tanaka", "Okafor",
        "Hernández", "van der Berg", "Costa", "Fischer", "Lefèvre", "Nowak", "Horváth",
        "Popescu", "Virtanen", "Papadopoulos", "Cohen", "Mensah",
    )
)  # fmt: skip
_EMAIL_DOMAINS = (
    "gmail.com", "outlook.com", "yahoo.com", "proton.me", "icloud.com", "gmx.de", "orange.fr",
    "web.de", "hotmail.co.uk", "example.org",
)  # fmt: skip
_COUNTRY: _Weighted[str | None] = _Weighted(
    [
        ("US", 28), ("DE", 11), ("GB", 10), ("FR", 8), ("CA", 6), ("NL", 5), ("ES", 5),
        ("IT", 5), ("PL", 4), ("AU", 4), ("JP", 4), ("SE", 3), ("BR", 3), ("IN", 3),
        # Checkout never made country mandatory, so a few legacy accounts lack it.
        (None, 1.5),
    ]
)  # fmt: skip


@dataclass(frozen=True)
class _Category:
    name: str
    sku_prefix: str
    nouns: tuple[str, ...]
    price_range: tuple[float, float]
    # None for goods that are never shipped, which is why weight_kg is nullable.
    weight_range: tuple[float, float] | None
    # Gift cards come in fixed denominations; whole prices are stored as INTEGER by SQLite's
    # NUMERIC affinity, which the reader has to cope with anyway.
    fixed_prices: tuple[float, ...] = ()


_CATEGORIES: _Weighted[_Category] = _Weighted(
    [
        (_Category("Kitchen", "KIT", ("Kettle", "Chef's Knife", "Cutting Board", "Dutch Oven",
                                      "Espresso Cups", "Spice Rack", "Saucepan", "Salad Bowl"),
                   (8.0, 180.0), (0.2, 6.5)), 14),
        (_Category("Outdoor", "OUT", ("Tent", "Sleeping Bag", "Headlamp", "Trekking Poles",
                                      "Water Bottle", "Camp Stove", "Daypack"),
                   (12.0, 450.0), (0.1, 4.5)), 12),
        (_Category("Electronics", "ELE", ("Wireless Earbuds", "USB-C Charger",
                                          "Bluetooth Speaker", "Smart Plug", "E-Reader",
                                          "Webcam", "Power Bank"),
                   (15.0, 650.0), (0.05, 2.0)), 14),
        (_Category("Books", "BOK", ("Cookbook", "Field Guide", "Novel", "Atlas",
                                    "Travel Guide", "Poetry Collection"),
                   (6.0, 65.0), (0.15, 1.8)), 12),
        (_Category("Apparel", "APP", ("Rain Jacket", "Merino Socks", "Hoodie", "Linen Shirt",
                                      "Beanie", "Running Shorts"),
                   (9.0, 240.0), (0.05, 1.2)), 16),
        (_Category("Toys", "TOY", ("Building Set", "Puzzle", "Plush Fox", "Kite", "Board Game",
                                   "Wooden Train"),
                   (7.0, 120.0), (0.1, 3.0)), 10),
        (_Category("Beauty", "BEA", ("Hand Cream", "Shampoo Bar", "Lip Balm", "Face Serum",
                                     "Bath Salts"),
                   (4.0, 85.0), (0.03, 0.6)), 10),
        (_Category("Digital", "DIG", ("E-Book Bundle", "Photo Presets", "Online Course",
                                      "Music Album"),
                   (3.0, 99.0), None), 8),
        (_Category("Gift Cards", "GFT", ("Gift Card",), (10.0, 100.0), None,
                   (10.0, 25.0, 50.0, 100.0)), 4),
    ]
)  # fmt: skip
_ADJECTIVES = (
    "Classic", "Compact", "Deluxe", "Everyday", "Nordic", "Pro", "Ultralight", "Vintage", "Eco",
    "Premium", "Mini", "Café", "Alpine", "Urban",
)  # fmt: skip
_VARIANTS = ("", "", "", "", " (Black)", " (Large)", " (2-pack)", " v2", " Set of 4")  # fmt: skip

_QUANTITY: _Weighted[int] = _Weighted([(1, 60), (2, 22), (3, 9), (4, 4), (5, 3), (10, 2)])
_DISCOUNT: _Weighted[float | None] = _Weighted(
    [(None, 80), (0.05, 7), (0.1, 7), (0.15, 3), (0.2, 2), (0.25, 1)]
)
_NOTES = (
    "Leave at the front door",
    "Gift wrap, please",
    "Call before delivery",
    'Ring twice, use the "back" door',
    "Bitte nicht knicken — danke!",
    "Deliver after 6pm\nweekdays only",
    "Same-day if possible",
    "No plastic packaging 🌱",
)
_NOTE_RATE = 0.15
# Status depends on how long ago the order was placed, as it would in a real shop.
_STATUS_FRESH: _Weighted[str] = _Weighted(
    [("pending", 35), ("paid", 45), ("shipped", 15), ("cancelled", 5)]
)
_STATUS_RECENT: _Weighted[str] = _Weighted(
    [("paid", 10), ("shipped", 55), ("delivered", 30), ("cancelled", 5)]
)
_STATUS_SETTLED: _Weighted[str] = _Weighted([("delivered", 89), ("cancelled", 6), ("refunded", 5)])

# --------------------------------------------------------------------------------------------
# Schema.  Declared types matter: the SQLite reader maps them to Arrow types.

_TABLE_DDL = (
    """
    CREATE TABLE customers (
        customer_id INTEGER PRIMARY KEY,
        email       TEXT     NOT NULL,
        full_name   TEXT     NOT NULL,
        country     TEXT,
        signup_date DATE     NOT NULL,
        is_vip      BOOLEAN  NOT NULL,
        updated_at  DATETIME NOT NULL
    )
    """,
    """
    CREATE TABLE products (
        product_id INTEGER PRIMARY KEY,
        sku        TEXT          NOT NULL UNIQUE,
        name       TEXT          NOT NULL,
        category   TEXT          NOT NULL,
        price      NUMERIC(10,2) NOT NULL,
        weight_kg  REAL,
        updated_at DATETIME      NOT NULL
    )
    """,
    """
    CREATE TABLE orders (
        order_id    INTEGER PRIMARY KEY,
        customer_id INTEGER       NOT NULL REFERENCES customers (customer_id),
        status      TEXT          NOT NULL,
        ordered_at  DATETIME      NOT NULL,
        total       NUMERIC(10,2) NOT NULL,
        note        TEXT,
        updated_at  DATETIME      NOT NULL
    )
    """,
    """
    CREATE TABLE order_items (
        order_item_id INTEGER PRIMARY KEY,
        order_id      INTEGER       NOT NULL REFERENCES orders (order_id),
        product_id    INTEGER       NOT NULL REFERENCES products (product_id),
        quantity      INTEGER       NOT NULL,
        unit_price    NUMERIC(10,2) NOT NULL,
        discount      REAL,
        updated_at    DATETIME      NOT NULL
    )
    """,
)
# Created after the bulk load: building an index once is much cheaper than maintaining it
# across 340k inserts.
_INDEX_DDL = (
    "CREATE INDEX ix_customers_updated_at ON customers (updated_at)",
    "CREATE INDEX ix_products_updated_at ON products (updated_at)",
    "CREATE INDEX ix_orders_updated_at ON orders (updated_at)",
    "CREATE INDEX ix_orders_customer_id ON orders (customer_id)",
    "CREATE INDEX ix_order_items_updated_at ON order_items (updated_at)",
    "CREATE INDEX ix_order_items_order_id ON order_items (order_id)",
)
_INSERT_CUSTOMER = "INSERT INTO customers VALUES (?, ?, ?, ?, ?, ?, ?)"
_INSERT_PRODUCT = "INSERT INTO products VALUES (?, ?, ?, ?, ?, ?, ?)"
_INSERT_ORDER = "INSERT INTO orders VALUES (?, ?, ?, ?, ?, ?, ?)"
_INSERT_ITEM = "INSERT INTO order_items VALUES (?, ?, ?, ?, ?, ?, ?)"


# --------------------------------------------------------------------------------------------
# Public API.


def build_shop(path: Path, size: ShopSize = ShopSize(), seed: int = 7) -> dict[str, int]:
    """Create (replacing any existing file) the SQLite database; return row counts per table."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    _remove_database(path)
    rng = random.Random(seed)
    with _connect(path) as conn:
        # WAL persists in the file, so the demo's reader and change_shop never block each other.
        conn.execute("PRAGMA journal_mode = WAL")
        # Nothing to make durable mid-build: a crash leaves a file that is rebuilt anyway.
        conn.execute("PRAGMA synchronous = OFF")
        with _transaction(conn):
            for ddl in _TABLE_DDL:
                conn.execute(ddl)
            conn.executemany(_INSERT_CUSTOMER, _customer_rows(rng, size.customers))
            products = _product_rows(rng, size.products)
            conn.executemany(_INSERT_PRODUCT, products)
            orders: list[_OrderRow] = []
            # Items go first because order totals are summed from them while they stream;
            # foreign keys are not enforced on this connection and the commit is atomic.
            conn.executemany(
                _INSERT_ITEM, _order_item_rows(rng, size, [row[4] for row in products], orders)
            )
            conn.executemany(_INSERT_ORDER, orders)
            for ddl in _INDEX_DDL:
                conn.execute(ddl)
        return _counts(conn)


def change_shop(path: Path, seed: int = 11) -> ShopChange:
    """Insert new orders/order_items/customers and update some existing rows.

    One transaction.  For each of customers, orders and order_items: ~2% new rows (ids after
    the current max), ~1% updated rows, plus ``_WATERMARK_INSERTS`` inserted and
    ``_WATERMARK_UPDATES`` updated rows whose ``updated_at`` is exactly the table's current
    ``max(updated_at)``.  All other new ``updated_at`` values fall in the hour after that max,
    with several rows sharing the new max so the next call's boundary is exercised too.
    Products are never touched.  Order totals are not recomputed when an item's quantity
    changes, just as a sloppy application would leave them.
    """
    path = Path(path)
    if not path.is_file():
        # sqlite3.connect would silently create an empty database instead.
        raise FileNotFoundError(f"no shop database at {path}: call build_shop first")
    with _connect(path) as conn:
        conn.execute("PRAGMA foreign_keys = ON")
        # IMMEDIATE takes the write lock up front, so the max(updated_at) values read below
        # cannot move before the rows derived from them are written.
        with _transaction(conn, "IMMEDIATE"):
            change = _apply_change(conn, seed)
    return change


def table_counts(path: Path) -> dict[str, int]:
    """Return ``{table: count(*)}`` for the four shop tables."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no shop database at {path}")
    with _connect(path) as conn:
        return _counts(conn)


# --------------------------------------------------------------------------------------------
# Connection plumbing.


@contextmanager
def _connect(path: Path) -> Iterator[sqlite3.Connection]:
    # Autocommit mode: transactions are explicit, so the module's own BEGIN/COMMIT are the only
    # ones and executemany does not open hidden ones.
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        yield conn
    finally:
        conn.close()


@contextmanager
def _transaction(conn: sqlite3.Connection, mode: str = "DEFERRED") -> Iterator[None]:
    conn.execute(f"BEGIN {mode}")
    try:
        yield
    except BaseException:
        # Some errors (SQLITE_FULL, for one) already rolled back; a second ROLLBACK would fail
        # and hide the original exception.
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def _remove_database(path: Path) -> None:
    # A stale -wal file next to a fresh database would be replayed into it on open.
    for suffix in ("", "-wal", "-shm", "-journal"):
        path.with_name(path.name + suffix).unlink(missing_ok=True)


def _counts(conn: sqlite3.Connection) -> dict[str, int]:
    return {
        table: int(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]) for table in TABLES
    }


# --------------------------------------------------------------------------------------------
# Row builders shared by build and change.


def _customer(
    rng: random.Random, customer_id: int, signup_date: str, updated_at: str
) -> _CustomerRow:
    first, first_slug = rng.choice(_FIRST_NAMES)
    last, last_slug = rng.choice(_LAST_NAMES)
    domain = rng.choice(_EMAIL_DOMAINS)
    # The id suffix keeps addresses unique without a lookup, the way signup forms often do.
    if rng.random() < 0.7:
        email = f"{first_slug}.{last_slug}{customer_id}@{domain}"
    else:
        email = f"{first_slug[:1]}{last_slug}{customer_id}@{domain}"
    is_vip = int(rng.random() < 0.04)
    return (customer_id, email, f"{first} {last}", _COUNTRY.pick(rng), signup_date, is_vip,
            updated_at)  # fmt: skip


def _line_item(
    rng: random.Random, prices: Sequence[float]
) -> tuple[int, int, float, float | None, float]:
    """Return ``(product_index, quantity, unit_price, discount, amount)`` for a random line.

    Low product indexes are the bestsellers, as in most catalogues.
    """
    index = int(len(prices) * rng.random() ** 1.8)
    unit_price = prices[index]
    if rng.random() < 0.07:
        # Promotions price the line below the current list price.
        unit_price = round(unit_price * 0.9, 2)
    quantity = _QUANTITY.pick(rng)
    discount = _DISCOUNT.pick(rng)
    amount = quantity * unit_price * (1.0 - discount) if discount else quantity * unit_price
    return index, quantity, unit_price, discount, amount


def _note(rng: random.Random) -> str | None:
    return rng.choice(_NOTES) if rng.random() < _NOTE_RATE else None


def _items_per_order(rng: random.Random, n_items: int, n_orders: int) -> list[int]:
    """How many lines each order gets; every order gets one first, so none is empty."""
    if n_orders == 0:
        return []
    if n_items < n_orders:
        counts = [0] * n_orders
        for index in rng.sample(range(n_orders), n_items):
            counts[index] = 1
        return counts
    counts = [1] * n_orders
    for _ in range(n_items - n_orders):
        counts[int(rng.random() * n_orders)] += 1
    return counts


# --------------------------------------------------------------------------------------------
# Initial data.


def _tie_set(rng: random.Random, n: int) -> set[int]:
    """0-based row indexes that get updated_at == the initial max."""
    return set(rng.sample(range(n), min(n, _TIES_AT_MAX)))


def _customer_rows(rng: random.Random, n: int) -> Iterator[_CustomerRow]:
    ties = _tie_set(rng, n)
    for index in range(n):
        signup = (_SIGNUP_FROM + timedelta(days=rng.randrange(_SIGNUP_DAYS))).isoformat()
        updated = _END_TEXT if index in ties else _fmt_s(rng.randrange(_END_S))
        yield _customer(rng, index + 1, signup, updated)


def _product_rows(rng: random.Random, n: int) -> list[_ProductRow]:
    ties = _tie_set(rng, n)
    rows: list[_ProductRow] = []
    for index in range(n):
        product_id = index + 1
        category = _CATEGORIES.pick(rng)
        name = f"{rng.choice(_ADJECTIVES)} {rng.choice(category.nouns)}{rng.choice(_VARIANTS)}"
        if category.fixed_prices:
            price = rng.choice(category.fixed_prices)
        else:
            low, high = category.price_range
            # Log-uniform: cheap items are far more common than expensive ones.
            price = low * (high / low) ** rng.random()
            # Most retail prices end in .99.
            price = (
                round(max(low, round(price)) - 0.01, 2) if rng.random() < 0.6 else round(price, 2)
            )
        weight: float | None = None
        # A few physical products were never weighed: realistic NULLs in a REAL column.
        if category.weight_range is not None and rng.random() >= 0.02:
            weight = round(rng.uniform(*category.weight_range), 3)
        updated = _END_TEXT if index in ties else _fmt_s(rng.randrange(_END_S))
        rows.append(
            (product_id, f"{category.sku_prefix}-{product_id:06d}", name, category.name, price,
             weight, updated)
        )  # fmt: skip
    return rows


def _order_status(rng: random.Random, age_s: int) -> str:
    # Status depends on how long ago the order was placed, as it would in a real shop.
    if age_s < 2 * _DAY_S:
        return _STATUS_FRESH.pick(rng)
    if age_s < 10 * _DAY_S:
        return _STATUS_RECENT.pick(rng)
    return _STATUS_SETTLED.pick(rng)


def _order_item_rows(
    rng: random.Random, size: ShopSize, prices: Sequence[float], order_rows: list[_OrderRow]
) -> Iterator[_ItemRow]:
    """Yield order_items rows order by order, appending each finished order to ``order_rows``.

    Generating an order together with its lines lets its total be summed from them and its
    lines reuse its timestamp, without holding all lines in memory.
    """
    order_ties = _tie_set(rng, size.orders)
    item_ties = _tie_set(rng, size.order_items)
    span = _END_S - _ORDERS_FROM_S
    item_index = 0
    for order_index, n_lines in enumerate(_items_per_order(rng, size.order_items, size.orders)):
        order_id = order_index + 1
        # Exponent < 1 skews orders towards the end of the range: the shop is growing.
        ordered = _ORDERS_FROM_S + int(span * rng.random() ** 0.6)
        # Rows cannot have been updated before they existed, nor (initially) before 2025.
        earliest = max(ordered, 0)
        if order_index in order_ties:
            order_updated = _END_TEXT
        else:
            order_updated = _fmt_s(earliest + int(rng.random() * (_END_S - earliest)))
        total = 0.0
        for _ in range(n_lines):
            product_index, quantity, unit_price, discount, amount = _line_item(rng, prices)
            total += amount
            if item_index in item_ties:
                updated = _END_TEXT
            elif rng.random() < 0.8:
                # Lines are usually written together with their order.
                updated = order_updated
            else:
                updated = _fmt_s(earliest + int(rng.random() * (_END_S - earliest)))
            item_index += 1
            yield (item_index, order_id, product_index + 1, quantity, unit_price, discount,
                   updated)  # fmt: skip
        # Loyal early customers place more orders.
        customer_id = 1 + int(size.customers * rng.random() ** 1.6)
        status = _order_status(rng, _END_S - ordered)
        order_rows.append(
            (order_id, customer_id, status, _fmt_s(ordered), round(total, 2), _note(rng),
             order_updated)
        )  # fmt: skip


# --------------------------------------------------------------------------------------------
# Changes.

_UPDATE_EMAIL = (
    "UPDATE customers SET email = substr(email, 1, instr(email, '@')) || ?, updated_at = ?"
    " WHERE customer_id = ?"
)
_UPDATE_COUNTRY = "UPDATE customers SET country = ?, updated_at = ? WHERE customer_id = ?"
_UPDATE_VIP = "UPDATE customers SET is_vip = 1 - is_vip, updated_at = ? WHERE customer_id = ?"
# Moves each order one step along its lifecycle; terminal orders only get touched.
_UPDATE_ORDER = """
    UPDATE orders
    SET status = CASE status
            WHEN 'pending' THEN 'paid'
            WHEN 'paid' THEN 'shipped'
            WHEN 'shipped' THEN 'delivered'
            WHEN 'delivered' THEN 'refunded'
            ELSE status
        END,
        note = coalesce(?, note),
        updated_at = ?
    WHERE order_id = ?
"""
_UPDATE_ITEM = """
    UPDATE order_items
    SET quantity = max(1, quantity + ?), discount = coalesce(?, discount), updated_at = ?
    WHERE order_item_id = ?
"""
# Mostly None so coalesce keeps the existing discount; sometimes a coupon is applied late.
_NEW_DISCOUNTS: tuple[float | None, ...] = (None, None, None, None, 0.05, 0.1)


def _grow(n: int) -> int:
    """Fresh inserts per call: ~2% of the table."""
    return max(_TIES_AT_NEW_MAX, round(n * 0.02))


def _churn(n: int) -> int:
    """Updates (beyond the watermark ones) per call: ~1% of the table."""
    return max(1, round(n * 0.01))


def _ids(conn: sqlite3.Connection, table: str, key: str) -> list[int]:
    return [int(row[0]) for row in conn.execute(f"SELECT {key} FROM {table} ORDER BY {key}")]


def _watermark(conn: sqlite3.Connection, table: str) -> datetime:
    value = conn.execute(f"SELECT max(updated_at) FROM {table}").fetchone()[0]
    if value is None:
        # An emptied table has no watermark; the end of the initial window keeps it deterministic.
        return _YEAR_START + timedelta(seconds=_END_S)
    return datetime.fromisoformat(str(value))


def _pick_updates(rng: random.Random, ids: Sequence[int]) -> list[int]:
    """Distinct pre-existing ids to update; the first ones become the watermark updates."""
    return rng.sample(ids, min(len(ids), _WATERMARK_UPDATES + _churn(len(ids))))


def _next_ids(existing: Sequence[int], n: int) -> list[int]:
    start = (existing[-1] if existing else 0) + 1
    return list(range(start, start + n))


def _stamps(rng: random.Random, mark: datetime, n: int) -> list[str]:
    """``_WATERMARK_INSERTS`` stamps equal to ``mark``, then ``n`` ascending ones after it.

    The last few fresh stamps are exactly ``mark + 1h`` so the *next* call also starts from a
    max shared by several rows.
    """
    n_top = min(n, _TIES_AT_NEW_MAX)
    offsets = sorted(rng.randint(1, _HOUR_S - 1) for _ in range(n - n_top))
    offsets.extend([_HOUR_S] * n_top)
    fresh = [_fmt_dt(mark + timedelta(seconds=offset)) for offset in offsets]
    return [_fmt_dt(mark)] * _WATERMARK_INSERTS + fresh


def _update_stamps(rng: random.Random, mark: datetime, n: int) -> list[str]:
    """Stamps for ``n`` updates: the first ``_WATERMARK_UPDATES`` are exactly ``mark``."""
    return [
        _fmt_dt(
            mark if i < _WATERMARK_UPDATES else mark + timedelta(seconds=rng.randint(1, _HOUR_S))
        )
        for i in range(n)
    ]


def _executemany(conn: sqlite3.Connection, sql: str, params: Sequence[Sequence[object]]) -> int:
    """Run ``sql`` for every parameter set and return the number of rows changed."""
    return conn.executemany(sql, params).rowcount if params else 0


def _count_at(stamps: Iterable[str], mark: datetime) -> int:
    boundary = _fmt_dt(mark)
    return sum(stamp == boundary for stamp in stamps)


@dataclass
class _Written:
    """Rows one change wrote to one table."""

    inserted: int = 0
    updated: int = 0
    at_watermark: int = 0


def _apply_change(conn: sqlite3.Connection, seed: int) -> ShopChange:
    customer_ids = _ids(conn, "customers", "customer_id")
    order_ids = _ids(conn, "orders", "order_id")
    item_ids = _ids(conn, "order_items", "order_item_id")
    products = [
        (int(row[0]), float(row[1]))
        for row in conn.execute("SELECT product_id, price FROM products ORDER BY product_id")
    ]
    if not customer_ids or not products:
        raise ValueError("change_shop needs a shop with customers and products")
    # Mixing the current sizes into the seed makes repeated calls touch different rows while
    # staying reproducible from (seed, database state).
    rng = random.Random(f"sluice-shop:{seed}:{len(customer_ids)}:{len(order_ids)}:{len(item_ids)}")
    # Read every boundary before writing anything: inserts move the max.
    customer_mark = _watermark(conn, "customers")
    order_mark = _watermark(conn, "orders")
    item_mark = _watermark(conn, "order_items")

    written = {table: _Written() for table in TABLES}
    new_customer_ids = _change_customers(
        conn, rng, customer_ids, customer_mark, written["customers"]
    )
    _insert_orders(
        conn,
        rng,
        (order_ids, order_mark, written["orders"]),
        (item_ids, item_mark, written["order_items"]),
        customer_ids + new_customer_ids,
        products,
    )
    _update_orders(conn, rng, order_ids, order_mark, written["orders"])
    _update_items(conn, rng, item_ids, item_mark, written["order_items"])
    return ShopChange(
        inserted={table: w.inserted for table, w in written.items()},
        updated={table: w.updated for table, w in written.items()},
        at_watermark={table: w.at_watermark for table, w in written.items()},
    )


def _change_customers(
    conn: sqlite3.Connection,
    rng: random.Random,
    customer_ids: Sequence[int],
    mark: datetime,
    written: _Written,
) -> list[int]:
    """Sign-ups and profile edits; return the new customer ids."""
    stamps = _stamps(rng, mark, _grow(len(customer_ids)))
    new_ids = _next_ids(customer_ids, len(stamps))
    rows = [_customer(rng, cid, ts[:10], ts) for cid, ts in zip(new_ids, stamps, strict=True)]
    conn.executemany(_INSERT_CUSTOMER, rows)
    written.inserted += len(rows)
    written.at_watermark += _count_at(stamps, mark)

    picks = _pick_updates(rng, customer_ids)
    update_stamps = _update_stamps(rng, mark, len(picks))
    emails: list[tuple[str, str, int]] = []
    countries: list[tuple[str | None, str, int]] = []
    vips: list[tuple[str, int]] = []
    for cid, ts in zip(picks, update_stamps, strict=True):
        roll = rng.random()
        if roll < 0.5:
            emails.append((rng.choice(_EMAIL_DOMAINS), ts, cid))
        elif roll < 0.8:
            countries.append((_COUNTRY.pick(rng), ts, cid))
        else:
            vips.append((ts, cid))
    written.updated += (
        _executemany(conn, _UPDATE_EMAIL, emails)
        + _executemany(conn, _UPDATE_COUNTRY, countries)
        + _executemany(conn, _UPDATE_VIP, vips)
    )
    written.at_watermark += _count_at(update_stamps, mark)
    return new_ids


def _insert_orders(
    conn: sqlite3.Connection,
    rng: random.Random,
    orders: tuple[Sequence[int], datetime, _Written],
    items: tuple[Sequence[int], datetime, _Written],
    customer_ids: Sequence[int],
    products: Sequence[tuple[int, float]],
) -> None:
    """New orders, each with at least one item.

    The first ``_WATERMARK_INSERTS`` orders are the late arrivals stamped at orders' old max;
    their items are stamped at order_items' old max for the same reason.
    """
    order_ids, order_mark, orders_written = orders
    item_ids, item_mark, items_written = items
    order_stamps = _stamps(rng, order_mark, _grow(len(order_ids)))
    new_order_ids = _next_ids(order_ids, len(order_stamps))
    counts = _items_per_order(rng, max(len(order_stamps), _grow(len(item_ids))), len(order_stamps))
    prices = [price for _, price in products]
    # Lines of fresh orders share their order's instant, clamped into order_items' own window
    # in case the two tables' maxima have drifted apart.
    item_at_mark = _fmt_dt(item_mark)
    item_low = _fmt_dt(item_mark + timedelta(seconds=1))
    item_high = _fmt_dt(item_mark + timedelta(seconds=_HOUR_S))
    next_item_id = (item_ids[-1] if item_ids else 0) + 1
    order_rows: list[_OrderRow] = []
    item_rows: list[_ItemRow] = []
    for k, (order_id, order_ts, n_lines) in enumerate(
        zip(new_order_ids, order_stamps, counts, strict=True)
    ):
        if k < _WATERMARK_INSERTS:
            item_ts = item_at_mark
        else:
            item_ts = min(max(order_ts, item_low), item_high)
        total = 0.0
        for _ in range(n_lines):
            product_index, quantity, unit_price, discount, amount = _line_item(rng, prices)
            total += amount
            product_id = products[product_index][0]
            item_rows.append(
                (next_item_id, order_id, product_id, quantity, unit_price, discount, item_ts)
            )
            next_item_id += 1
        customer_id = rng.choice(customer_ids)
        order_rows.append(
            (order_id, customer_id, "pending", order_ts, round(total, 2), _note(rng), order_ts)
        )
    # Parents first: foreign keys are enforced on this connection.
    conn.executemany(_INSERT_ORDER, order_rows)
    conn.executemany(_INSERT_ITEM, item_rows)
    orders_written.inserted += len(order_rows)
    orders_written.at_watermark += _count_at(order_stamps, order_mark)
    items_written.inserted += len(item_rows)
    items_written.at_watermark += _count_at((row[6] for row in item_rows), item_mark)


def _update_orders(
    conn: sqlite3.Connection,
    rng: random.Random,
    order_ids: Sequence[int],
    mark: datetime,
    written: _Written,
) -> None:
    """Status progress on pre-existing orders (not the ones inserted by this change)."""
    picks = _pick_updates(rng, order_ids)
    stamps = _update_stamps(rng, mark, len(picks))
    params = [(_note(rng), ts, oid) for oid, ts in zip(picks, stamps, strict=True)]
    written.updated += _executemany(conn, _UPDATE_ORDER, params)
    written.at_watermark += _count_at(stamps, mark)


def _update_items(
    conn: sqlite3.Connection,
    rng: random.Random,
    item_ids: Sequence[int],
    mark: datetime,
    written: _Written,
) -> None:
    """Quantity edits and late coupons on pre-existing order lines."""
    picks = _pick_updates(rng, item_ids)
    stamps = _update_stamps(rng, mark, len(picks))
    params = [
        (rng.choice((1, 1, 2, -1)), rng.choice(_NEW_DISCOUNTS), ts, iid)
        for iid, ts in zip(picks, stamps, strict=True)
    ]
    written.updated += _executemany(conn, _UPDATE_ITEM, params)
    written.at_watermark += _count_at(stamps, mark)
