"""Masking of secret values in text that is about to leave the process (logs, errors, output)."""

from __future__ import annotations

from collections.abc import Iterable

MASK = "***"


def scrub(text: str, secrets: Iterable[str]) -> str:
    """Replace every occurrence of each secret (longest first, so prefixes cannot leak) by MASK."""
    for secret in sorted({s for s in secrets if s and len(s) >= 3}, key=len, reverse=True):
        text = text.replace(secret, MASK)
    return text
