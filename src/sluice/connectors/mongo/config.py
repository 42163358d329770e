"""Creds of a MongoDB deployment: its connection string (a secret: it may hold the password)
and the database whose collections are read.

`sample_size` is how many documents the column inference samples at random, and as many again
of the newest by _id; 0 samples every document (exact, at the cost of reading the collection
once more per run).
"""

from __future__ import annotations

from pydantic import Field, SecretStr, field_validator

from sluice.connectors.base import Creds

SCHEMES = ("mongodb", "mongodb+srv")


class MongoCreds(Creds):
    uri: SecretStr
    database: str = Field(min_length=1)
    sample_size: int = Field(default=1000, ge=0)

    @field_validator("uri")
    @classmethod
    def _connection_string(cls, value: SecretStr) -> SecretStr:
        # Messages never quote the URI: it may hold the password.
        scheme, _, rest = value.get_secret_value().partition("://")
        userinfo, _, _ = rest.rpartition("@")
        if scheme not in SCHEMES or not _hosts(rest):
            raise ValueError(
                "must be a MongoDB connection string: mongodb://USER:PASSWORD@HOST:27017/ or "
                "mongodb+srv://USER:PASSWORD@CLUSTER.example.net/"
            )
        if any(mark in userinfo for mark in "/?#"):
            # Unescaped, they end the host part early for URL parsers, so messages naming
            # the host would show part of the password.
            raise ValueError(
                "the user or password holds '/', '?' or '#': percent-encode them "
                "(urllib.parse.quote_plus)"
            )
        return value

    @field_validator("database")
    @classmethod
    def _database_name(cls, value: str) -> str:
        bad = sorted({c for c in value if c in '/\\. "$'})
        if bad:
            raise ValueError(
                f"{value!r} is not a MongoDB database name (it holds {''.join(bad)!r})"
            )
        return value

    def location(self) -> str:
        """Where reads go, for messages: the hosts and database, no user or password."""
        return f"{_hosts(self.uri.get_secret_value().partition('://')[2])}/{self.database}"

    def password(self) -> str | None:
        """The URI's password as written (percent-encoded), if it has one."""
        userinfo = self.uri.get_secret_value().partition("://")[2].rpartition("@")[0]
        return userinfo.partition(":")[2] or None


def _hosts(rest: str) -> str:
    """The hosts of a connection string without its scheme: after the userinfo (which ends at
    the last '@'), up to the path or the options."""
    after = rest.rpartition("@")[2]
    return after.split("/", 1)[0].split("?", 1)[0]
