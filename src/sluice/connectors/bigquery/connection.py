"""The one place sluice talks to the BigQuery client: logging in, running statements and
load jobs, and translating errors.

Every error becomes a TransientError (the network, a throttled or busy service: trying
again may pass) or a TerminalError (a refused login, a missing dataset, SQL or data BigQuery
refuses), with the secrets scrubbed out of the client's text. The client's own retries are
off: the engine retries a stage as a whole, so a refused step fails at once.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from sluice.connectors.bigquery.config import BigQueryCreds
from sluice.core.errors import StageError, TerminalError, TransientError
from sluice.core.redact import scrub

if TYPE_CHECKING:
    import pyarrow as pa
    from google.cloud.bigquery import Client, QueryJob

SCOPES = ("https://www.googleapis.com/auth/bigquery",)
# Seconds for one HTTP request (not for a job: a job is polled until it ends).
REQUEST_TIMEOUT = 60.0
# Error reasons (errors[].reason) of a 403 that passes when tried later.
_THROTTLED = frozenset(
    {"rateLimitExceeded", "quotaExceeded", "backendError", "jobRateLimitExceeded"}
)
# The client's own retries are off (its stubs type `retry` as a Retry; None is documented).
_NO_RETRY: Any = None


class BigQuery:
    """A client bound to the creds' project, location and dataset (unqualified table names
    resolve there)."""

    def __init__(self, creds: BigQueryCreds) -> None:
        self.creds = creds
        self.client: Client = _client(creds)

    def run(self, sql: str) -> QueryJob:
        """Run `sql` (one statement or a script) to its end."""
        from google.cloud import bigquery

        config = bigquery.QueryJobConfig(
            default_dataset=f"{self.creds.project}.{self.creds.dataset}"
        )
        try:
            job = self.client.query(
                sql,
                job_config=config,
                retry=_NO_RETRY,
                job_retry=_NO_RETRY,
                timeout=REQUEST_TIMEOUT,
            )
            job.result(retry=None)
        except _client_errors() as exc:
            raise translate(exc, self.creds) from None
        return job

    def rows(self, sql: str) -> list[tuple[Any, ...]]:
        job = self.run(sql)
        try:
            return [tuple(row.values()) for row in job.result(retry=None)]
        except _client_errors() as exc:
            raise translate(exc, self.creds) from None

    def arrow(self, sql: str) -> pa.Table:
        job = self.run(sql)
        try:
            return job.to_arrow(create_bqstorage_client=False)
        except _client_errors() as exc:
            raise translate(exc, self.creds) from None

    def load_parquet(self, path: Path, table: str) -> int:
        """Append the Parquet file at `path` to the existing `table` (dataset.table) by one
        load job; the rows the job says it loaded."""
        from google.cloud import bigquery

        config = bigquery.LoadJobConfig(
            source_format=bigquery.SourceFormat.PARQUET,
            write_disposition=bigquery.WriteDisposition.WRITE_APPEND,
            create_disposition=bigquery.CreateDisposition.CREATE_NEVER,
        )
        destination = f"{self.creds.project}.{table}"
        try:
            with path.open("rb") as stream:
                # No size given: the upload is resumable, in chunks, whatever the file's size.
                job = self.client.load_table_from_file(
                    stream, destination, job_config=config, num_retries=0,
                    timeout=REQUEST_TIMEOUT,
                )  # fmt: skip
            job.result(retry=None)
        except _client_errors() as exc:
            raise translate(exc, self.creds) from None
        return int(job.output_rows or 0)

    def dataset_exists(self) -> bool:
        from google.api_core.exceptions import NotFound

        try:
            self.client.get_dataset(
                f"{self.creds.project}.{self.creds.dataset}",
                retry=_NO_RETRY,
                timeout=REQUEST_TIMEOUT,
            )
        except NotFound:
            return False
        except _client_errors() as exc:
            raise translate(exc, self.creds) from None
        return True

    def close(self) -> None:
        client: Any = self.client
        client.close()


def _client_errors() -> tuple[type[Exception], ...]:
    """What the client raises: API answers, the network, the login."""
    import requests
    from google.api_core.exceptions import GoogleAPIError
    from google.auth.exceptions import GoogleAuthError

    return (GoogleAPIError, requests.RequestException, GoogleAuthError)


def _client(creds: BigQueryCreds) -> Client:
    from google.api_core.client_options import ClientOptions
    from google.cloud import bigquery

    options = ClientOptions(api_endpoint=creds.api_endpoint) if creds.api_endpoint else None
    return bigquery.Client(
        project=creds.project,
        credentials=_credentials(creds),
        location=creds.location,
        client_options=options,
    )


def _credentials(creds: BigQueryCreds) -> Any:
    if creds.anonymous:
        from google.auth import credentials

        anonymous: Any = credentials.AnonymousCredentials
        return anonymous()
    if creds.service_account is not None:
        from google.oauth2 import service_account

        from_info: Any = service_account.Credentials.from_service_account_info
        try:
            return from_info(creds.service_account_info(), scopes=SCOPES)
        except ValueError as exc:  # the library's text never quotes the key
            raise TerminalError(
                f"BigQuery creds for {creds.location_name()}: 'service_account' cannot be "
                f"used ({scrub(str(exc), creds.secret_values())}); give the JSON key file's "
                "content as IAM downloads it"
            ) from None
    import google.auth
    from google.auth.exceptions import DefaultCredentialsError

    try:
        found, _project = google.auth.default(scopes=SCOPES)
    except DefaultCredentialsError:
        raise TerminalError(
            f"BigQuery creds for {creds.location_name()} give no 'service_account' and no "
            "application default credentials were found: give 'service_account' (the JSON "
            "key), or set GOOGLE_APPLICATION_CREDENTIALS / run 'gcloud auth "
            "application-default login' where sluice runs"
        ) from None
    return found


def translate(exc: Exception, creds: BigQueryCreds) -> StageError:
    """A client error as sluice's own, naming where it happened and never a secret."""
    import requests
    from google.api_core import exceptions as api
    from google.auth import exceptions as auth

    if isinstance(exc, StageError):
        return exc
    where = f"BigQuery {creds.location_name()}"
    text = scrub(_message(exc), creds.secret_values())
    if isinstance(exc, auth.RefreshError):
        return TerminalError(
            f"{where} refused the login: {text}; check 'service_account' (a key that is "
            "revoked or of another project) or the application default credentials"
        )
    if isinstance(exc, requests.ConnectionError | requests.Timeout | auth.TransportError):
        return TransientError(f"{where} did not answer: {text}")
    if isinstance(exc, api.Unauthorized):
        return TerminalError(f"{where} refused the credentials: {text}")
    if isinstance(exc, api.Forbidden):
        if _reasons(exc) & _THROTTLED:
            return TransientError(f"{where} is throttling: {text}")
        return TerminalError(
            f"{where}: permission denied: {text}; the account needs BigQuery Data Editor on "
            "the dataset and BigQuery Job User on the project"
        )
    passing = (
        api.TooManyRequests | api.InternalServerError | api.BadGateway | api.ServiceUnavailable
        | api.GatewayTimeout
    )  # fmt: skip
    if isinstance(exc, passing):
        return TransientError(f"{where}: {text}")
    return TerminalError(f"{where}: {text}")


def _message(exc: Exception) -> str:
    """The error's own text, without the client's trailer (location, job id) and URLs."""
    message = getattr(exc, "message", None) or str(exc)
    kept = [line for line in str(message).splitlines()
            if line.strip() and not line.startswith(("Location:", "Job ID:"))]  # fmt: skip
    return " ".join(" ".join(kept).split())


def _reasons(exc: Exception) -> set[str]:
    return {str(error.get("reason")) for error in getattr(exc, "errors", None) or []}
