"""Creds of a MongoDB deployment: its connection string (a secret: it may hold the password)
and the database whose collections are read.

`sample_size` is how many documents the column inference samples at random, and as many again
of the newest by _id; 0 samples every document (exact, at the cost of reading the collection
once more per run).
"""

from __future__ import annotations

from urllib.parse import urlsplit

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
        parts = urlsplit(value.get_secret_value())
        if parts.scheme not in SCHEMES or not parts.netloc.rpartition("@")[2]:
            raise ValueError(
                "must be a MongoDB connection string: mongodb://USER:PASSWORD@HOST:27017/ or "
                "mongodb+srv://USER:PASSWORD@CLUSTER.example.net/"
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
        hosts = urlsplit(self.uri.get_secret_value()).netloc.rpartition("@")[2]
        return f"{hosts}/{self.database}"
