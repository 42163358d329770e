"""Characters no name may hold: those that make a name display as something it is not.

Bidirectional controls (U+202A-U+202E, U+2066-U+2069, the marks U+200E, U+200F, U+061C)
reorder what follows them on screen, so `Genre<U+202E>txt.exe` shows as another name in a
terminal, a log or the dashboard; invisible format characters (zero-width space, word joiner,
BOM, soft hyphen, invisible operators, tags) make two different names look the same; line
and paragraph separators break a listing's lines. All of Unicode's format characters (Cf) are
refused but the zero-width (non-)joiner, which some scripts need inside words.
"""

from __future__ import annotations

import unicodedata

from sluice.core.errors import ConfigError

_JOINERS = frozenset("\u200c\u200d")


def deceptive(value: str) -> str | None:
    """The first such character of `value`, as `U+202E (RIGHT-TO-LEFT OVERRIDE)`; else None."""
    for character in value:
        category = unicodedata.category(character)
        if (category == "Cf" and character not in _JOINERS) or category in ("Zl", "Zp"):
            name = unicodedata.name(character, "a format character")
            return f"U+{ord(character):04X} ({name})"
    return None


def refuse_deceptive(value: str, what: str) -> str:
    """`value` unless it holds a character that changes how it displays."""
    if found := deceptive(value):
        # repr() shows the character escaped, so the message itself cannot be reordered.
        raise ConfigError(
            f"{what} {value!r} contains {found}, which changes how the name is displayed: "
            "type the name without it"
        )
    return value
