"""A table's schema contract: what hop 1 does with each kind of change in the source's columns.

    added     a new column             evolve (default: lake and sink get it, earlier rows
                                       NULL, warned) | freeze (fail) | discard (read without
                                       it, warned)
    dropped   a column gone            freeze (default: fail; the sink would keep stale values)
                                       | evolve (carry on: the sink keeps the column, NULL in
                                       rows loaded from then on, warned)
    widened   a type that widens       evolve (default: widen lake and sink, warned) | freeze
    changed   an incompatible type     freeze (always: fail naming `sluice table reload`)

Stored as text, `added=evolve,dropped=freeze,...`; only the kinds that differ from the default
need be given. Pure: no IO.
"""

from __future__ import annotations

from sluice.core.errors import ConfigError

KINDS = ("added", "dropped", "widened", "changed")
ALLOWED = {
    "added": ("evolve", "freeze", "discard"),
    "dropped": ("freeze", "evolve"),
    "widened": ("evolve", "freeze"),
    "changed": ("freeze",),
}
DEFAULTS = {kind: ALLOWED[kind][0] for kind in KINDS}


def parse_contract(text: str | None) -> dict[str, str]:
    """The contract in force: the defaults with the stored text's settings over them."""
    contract = dict(DEFAULTS)
    if not text:
        return contract
    for item in text.split(","):
        kind, sep, setting = item.strip().partition("=")
        kind, setting = kind.strip(), setting.strip()
        if not sep or kind not in ALLOWED:
            raise ConfigError(
                f"schema contract item {item.strip()!r}: give KIND=SETTING with KIND one of "
                f"{', '.join(KINDS)} (e.g. --schema-contract added=freeze,dropped=evolve)"
            )
        if setting not in ALLOWED[kind]:
            raise ConfigError(
                f"schema contract {kind}={setting!r}: {kind} takes {' or '.join(ALLOWED[kind])}"
            )
        contract[kind] = setting
    return contract


def contract_text(contract: dict[str, str]) -> str | None:
    """The settings that differ from the defaults, as stored; None when all are defaults."""
    changed = [f"{kind}={contract[kind]}" for kind in KINDS if contract[kind] != DEFAULTS[kind]]
    return ",".join(changed) or None


def merge_contract(current: str | None, given: str) -> str | None:
    """`--schema-contract` over the stored contract; '' restores every default."""
    if not given.strip():
        return None
    merged = parse_contract(current)
    merged.update(
        {k: v for k, v in parse_contract(given).items() if f"{k}=" in given.replace(" ", "")}
    )
    return contract_text(merged)


def describe_contract(text: str | None) -> str:
    contract = parse_contract(text)
    return ", ".join(f"{kind}={contract[kind]}" for kind in KINDS)
