"""Identifiers: UUID v7 for sources and destinations (time-ordered, so ids sort by creation)."""

from __future__ import annotations

import uuid6


def new_uuid7() -> str:
    return str(uuid6.uuid7())
