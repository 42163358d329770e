"""'did you mean' for a misspelled table or column name."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


def closest(word: str, candidates: Iterable[str], limit: int = 3) -> list[str]:
    """The candidates that look most like `word`: case differences first, then spelling."""
    names = list(dict.fromkeys(candidates))
    same_case = [name for name in names if name.lower() == word.lower() and name != word]
    if same_case:  # only the case is wrong: nothing else is as likely
        return same_case[:limit]
    by_lower = {name.lower(): name for name in names}
    spelled = [
        by_lower[match]
        for match in difflib.get_close_matches(word.lower(), list(by_lower), n=limit, cutoff=0.6)
    ]
    return spelled[:limit]


def did_you_mean(word: str, candidates: Iterable[str]) -> str:
    """' (did you mean X?)' (or 'X or Y'), or '' when nothing looks alike."""
    matches = closest(word, candidates)
    if not matches:
        return ""
    return " (did you mean " + " or ".join(repr(m) for m in matches) + "?)"


def missing_columns(wanted: list[tuple[str, str]], names: list[str], table: str) -> str | None:
    """One line naming every wanted column the table lacks, with suggestions; None if none."""
    problems = [
        f"{role} {column!r}{did_you_mean(column, names)}"
        for column, role in wanted
        if column not in names
    ]
    if not problems:
        return None
    return f"not a column of {table}: {', '.join(problems)}; its columns: {', '.join(names)}"
