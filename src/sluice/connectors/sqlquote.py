"""Quoting of identifiers for SQL text: the one place names from config enter SQL."""

from __future__ import annotations


def quote_ident(name: str, quote: str = '"') -> str:
    """Quote an identifier, doubling any quote character inside it."""
    if "\x00" in name:
        raise ValueError("identifiers cannot contain NUL")
    return quote + name.replace(quote, quote * 2) + quote
