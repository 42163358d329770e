"""The client, and pymongo's errors as sluice's own: one line, the deployment named, no secret."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from sluice.connectors.mongo.config import MongoCreds
from sluice.core.errors import StageError, TerminalError, TransientError
from sluice.core.redact import scrub

if TYPE_CHECKING:
    from pymongo import MongoClient

# Server selection gives up within this (a check of an unreachable host fails in it).
TIMEOUT_MS = 10_000
# Codes the server answers while it fails over or shuts down: the same read may pass again.
_TRANSIENT_CODES = {6, 7, 89, 91, 189, 262, 9001, 10107, 11600, 11602, 13435, 13436}
_AUTH_CODES = {18, 13}
# The snapshot's history ran out under a long read (minSnapshotHistoryWindowInSeconds).
_SNAPSHOT_TOO_OLD = 239


def connect(creds: MongoCreds) -> MongoClient[dict[str, Any]]:
    from pymongo import MongoClient

    uri = creds.uri.get_secret_value()
    # Defaults where the URI does not set its own (keywords would override the URI's).
    options: dict[str, Any] = {
        name: TIMEOUT_MS
        for name in ("serverSelectionTimeoutMS", "connectTimeoutMS")
        if name.lower() not in uri.lower()
    }
    with translate(creds):
        try:
            # retryReads off: a retried read could begin a second snapshot; the engine
            # retries whole reads instead.
            return MongoClient(uri, appname="sluice", retryReads=False, **options)
        except (ValueError, TypeError) as exc:  # pymongo's URI parser: a bad port, option
            raise TerminalError(
                f"MongoDB at {creds.location()}: the creds' uri is not usable: {_text(exc, creds)}"
            ) from None


@contextmanager
def translate(creds: MongoCreds) -> Iterator[None]:
    """pymongo's exceptions raised inside as TransientError or TerminalError."""
    from bson.errors import BSONError
    from pymongo import errors

    where = _text(f"MongoDB at {creds.location()}", creds)
    try:
        yield
    except StageError:
        raise
    except errors.OperationFailure as exc:
        text = _text(exc.details.get("errmsg") if exc.details else exc, creds)
        if exc.code in _AUTH_CODES:
            raise TerminalError(
                f"{where} refused the login or the read ({text}); check the user, password and "
                "authSource in the creds' uri, and that the user may read the database"
            ) from None
        if exc.code == _SNAPSHOT_TOO_OLD:
            raise TerminalError(
                f"{where}: the read outlived the server's snapshot history ({text}); raise "
                "minSnapshotHistoryWindowInSeconds on the server (300 s by default) or read "
                "the collection incrementally"
            ) from None
        if exc.code in _TRANSIENT_CODES or exc.has_error_label("RetryableError"):
            raise TransientError(f"{where}: {text}") from None
        raise TerminalError(f"{where}: {text} (code {exc.code})") from None
    except BSONError as exc:  # a document the driver cannot decode (invalid UTF-8, ...)
        raise TerminalError(
            f"{where}: a document could not be decoded: {_text(exc, creds)}; fix it in the "
            "collection (or leave the collection out)"
        ) from None
    except errors.ConfigurationError as exc:
        raise TerminalError(f"{where}: the creds' uri is not usable: {_text(exc, creds)}") from None
    except errors.PyMongoError as exc:
        # Server selection timeouts, refused and reset connections: the network's doing.
        summary = str(exc).split(", Timeout:")[0].split(" (configured timeouts:")[0]
        raise TransientError(f"{where} did not answer: {_text(summary, creds)}") from None


def _text(value: object, creds: MongoCreds) -> str:
    secrets = creds.secret_values()
    password = creds.password()
    if password:
        secrets += [password, unquote(password)]
    return scrub(" ".join(str(value).split()), secrets)
