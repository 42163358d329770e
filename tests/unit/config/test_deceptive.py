"""Characters that change how a name displays are refused; scripts that need joiners are not."""

from __future__ import annotations

import pytest

from sluice.config.deceptive import deceptive, refuse_deceptive
from sluice.core.errors import ConfigError


@pytest.mark.parametrize(
    ("name", "found"),
    [
        ("orders", None),
        ("Bestellungen_2024", None),
        ("注文", None),
        ("\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645", None),  # Persian with a ZWNJ
        ("order\u202etxt", "U+202E (RIGHT-TO-LEFT OVERRIDE)"),
        ("order\u202a", "U+202A (LEFT-TO-RIGHT EMBEDDING)"),
        ("\u2066order\u2069", "U+2066 (LEFT-TO-RIGHT ISOLATE)"),
        ("order\u2069", "U+2069 (POP DIRECTIONAL ISOLATE)"),
        ("ord\u200fer", "U+200F (RIGHT-TO-LEFT MARK)"),
        ("ord\u061cer", "U+061C (ARABIC LETTER MARK)"),
        ("ord\u200ber", "U+200B (ZERO WIDTH SPACE)"),
        ("\ufefforder", "U+FEFF (ZERO WIDTH NO-BREAK SPACE)"),
        ("ord\u00ader", "U+00AD (SOFT HYPHEN)"),
        ("ord\u2028er", "U+2028 (LINE SEPARATOR)"),
        ("order\U000e0041", "U+E0041 (TAG LATIN CAPITAL LETTER A)"),
    ],
)
def test_deceptive_characters(name: str, found: str | None) -> None:
    assert deceptive(name) == found


def test_the_message_shows_the_character_escaped() -> None:
    with pytest.raises(ConfigError) as refused:
        refuse_deceptive("Genre\u202etxt.exe", "source table name")
    assert str(refused.value) == (
        "source table name 'Genre\\u202etxt.exe' contains U+202E (RIGHT-TO-LEFT OVERRIDE), "
        "which changes how the name is displayed: type the name without it"
    )
