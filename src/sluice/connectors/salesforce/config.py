"""Creds of a Salesforce org: its My Domain URL, the API version, and one OAuth 2.0 login.

    client credentials   client_id + client_secret (a connected app's run-as user)
    username-password    client_id + client_secret + username + password (+ security_token)
    JWT bearer           client_id + username + private_key (PEM; the app holds its cert)
    a session            access_token (a session id from elsewhere; it expires)

Every flow posts to `{instance_url}/services/oauth2/token`, so a login never leaves the org's
own domain. `include_deleted` reads with queryAll (deleted and archived records too, with
their IsDeleted). An object with at least `bulk_threshold` records is read by a Bulk API 2.0
query job, a smaller one by the REST query API.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator, model_validator

from sluice.connectors.base import Creds

_VERSION = re.compile(r"^\d{2}\.0$")


class SalesforceCreds(Creds):
    instance_url: str
    api_version: str = "61.0"
    client_id: str | None = None
    client_secret: SecretStr | None = None
    username: str | None = None
    password: SecretStr | None = None
    security_token: SecretStr | None = None
    private_key: SecretStr | None = None
    # The JWT's audience: https://test.salesforce.com for a sandbox.
    audience: str = "https://login.salesforce.com"
    access_token: SecretStr | None = None
    include_deleted: bool = False
    bulk_threshold: int = Field(default=50_000, ge=1)

    @field_validator("instance_url")
    @classmethod
    def _https(cls, value: str) -> str:
        parts = urlsplit(value)
        # simple-salesforce speaks https to the instance whatever the URL says.
        if not parts.hostname or parts.scheme != "https":
            raise ValueError(
                "must be the org's https URL, e.g. https://acme.my.salesforce.com (Setup > My "
                "Domain)"
            )
        return value.rstrip("/")

    @field_validator("api_version")
    @classmethod
    def _version(cls, value: str) -> str:
        if not _VERSION.match(value):
            raise ValueError("must be an API version such as 61.0")
        return value

    @model_validator(mode="after")
    def _one_login(self) -> SalesforceCreds:
        flows = [name for name, given in self._flows().items() if given]
        if len(flows) != 1:
            raise ValueError(
                "give one login: access_token; or client_id with client_secret (client "
                "credentials, or with username and password); or client_id, username and "
                f"private_key (JWT bearer){' (found ' + ' and '.join(flows) + ')' if flows else ''}"
            )
        if self.security_token is not None and self.password is None:
            raise ValueError("'security_token' goes with 'password'")
        return self

    def _flows(self) -> dict[str, bool]:
        secret = self.client_id is not None and self.client_secret is not None
        return {
            "access_token": self.access_token is not None,
            "password": secret and self.username is not None and self.password is not None,
            "client credentials": secret and self.password is None,
            "JWT bearer": self.client_id is not None and self.private_key is not None,
        }

    def flow(self) -> str:
        return next(name for name, given in self._flows().items() if given)

    def location(self) -> str:
        """Where reads go, for messages: no secret in it."""
        who = f"{self.username}@" if self.username else ""
        return f"{who}{urlsplit(self.instance_url).hostname}"
