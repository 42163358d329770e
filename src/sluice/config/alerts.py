"""SQL on alert targets (their URLs sealed like creds) and on the state each table's hop was
last announced in."""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from sluice.config import schema as s
from sluice.config.secrets import CredsCipher
from sluice.config.store import Store
from sluice.core.clock import utcnow
from sluice.core.errors import ConflictError, NotFoundError
from sluice.core.models import Hop

targets, states = s.sluice_alert_targets, s.sluice_alert_states


@dataclass(frozen=True)
class Announced:
    state: str  # ok | failed | stale
    run_id: int | None
    changed_at: datetime


@dataclass(frozen=True)
class Target:
    name: str
    url: str  # in clear: for the notifier only
    tables: tuple[str, ...]  # name patterns of the tables it hears of; (): every table

    def takes(self, table: str) -> bool:
        return not self.tables or any(fnmatch.fnmatchcase(table, p) for p in self.tables)


class AlertStore(Store):
    def __init__(self, engine: sa.Engine, cipher: CredsCipher) -> None:
        super().__init__(engine)
        self.cipher = cipher

    def add_target(self, name: str, url: str, tables: str | None = None) -> None:
        """`tables`: comma-separated name patterns whose tables the target hears of (None:
        every table)."""
        sealed = self.cipher.seal({"url": url})
        try:
            with self.tx() as c:
                c.execute(
                    targets.insert().values(
                        name=name, url=sealed, created_at=utcnow(), tables=tables
                    )
                )
        except IntegrityError:
            raise ConflictError(
                f"alert target {name!r} exists already: remove it first "
                f"(`sluice alerts remove {name}`)"
            ) from None

    def remove_target(self, name: str) -> None:
        with self.tx() as c:
            if not c.execute(targets.delete().where(targets.c.name == name)).rowcount:
                raise NotFoundError(f"no alert target {name!r}: `sluice alerts list` shows them")

    def target_urls(self) -> dict[str, str]:
        """Name -> URL, opened (secrets in clear: hand them to the notifier only)."""
        return {target.name: target.url for target in self.targets()}

    def targets(self) -> list[Target]:
        """Every target, its URL opened (secrets in clear: hand them to the notifier only)."""
        with self.read() as c:
            rows = c.execute(
                sa.select(targets.c.name, targets.c.url, targets.c.tables).order_by(targets.c.name)
            )
            stored = [(str(name), str(url), tables) for name, url, tables in rows]
        again = "add the alert target again"
        return [
            Target(
                name,
                str(self.cipher.open(url, f"alert target {name!r}", again)["url"]),
                tuple(p for p in (tables or "").split(",") if p),
            )
            for name, url, tables in stored
        ]

    def announced(self) -> dict[tuple[str, Hop], Announced]:
        with self.read() as c:
            rows = c.execute(sa.select(states)).mappings().all()
        return {
            (str(r["source_tablename"]), Hop(r["hop"])): Announced(
                r["state"], r["run_id"], r["changed_at"]
            )
            for r in rows
        }

    def announce(self, table: str, hop: Hop, state: str, run_id: int | None) -> None:
        with self.tx() as c:
            c.execute(
                states.delete().where(states.c.source_tablename == table, states.c.hop == hop.value)
            )
            c.execute(
                states.insert().values(
                    source_tablename=table,
                    hop=hop.value,
                    state=state,
                    run_id=run_id,
                    changed_at=utcnow(),
                )
            )
