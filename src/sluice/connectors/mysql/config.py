"""Creds of a MySQL or MariaDB database: a mysql:// URL, or host/port/user/password/database.

Both styles become the keyword arguments of PyMySQL (catalog queries, counts) and the URL of
connectorx (the read). The URL is a secret as a whole (it usually carries the password), so
display and logs only ever see `location()`.

TLS: `ssl_mode` takes the MySQL client's modes; `ssl_ca` names a CA file for verify_ca and
verify_identity. In a URL they are the query parameters `ssl-mode` and `ssl-ca`, as the
MySQL client and connectorx spell them.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit

from pydantic import Field, SecretStr, model_validator

from sluice.connectors.base import Creds, url_style

SslMode = Literal["disabled", "preferred", "required", "verify_ca", "verify_identity"]
SSL_MODES: tuple[str, ...] = ("disabled", "preferred", "required", "verify_ca", "verify_identity")

# Fail fast on an unreachable host: seconds to open the TCP connection.
CONNECT_TIMEOUT = 10
_URL_SCHEMES = ("mysql", "mariadb")
_URL_PARAMS = ("ssl-mode", "ssl-ca")


class MySQLCreds(Creds):
    path_fields: ClassVar[tuple[str, ...]] = ("ssl_ca",)

    url: SecretStr | None = None
    host: str | None = None
    port: int = Field(default=3306, ge=1, le=65535)
    user: str | None = None
    password: SecretStr | None = None
    database: str | None = None
    ssl_mode: SslMode | None = None
    ssl_ca: str | None = None

    @model_validator(mode="after")
    def _one_style(self) -> MySQLCreds:
        if not url_style(self, "'port', 'password', 'ssl_mode', 'ssl_ca'"):
            return self
        assert self.url is not None
        parts = urlsplit(self.url.get_secret_value())
        if parts.scheme not in _URL_SCHEMES:
            raise ValueError("'url' must be a MySQL URL such as mysql://user@host:3306/db")
        if not unquote(parts.path.lstrip("/")):
            raise ValueError("'url' must name the database: mysql://user@host:3306/db")
        query = dict(parse_qsl(parts.query))
        unknown = sorted(set(query) - set(_URL_PARAMS))
        if unknown:
            raise ValueError(
                f"'url' has unknown parameter(s) {', '.join(repr(n) for n in unknown)}: "
                "the known ones are 'ssl-mode' and 'ssl-ca'"
            )
        if query.get("ssl-mode", "disabled") not in SSL_MODES:
            raise ValueError(f"'url' parameter 'ssl-mode' must be one of {', '.join(SSL_MODES)}")
        twice = [
            name
            for name, param in (("ssl_mode", "ssl-mode"), ("ssl_ca", "ssl-ca"))
            if getattr(self, name) is not None and param in query
        ]
        if twice:
            raise ValueError(f"{twice[0]} is given both inside 'url' and as a field: give it once")
        return self

    # ---- the parts, whichever style gave them ---------------------------------------------
    def _parts(self) -> tuple[str, int, str, str, str, str | None, str | None]:
        """host, port, user, password, database, ssl mode, ssl CA: secrets included."""
        if self.url is None:
            password = self.password.get_secret_value() if self.password else ""
            return (
                self.host or "",
                self.port,
                self.user or "",
                password,
                self.database or "",
                self.ssl_mode,
                self.ssl_ca,
            )
        parts = urlsplit(self.url.get_secret_value())
        query = dict(parse_qsl(parts.query))
        return (
            parts.hostname or "localhost",
            parts.port or 3306,
            unquote(parts.username or ""),
            unquote(parts.password or ""),
            unquote(parts.path.lstrip("/")),
            self.ssl_mode or query.get("ssl-mode"),
            self.ssl_ca or query.get("ssl-ca"),
        )

    def pymysql_kwargs(self) -> dict[str, Any]:
        """Keyword arguments of pymysql.connect, secrets included: hand them to the driver only."""
        host, port, user, password, database, mode, ca = self._parts()
        kwargs: dict[str, Any] = {
            "host": host,
            "port": port,
            "user": user,
            "password": password,
            "database": database,
            "connect_timeout": CONNECT_TIMEOUT,
            "charset": "utf8mb4",
        }
        if mode == "disabled":
            kwargs["ssl_disabled"] = True
        elif mode is not None or ca is not None:
            verify = mode in ("verify_ca", "verify_identity")
            kwargs["ssl"] = {"ca": ca} if ca else {}
            kwargs["ssl_verify_cert"] = verify
            kwargs["ssl_verify_identity"] = mode == "verify_identity"
        return kwargs

    def requires_tls(self) -> bool:
        return self._parts()[5] in ("required", "verify_ca", "verify_identity")

    def tls_mode(self) -> str | None:
        return self._parts()[5]

    def connectorx_url(self, *, server_has_tls: bool) -> str:
        """The URL connectorx reads with, secrets included: hand it to the driver only.

        connectorx's 'preferred' insists on TLS, so 'preferred' becomes 'required' when the
        server offers TLS (the catalog connection found out) and no TLS setting when it does not.
        """
        host, port, user, password, database, mode, ca = self._parts()
        userinfo = quote(user, safe="") + (":" + quote(password, safe="") if password else "")
        params: list[tuple[str, str]] = [("tcp_connect_timeout_ms", str(CONNECT_TIMEOUT * 1000))]
        if mode == "preferred":
            mode = "required" if server_has_tls else None
        if mode is not None:
            params.append(("ssl-mode", mode))
        if ca is not None and mode not in (None, "disabled"):
            params.append(("ssl-ca", ca))
        netloc = f"{userinfo}@{_bracketed(host)}:{port}"
        return f"mysql://{netloc}/{quote(database, safe='')}?{urlencode(params)}"

    def location(self) -> str:
        """host:port/database, for messages: never a secret."""
        host, port, _, _, database, _, _ = self._parts()
        return f"{_bracketed(host)}:{port}/{database}"

    def secrets(self) -> list[str]:
        """Every spelling of a secret that a driver message might echo."""
        password = self._parts()[3]
        values = [*self.secret_values(), password, quote(password, safe="")]
        if self.url is not None:
            raw = urlsplit(self.url.get_secret_value()).netloc.rpartition("@")[0]
            values.append(raw.partition(":")[2])
        return values


def _bracketed(host: str) -> str:
    return f"[{host}]" if ":" in host else host
