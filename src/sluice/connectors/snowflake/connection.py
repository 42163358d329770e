"""The one place sluice talks to the Snowflake driver: logging in and translating its errors.

Every driver error becomes a TransientError (the network, a throttled or restarting service,
a lock wait, a statement timeout: trying again may pass) or a TerminalError (a refused login,
a missing object, SQL the account refuses), with the secrets scrubbed out of the driver's text.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sluice.connectors.snowflake.config import LOGIN_TIMEOUT, SnowflakeCreds
from sluice.core.errors import StageError, TerminalError, TransientError
from sluice.core.redact import scrub

if TYPE_CHECKING:
    from snowflake.connector import SnowflakeConnection

# Driver error numbers after which the same work may pass when tried again.
_TRANSIENT_ERRNOS = frozenset(
    {
        250001,  # could not connect to Snowflake backend
        250003,  # failed to get the response (network)
        251011,  # connection timed out
        253003,  # connection closed
        604,  # statement canceled or timed out
        625,  # statement aborted: lock wait timeout
        630,  # statement reached its timeout
        390114,  # session token expired
    }
)
# Logins refused for the account, user or key: retrying cannot help.
_LOGIN_ERRNOS = frozenset({390100, 390101, 390102, 390144, 390186, 390190, 390191, 390201})


def connect(creds: SnowflakeCreds) -> SnowflakeConnection:
    """A session in the creds' database and schema, with autocommit on (sink.py opens its
    transactions with BEGIN) and parameters bound by the server (`?`)."""
    import snowflake.connector

    options: dict[str, Any] = {
        "account": creds.account,
        "user": creds.user,
        "database": creds.database,
        "schema": creds.schema_,
        "protocol": creds.protocol,
        "login_timeout": LOGIN_TIMEOUT,
        "network_timeout": 600,
        "paramstyle": "qmark",
        "autocommit": True,
        "application": "sluice",
        "client_session_keep_alive": False,
        # sluice's own logs say what ran; the driver's telemetry would reach out on its own.
        "session_parameters": {"CLIENT_OUT_OF_BAND_TELEMETRY_ENABLED": False},
    }
    for name in ("warehouse", "role", "host", "port"):
        if (value := getattr(creds, name)) is not None:
            options[name] = value
    if creds.password is not None:
        options["password"] = creds.password.get_secret_value()
    else:
        options["private_key"] = _private_key_der(creds)
    try:
        return snowflake.connector.connect(**options)
    except snowflake.connector.errors.Error as exc:
        raise translate(exc, creds, logging_in=True) from None


def _private_key_der(creds: SnowflakeCreds) -> bytes:
    """The PEM key as the DER (PKCS#8) bytes the driver takes."""
    from cryptography.hazmat.primitives import serialization

    assert creds.private_key is not None
    passphrase = creds.private_key_passphrase
    try:
        key = serialization.load_pem_private_key(
            creds.private_key.get_secret_value().encode(),
            password=passphrase.get_secret_value().encode() if passphrase else None,
        )
    except (ValueError, TypeError) as exc:
        # The library's text never quotes the key; the message names the field to fix.
        raise TerminalError(
            f"Snowflake creds for {creds.location()}: 'private_key' cannot be read ({exc}); "
            "give the PKCS#8 PEM key ('-----BEGIN PRIVATE KEY-----' or 'ENCRYPTED PRIVATE "
            "KEY' with 'private_key_passphrase')"
        ) from None
    return key.private_bytes(
        encoding=serialization.Encoding.DER,
        format=serialization.PrivateFormat.PKCS8,
        encryption_algorithm=serialization.NoEncryption(),
    )


def translate(exc: Exception, creds: SnowflakeCreds, *, logging_in: bool = False) -> StageError:
    """A driver error as sluice's own, naming where it happened and never a secret."""
    import snowflake.connector.errors as errors

    errno = getattr(exc, "errno", None) or 0
    text = scrub(" ".join(str(getattr(exc, "msg", None) or exc).split()), creds.secret_values())
    where = f"Snowflake {creds.location()}"
    if errno in _LOGIN_ERRNOS:
        return TerminalError(
            f"{where} refused the login: {text}; check 'account', 'user' and the password or "
            "key (and 'role' and 'warehouse' if given)"
        )
    unreachable = errors.InterfaceError | errors.OperationalError | errors.ServiceUnavailableError
    if isinstance(exc, unreachable):
        return TransientError(f"{where} did not answer: {text}")
    passing = (
        errors.InternalServerError | errors.GatewayTimeoutError | errors.OtherHTTPRetryableError
    )
    if errno in _TRANSIENT_ERRNOS or isinstance(exc, passing):
        return TransientError(f"{where}: {text}")
    if logging_in:
        return TerminalError(f"{where}: cannot log in: {text}")
    return TerminalError(f"{where}: {text}")
