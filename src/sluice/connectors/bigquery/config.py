"""Creds of a BigQuery project: where loads go (project, dataset, location) and who loads.

Who loads: a service account's JSON key (`service_account`, a secret), else Google's
application default credentials (GOOGLE_APPLICATION_CREDENTIALS, gcloud's login, or the
metadata server of the machine). `api_endpoint` reaches a private endpoint or a local
emulator; `anonymous` sends no credentials at all, which only an emulator accepts.
"""

from __future__ import annotations

import json
import re
from typing import Any

from pydantic import Field, SecretStr, field_validator, model_validator

from sluice.connectors.base import Creds

# A project id: 6 to 30 lower-case letters, digits and hyphens (a domain-scoped one has a
# prefix and a colon). A dataset: letters, digits and underscores, at most 1,024.
_PROJECT = re.compile(r"^(?:[a-z][a-z0-9.-]*:)?[a-z][a-z0-9-]{4,28}[a-z0-9]$")
_DATASET = re.compile(r"^[A-Za-z0-9_]{1,1024}$")
_KEY_FIELDS = ("type", "client_email", "private_key", "token_uri")


class BigQueryCreds(Creds):
    project: str
    dataset: str
    location: str = Field(default="US", min_length=1)
    service_account: SecretStr | None = None
    api_endpoint: str | None = None
    anonymous: bool = False

    @field_validator("project")
    @classmethod
    def _project_id(cls, value: str) -> str:
        if not _PROJECT.match(value):
            raise ValueError(
                "is not a project id (6 to 30 lower-case letters, digits and hyphens, "
                "starting with a letter); give the id, not the project's display name"
            )
        return value

    @field_validator("dataset")
    @classmethod
    def _dataset_name(cls, value: str) -> str:
        if not _DATASET.match(value):
            raise ValueError("may hold only letters, digits and underscores")
        return value

    @model_validator(mode="after")
    def _one_identity(self) -> BigQueryCreds:
        if self.anonymous and self.service_account is not None:
            raise ValueError("give 'service_account' or 'anonymous', not both")
        if self.anonymous and self.api_endpoint is None:
            raise ValueError(
                "'anonymous' works only with an 'api_endpoint' that takes no credentials "
                "(an emulator); BigQuery itself needs a service account or application "
                "default credentials"
            )
        if self.service_account is not None:
            self.service_account_info()
        return self

    def service_account_info(self) -> dict[str, Any]:
        """The service account's key as a dict; a message that never quotes it otherwise."""
        assert self.service_account is not None
        try:
            info = json.loads(self.service_account.get_secret_value())
        except ValueError:
            raise ValueError(
                "'service_account' is not JSON: give the key file's content as a string "
                "(the JSON that IAM's 'Create key' downloads)"
            ) from None
        missing = [name for name in _KEY_FIELDS if not isinstance(info, dict) or name not in info]
        if missing or info.get("type") != "service_account":
            raise ValueError(
                "'service_account' is not a service account key (it lacks "
                f"{', '.join(missing) or 'type service_account'}): give the JSON key file's "
                "content"
            )
        return dict(info)

    def location_name(self) -> str:
        """Where loads go, for messages: no secret in it."""
        where = f" at {self.api_endpoint}" if self.api_endpoint else ""
        return f"{self.project}.{self.dataset}{where}"
