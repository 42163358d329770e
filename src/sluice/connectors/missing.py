"""The one-line message for a source table that is not there, shared by every source: where
it was looked for (the source says), a "did you mean", and the first tables there."""

from __future__ import annotations

from sluice.core.errors import TerminalError
from sluice.core.suggest import did_you_mean

LISTED = 20  # tables named in the message; the suggestion looks at all of them


def missing_table(looked: str, wanted: str, names: list[str]) -> TerminalError:
    """`looked` says what was not found where ("table 'x' does not exist in ..."); `wanted`
    is the name asked for; `names` the tables there."""
    listed = names[:LISTED] + (["..."] if len(names) > LISTED else [])
    return TerminalError(
        f"{looked}{did_you_mean(wanted, names)}; tables there: {', '.join(listed) or '(none)'}"
    )
