"""Creds of a PostgreSQL database: a libpq URL, or host/port/user/password/database.

Both styles become one libpq connection string. The URL is a secret as a whole (it usually
carries the password), so display and logs only ever see `location()`.
"""

from __future__ import annotations

from typing import Literal
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit, urlunsplit

from pydantic import Field, SecretStr, model_validator

from sluice.connectors.base import Creds, url_style

SslMode = Literal["disable", "allow", "prefer", "require", "verify-ca", "verify-full"]

# Fail fast on an unreachable host instead of libpq's default of waiting forever.
CONNECT_DEFAULTS: tuple[tuple[str, str], ...] = (
    ("connect_timeout", "10"),
    ("application_name", "sluice"),
)
_URL_SCHEMES = ("postgresql", "postgres")


class PostgresCreds(Creds):
    url: SecretStr | None = None
    host: str | None = None
    port: int = Field(default=5432, ge=1, le=65535)
    user: str | None = None
    password: SecretStr | None = None
    database: str | None = None
    sslmode: SslMode | None = None

    @model_validator(mode="after")
    def _one_style(self) -> PostgresCreds:
        if not url_style(self, "'port', 'password', 'sslmode'"):
            return self
        assert self.url is not None
        parts = urlsplit(self.url.get_secret_value())
        if parts.scheme not in _URL_SCHEMES:
            raise ValueError(
                "'url' must be a PostgreSQL URL such as postgresql://user@host:5432/db"
            )
        if self.sslmode is not None and "sslmode" in dict(parse_qsl(parts.query)):
            raise ValueError("sslmode is given both inside 'url' and as a field: give it once")
        return self

    def conninfo(self) -> str:
        """The libpq connection string, secrets included: hand it to the driver only."""
        if self.url is not None:
            parts = urlsplit(self.url.get_secret_value())
            query = parse_qsl(parts.query, keep_blank_values=True)
            present = {key for key, _ in query}
            query += [(key, value) for key, value in CONNECT_DEFAULTS if key not in present]
            if self.sslmode is not None:
                query.append(("sslmode", self.sslmode))
            # libpq decodes %20 but not '+', so spaces must be percent-encoded.
            return urlunsplit(parts._replace(query=urlencode(query, quote_via=quote)))
        pairs: list[tuple[str, str]] = [
            ("host", self.host or ""),
            ("port", str(self.port)),
            ("user", self.user or ""),
            ("dbname", self.database or ""),
        ]
        if self.password is not None:
            pairs.append(("password", self.password.get_secret_value()))
        if self.sslmode is not None:
            pairs.append(("sslmode", self.sslmode))
        pairs += CONNECT_DEFAULTS
        return " ".join(f"{key}={_conninfo_value(value)}" for key, value in pairs)

    def location(self) -> str:
        """host:port/database, for messages: never a secret."""
        if self.url is None:
            return f"{self.host}:{self.port}/{self.database}"
        parts = urlsplit(self.url.get_secret_value())
        hosts = parts.netloc.rpartition("@")[2] or "localhost"
        query = dict(parse_qsl(parts.query))
        if "host" in query:  # a Unix socket directory or hosts given as parameters
            hosts = query["host"] + (f":{query['port']}" if "port" in query else "")
        return f"{hosts}/{unquote(parts.path.lstrip('/')) or query.get('dbname', '')}"

    def secrets(self) -> list[str]:
        """Every spelling of a secret that a driver message might echo."""
        values = self.secret_values()
        if self.url is not None:
            userinfo = urlsplit(self.url.get_secret_value()).netloc.rpartition("@")[0]
            raw_password = userinfo.partition(":")[2]
            values += [raw_password, unquote(raw_password)]
        return values


def _conninfo_value(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace("'", "\\'")
    return f"'{escaped}'"
