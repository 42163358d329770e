"""Carry out a plan (plan.py) on the config database: connections and stage templates first,
then tables, then what `--prune` removes, in that order so every table finds what it names.

Each step is its own transaction. Everything was validated by the plan before the first
step, so a failure part-way is a database error; applying the same document again finishes
the work (a plan of what is done already is empty).
"""

from __future__ import annotations

from sluice.config.repository import DESTINATIONS, SOURCES, ConfigRepository
from sluice.service.plan import Plan, Step

_KINDS = {"source": SOURCES, "destination": DESTINATIONS}


def apply_plan(repo: ConfigRepository, plan: Plan) -> None:
    ordered = sorted(plan.steps, key=_order)
    for step in ordered:
        _apply(repo, step)


def _order(step: Step) -> tuple[int, int]:
    """Adds and changes: connections, templates, tables; removals after, tables first."""
    kinds = ("source", "destination", "pipeline", "table")
    if step.action == "remove":
        return (1, {"table": 0, "pipeline": 1, "source": 2, "destination": 2}[step.kind])
    return (0, kinds.index(step.kind))


def _apply(repo: ConfigRepository, step: Step) -> None:
    if step.kind in _KINDS:
        kind = _KINDS[step.kind]
        if step.action == "remove":
            repo.remove_connection(kind, step.name)
        else:
            type_name, creds = step.stored
            if step.action == "add":
                repo.add_connection(kind, step.name, type_name, creds)
            else:
                repo.update_connection(kind, step.name, type_name, creds)
    elif step.kind == "pipeline":
        repo.replace_stages(step.name, [] if step.action == "remove" else step.stored)
    elif step.action == "add":
        repo.add_table(step.stored)
    elif step.action == "change":
        repo.update_table(step.name, step.stored)
    else:
        repo.remove_table(step.name)
