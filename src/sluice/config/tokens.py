"""REST API tokens: random, shown once, stored only as their SHA-256; a role says what it may do.

A token carries 256 random bits, so a plain SHA-256 of it is enough: there is nothing to
guess, and a leaked database gives away no usable token. Lookups go by the hash, so the token
itself is never compared or stored anywhere.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

import sqlalchemy as sa

from sluice.config import schema as s
from sluice.config.store import Store
from sluice.core.clock import utcnow
from sluice.core.errors import ConfigError, NotFoundError

PREFIX = "sluice_"  # lets secret scanners and people recognise a leaked token
MAX_NAME = 100
# last_used_at is written at most this often per token, so reads do not turn into writes.
TOUCH_EVERY = timedelta(minutes=1)


class Role(StrEnum):
    """viewer reads; admin also changes config and starts runs."""

    ADMIN = "admin"
    VIEWER = "viewer"


@dataclass(frozen=True)
class TokenRecord:
    """A token as stored: never the token itself."""

    id: int
    name: str | None
    role: Role
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


def new_token() -> str:
    return PREFIX + secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def check_name(name: str | None) -> str | None:
    if name is None:
        return None
    cleaned = name.strip()
    if not cleaned or len(cleaned) > MAX_NAME or not cleaned.isprintable():
        raise ConfigError(
            f"token name must be 1-{MAX_NAME} printable characters, such as 'grafana' or "
            "'dashboard'"
        )
    return cleaned


class TokenRepository(Store):
    @staticmethod
    def _to_record(row: sa.RowMapping) -> TokenRecord:
        return TokenRecord(
            id=row["id"],
            name=row["name"],
            role=Role(row["role"]),
            created_at=row["created_at"],
            last_used_at=row["last_used_at"],
            revoked_at=row["revoked_at"],
        )

    def create(self, role: Role, name: str | None) -> tuple[str, TokenRecord]:
        """A new token (returned once, here) and its stored record."""
        token = new_token()
        t = s.sluice_api_tokens
        with self.tx() as c:
            token_id = c.execute(
                t.insert()
                .values(
                    name=check_name(name),
                    role=role.value,
                    token_sha256=token_hash(token),
                    created_at=utcnow(),
                )
                .returning(t.c.id)
            ).scalar_one()
        return token, self.get(int(token_id))

    def get(self, token_id: int) -> TokenRecord:
        t = s.sluice_api_tokens
        with self.read() as c:
            row = c.execute(sa.select(t).where(t.c.id == token_id)).mappings().first()
        if row is None:
            raise NotFoundError(f"no API token with id {token_id}: see `sluice token list`")
        return self._to_record(row)

    def list_tokens(self) -> list[TokenRecord]:
        t = s.sluice_api_tokens
        with self.read() as c:
            rows = c.execute(sa.select(t).order_by(t.c.id)).mappings().all()
        return [self._to_record(row) for row in rows]

    def revoke(self, token_id: int) -> TokenRecord:
        """Revoke a token at once; revoking it again changes nothing."""
        t = s.sluice_api_tokens
        self.get(token_id)
        with self.tx() as c:
            c.execute(
                t.update()
                .where(t.c.id == token_id, t.c.revoked_at.is_(None))
                .values(revoked_at=utcnow())
            )
        return self.get(token_id)

    def authenticate(self, token: str) -> TokenRecord | None:
        """The live token's record, or None for an unknown or revoked token."""
        t = s.sluice_api_tokens
        now = utcnow()
        with self.tx() as c:
            row = (
                c.execute(sa.select(t).where(t.c.token_sha256 == token_hash(token)))
                .mappings()
                .first()
            )
            if row is None or row["revoked_at"] is not None:
                return None
            last = row["last_used_at"]
            if last is None or now - last > TOUCH_EVERY:
                c.execute(t.update().where(t.c.id == row["id"]).values(last_used_at=now))
        return self._to_record(row)
