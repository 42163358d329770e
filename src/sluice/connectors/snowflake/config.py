"""Creds of a Snowflake account: who logs in (password or key pair), and where loads go.

`host`, `port` and `protocol` reach a private endpoint (PrivateLink) or a local stand-in;
without them the driver derives the host from `account`.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr, model_validator

from sluice.connectors.base import Creds

# Fail fast on an account that does not answer: seconds for the whole login.
LOGIN_TIMEOUT = 10


class SnowflakeCreds(Creds):
    account: str = Field(min_length=1)
    user: str = Field(min_length=1)
    password: SecretStr | None = None
    # An unencrypted or encrypted PKCS#8 private key in PEM form (key-pair authentication).
    private_key: SecretStr | None = None
    private_key_passphrase: SecretStr | None = None
    database: str = Field(min_length=1)
    schema_: str = Field(default="PUBLIC", alias="schema", min_length=1)
    warehouse: str | None = None
    role: str | None = None
    host: str | None = None
    port: int | None = Field(default=None, ge=1, le=65535)
    protocol: Literal["https", "http"] = "https"

    @model_validator(mode="after")
    def _one_login(self) -> SnowflakeCreds:
        if (self.password is None) == (self.private_key is None):
            raise ValueError(
                "give either 'password' or 'private_key' (a PEM key for key-pair "
                "authentication), not both and not neither"
            )
        if self.private_key_passphrase is not None and self.private_key is None:
            raise ValueError("'private_key_passphrase' is given without 'private_key'")
        return self

    def location(self) -> str:
        """Where loads go, for messages: no secret in it."""
        where = self.host or f"{self.account}.snowflakecomputing.com"
        return f"{self.user}@{where}/{self.database}.{self.schema_}"
