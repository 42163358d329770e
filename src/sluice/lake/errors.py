"""Lake storage failures sorted into what a retry can fix and what a person must fix.

pyarrow reports every filesystem failure, local or S3, as a bare OSError; its S3 messages
name the AWS error (`AWS Error SLOW_DOWN during PutObject operation: ...`) and, for errors
the SDK does not name, the HTTP status. Throttling, a dropped connection or a 5xx is worth
another attempt; a refused credential, a missing bucket or a full disk is not.
"""

from __future__ import annotations

import errno
import functools
import inspect
import re
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from sluice.core.errors import StageError, TerminalError, TransientError

_AWS_ERROR = re.compile(r"AWS Error (?:\[code \d+\]|([A-Z_]+))")
_HTTP_STATUS = re.compile(r"HTTP (?:status|response code) (\d{3})", re.IGNORECASE)
# pyarrow's own check before it creates a directory, made without an AWS call.
_MISSING_BUCKET = re.compile(r"Bucket '[^']*' not found")

_RETRYABLE_AWS = {
    "NETWORK_CONNECTION",
    "SLOW_DOWN",
    "SERVICE_UNAVAILABLE",
    "INTERNAL_FAILURE",
    "THROTTLING",
    "REQUEST_TIMEOUT",
    "REQUEST_EXPIRED",
    "REQUEST_TIME_TOO_SKEWED",
}
_FIXES = {
    "ACCESS_DENIED": "the lake's credentials may not do this: check AWS_* variables, the "
    "profile or the lake options, and the bucket policy",
    "INVALID_ACCESS_KEY_ID": "the access key id is unknown to the store: fix the lake's "
    "credentials",
    "SIGNATURE_DOES_NOT_MATCH": "the secret key does not match the access key id: fix the "
    "lake's credentials",
    "NO_SUCH_BUCKET": "the bucket does not exist: create it or fix the lake location",
    "INVALID_ENDPOINT": "the endpoint URL is wrong: fix AWS_ENDPOINT_URL or the lake options",
}
_RETRYABLE_ERRNO = {
    errno.ECONNREFUSED,
    errno.ECONNRESET,
    errno.ECONNABORTED,
    errno.ETIMEDOUT,
    errno.EHOSTUNREACH,
    errno.ENETUNREACH,
    errno.EAGAIN,
}


def storage_error(exc: OSError) -> StageError:
    """The error a stage should raise for `exc`, met while using the lake."""
    message = str(exc)
    if isinstance(exc, ConnectionError | TimeoutError) or exc.errno in _RETRYABLE_ERRNO:
        return TransientError(f"lake storage unreachable: {message}")
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return TerminalError(f"lake storage is full: {message}; free space and run again")
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return TerminalError(
            f"lake storage refused access: {message}; give the user running sluice write "
            "access to the lake location"
        )
    if _MISSING_BUCKET.search(message):
        return TerminalError(f"lake storage error: {message}; {_FIXES['NO_SUCH_BUCKET']}")
    named = _AWS_ERROR.search(message)
    status = _HTTP_STATUS.search(message)
    code = named.group(1) if named and named.group(1) else None
    # curlCode: no HTTP answer at all (DNS, TLS, connection)
    if code == "NETWORK_CONNECTION" or (named and "curlCode" in message):
        return TransientError(f"lake storage unreachable: {message}")
    if code in _RETRYABLE_AWS or (status is not None and status.group(1).startswith("5")):
        return TransientError(f"lake storage failed for now: {message}")
    if code in _FIXES:
        return TerminalError(f"lake storage error: {message}; {_FIXES[code]}")
    return TerminalError(f"lake storage error: {message}")


Kind = TypeVar("Kind", bound=type)


def translates_storage_errors(cls: Kind) -> Kind:
    """Every method of `cls` raises the lake's own errors (storage_error) for pyarrow's bare
    OSError, also while an iterator it returned is consumed: nothing above the lake has to
    guess where an OSError came from."""
    for name, member in list(vars(cls).items()):
        if name.startswith("__") or not inspect.isfunction(member):
            continue
        setattr(cls, name, _translating(member))
    return cls


def _translating(method: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(method)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            result = method(*args, **kwargs)
        except OSError as exc:
            raise storage_error(exc) from exc
        if isinstance(result, Iterator) and not hasattr(result, "__enter__"):  # not a file
            return _translated(result)
        return result

    return wrapper


def _translated(items: Iterator[Any]) -> Iterator[Any]:
    try:
        yield from items
    except OSError as exc:
        raise storage_error(exc) from exc
