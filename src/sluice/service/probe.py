"""What `source add`, `destination add` and `table add/edit` check before they store.

The same questions a run's check stages ask (does the connection answer, is the table there,
are the named columns in it), asked at the moment a typo can still be fixed, each wrong name
answered with the names that look like it. `--no-check` (API: "check": false) stores
without asking, for setting up offline.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sluice.connectors import registry
from sluice.core.errors import ConfigError, StageError, TransientError
from sluice.core.models import TableRef
from sluice.core.redact import scrub
from sluice.core.suggest import missing_columns

OFFLINE_HINT = 'or add --no-check to store it unchecked (offline setup; API: "check": false)'


@dataclass(frozen=True)
class TableProbe:
    """A table's names to check; `columns` pairs each column with what it is for."""

    source_type: str
    source_creds: dict[str, Any]
    source_name: str
    source_tablename: str
    columns: tuple[tuple[str, str], ...] = ()
    look_at_source: bool = True
    destination: tuple[str, str, dict[str, Any]] | None = None  # name, type, creds


def probe_connection(label: str, name: str, type_name: str, creds: dict[str, Any]) -> str:
    """Connect with creds not yet stored and say what answered; ConfigError if nothing did.

    An embedded sink whose file does not exist yet is not created here (a typo in the path
    would leave a stray empty warehouse behind): its folder must exist and be writable.
    """
    model = registry.validate_creds(type_name, creds, role=label)
    masked = model.secret_values()
    if label == "destination":
        waiting = file_to_create(model, OFFLINE_HINT)
        if waiting is not None:
            return waiting
    try:
        opened = (registry.open_source if label == "source" else registry.open_sink)(
            type_name, creds
        )
        try:
            answer = opened.ping()
        finally:
            opened.close()
    except StageError as exc:
        # Nothing answered (the network, a server down), or something did and said no.
        what = "did not answer" if isinstance(exc, TransientError) else "cannot be used"
        raise ConfigError(
            f"{label} {name!r} {what}: {scrub(str(exc), masked)}; fix the creds, " + OFFLINE_HINT
        ) from None
    return scrub(answer, masked)


def file_to_create(model: Any, fix: str) -> str | None:
    """What an embedded sink's missing file means (the first load makes it), without making
    it; ConfigError, ending with `fix`, when no load could make it."""
    for field in type(model).path_fields:
        path = Path(str(getattr(model, field)))
        if path.exists():
            continue
        folder = path.parent
        if not folder.is_dir():
            raise ConfigError(
                f"{field} {str(path)!r}: the folder {str(folder)!r} does not exist; create it "
                f"or fix the path, {fix}"
            )
        if not os.access(folder, os.W_OK):
            raise ConfigError(
                f"{field} {str(path)!r}: the folder {str(folder)!r} is not writable by this "
                f"user, so the first load could not create the file; fix the path or the folder's "
                f"permissions, {fix}"
            )
        return f"{path} does not exist yet; the first load creates it"
    return None


def probe_table(probe: TableProbe) -> list[str]:
    """Check the source table and its named columns, and that the destination answers.

    Returns what was found, a line per check, for the caller to show.
    """
    found = _probe_source(probe) if probe.look_at_source else []
    if probe.destination is not None:
        name, type_name, creds = probe.destination
        answer = probe_connection("destination", name, type_name, creds)
        found.append(f"destination {name!r}: {answer}")
    return found


def _probe_source(probe: TableProbe) -> list[str]:
    masked = registry.validate_creds(
        probe.source_type, probe.source_creds, role="source"
    ).secret_values()
    ref = TableRef.parse(probe.source_tablename)
    try:
        source = registry.open_source(probe.source_type, probe.source_creds)
        try:
            info = source.check(ref, count_rows=False)
        finally:
            source.close()
    except StageError as exc:
        raise ConfigError(
            f"source {probe.source_name!r}: {scrub(str(exc), masked)}; "
            f"fix the table name or the source, {OFFLINE_HINT}"
        ) from None
    names = list(info.schema.names)
    problem = missing_columns(list(probe.columns), names, f"{ref} in {probe.source_name!r}")
    if problem is not None:
        raise ConfigError(f"{problem}; fix the column names, {OFFLINE_HINT}")
    found = [f"source table {ref} found in {probe.source_name!r} ({len(names)} columns)"]
    if probe.columns:
        found.append(
            "columns found: " + ", ".join(f"{column} ({role})" for column, role in probe.columns)
        )
    return found
