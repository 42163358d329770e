"""The sluice exception tree.

    SluiceError             every deliberate error; `str()` is one line for the user
    ├── ConfigError         bad input: config, creds, CLI arguments, API payloads (exit 3)
    ├── NotFoundError       a named source, destination, table, stage or run is missing (exit 4)
    ├── ConflictError       the thing exists already, or a run of that hop is active (exit 5)
    ├── RunFailedError      a run ended failed (exit 1)
    └── StageError          raised while a stage runs; decides whether a retry can help
        ├── TransientError  connection refused or reset, lock timeouts: retrying may succeed
        └── TerminalError   missing table, bad credentials, data that does not fit: fail now
            └── ReloadNeeded  only a whole swap fixes it; the stage adds the reload command

Connectors translate their driver's exceptions into TransientError or TerminalError at the edge
(`raise TerminalError(...) from exc`); only the engine decides about retries.
"""

from __future__ import annotations


class SluiceError(Exception):
    """Base of every deliberate sluice error; the message is meant for the user."""

    exit_code: int = 1


class ConfigError(SluiceError):
    """Input that cannot be accepted; the message says what is wrong and how to fix it."""

    exit_code = 3


class NotFoundError(SluiceError):
    """A named object does not exist in the config database."""

    exit_code = 4


class ConflictError(SluiceError):
    """The object exists already, or the operation collides with an active run.

    `active_run_id` names the run that holds the lock when the conflict is a busy hop, so a
    caller (the REST API's 409 body) can point at it without parsing the message.
    """

    exit_code = 5

    def __init__(self, message: str, *, active_run_id: int | None = None) -> None:
        super().__init__(message)
        self.active_run_id = active_run_id


class StageError(SluiceError):
    """An error raised while a stage executes."""


class TransientError(StageError):
    """A failure that may pass if the same work is tried again (network, locks)."""


class TerminalError(StageError):
    """A failure that will repeat on retry (config, credentials, schema, data)."""


class FencedOffError(TerminalError):
    """The run no longer holds its lock (it was reaped as abandoned): what it would change
    now is refused, so a stage that outlived its run cannot publish, load or move a
    watermark behind the run that replaced it."""


class RunFailedError(SluiceError):
    """A run finished with status failed."""

    exit_code = 1


__all__ = [
    "ConfigError",
    "ConflictError",
    "NotFoundError",
    "RunFailedError",
    "SluiceError",
    "StageError",
    "TerminalError",
    "TransientError",
]


class ReloadNeeded(TerminalError):
    """A sink table that cannot take the lake's rows in place (an incompatible column type):
    the hop 2 stage completes the message with the `sluice table reload` command for it."""


_BY_NAME: dict[str, type[SluiceError]] = {
    cls.__name__: cls
    for cls in (
        TransientError,
        TerminalError,
        FencedOffError,
        ReloadNeeded,
        ConfigError,
        NotFoundError,
        ConflictError,
    )
}


def error_class(name: str, default: type[SluiceError]) -> type[SluiceError]:
    """The error class a stage in another process or thread ended with, by its name (so the
    engine raises the same kind: retried or not)."""
    return _BY_NAME.get(name, default)
