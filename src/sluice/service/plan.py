"""What applying a config document would change (`sluice apply --dry-run`, POST
/api/config/plan): every source, destination, stage template and table to add, change or
remove, field by field. Everything is validated here, as `add` and `edit` validate, before
`apply.py` changes anything.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field
from typing import Any

from sluice.config import validation as v
from sluice.config.records import ConnectionRecord, StageRecord
from sluice.config.repository import (
    DESTINATIONS,
    SOURCES,
    ConfigRepository,
    ConnectionKind,
    type_in_use,
)
from sluice.connectors import registry
from sluice.core.errors import ConfigError, ConflictError, SluiceError
from sluice.service.catalog import Catalog, TableChanges
from sluice.service.document import MASKED, ConfigDocument, StageDoc, TableDoc, line_of
from sluice.service.paths import make_absolute
from sluice.stages.registry import stage_types

# pipeline_config columns a run changes, never the config: a plan leaves them alone.
_RUN_STATE = frozenset(
    {
        "source_to_dl_last_incremental_value",
        "dl_to_sink_last_incremental_value",
        "source_to_dl_last_loader_run_timestamp",
        "source_to_dl_last_loader_run_status",
        "dl_to_sink_last_loader_run_timestamp",
        "dl_to_sink_last_loader_run_status",
        "source_to_dl_future_held",
    }
)
# Columns a new table's plan line leaves out: derived, or as a plain `table add` sets them.
_NOT_SHOWN = frozenset({"source_tablename", "source_type", "sink_type"})
_PLAIN: dict[str, Any] = {
    "source_to_dl_load_type": "full",
    "dl_to_sink_load_type": "full",
    "source_to_dl_schedule": 60,
    "dl_to_sink_schedule": 60,
    "source_to_dl_is_active": True,
    "dl_to_sink_is_active": True,
    "pipeline_name": "default",
    "dl_to_sink_hop_order": "after",
    "source_to_dl_future_tolerance": "1h",
    "source_to_dl_future_policy": "fail",
    "source_to_dl_zero_dates": "fail",
    "source_to_dl_nested": "struct",
}
_NONE = object()
# A column as the document names it (the rest are named as stored).
OPTION_OF = {
    "sink_tablename": "sink_table",
    "source_name": "source",
    "destination_name": "destination",
    "pipeline_name": "pipeline",
    "source_to_dl_load_type": "load",
    "source_to_dl_incremental_key": "key",
    "source_to_dl_schedule": "every",
    "dl_to_sink_load_type": "sink_load",
    "dl_to_sink_incremental_key": "sink_key",
    "dl_to_sink_schedule": "sink_every",
    "source_to_dl_is_active": "active",
    "dl_to_sink_is_active": "sink_active",
    "source_to_dl_lookback": "lookback",
    "source_to_dl_null_key_fallback": "null_key_fallback",
    "source_to_dl_future_tolerance": "future_tolerance",
    "source_to_dl_future_policy": "future_policy",
    "dl_to_sink_hop_order": "hop_order",
    "source_to_dl_zero_dates": "zero_dates",
    "source_to_dl_nested": "nested",
    "source_to_dl_partitions": "partitions",
    "source_to_dl_fresh_within": "fresh_within",
    "dl_to_sink_fresh_within": "sink_fresh_within",
    "dl_to_sink_partition_by": "partition_by",
    "dl_to_sink_cluster_by": "cluster_by",
}


@dataclass(frozen=True)
class Step:
    """One thing to add, change or remove; `fields` are (field, old, new), secrets masked."""

    action: str  # add | change | remove
    kind: str  # source | destination | pipeline | table
    name: str
    fields: tuple[tuple[str, Any, Any], ...] = ()
    # What applying it stores (not shown): connection (type, creds), stages, table columns.
    stored: Any = field(default=None, repr=False, compare=False)

    def as_json(self) -> dict[str, Any]:
        return {
            "action": self.action,
            "kind": self.kind,
            "name": self.name,
            "fields": [{"field": f, "old": old, "new": new} for f, old, new in self.fields],
        }

    def line(self) -> str:
        mark = {"add": "+", "change": "~", "remove": "-"}[self.action]
        head = f"{mark} {self.kind} {self.name}"
        if self.action == "remove" or not self.fields:
            return head
        listed = "; ".join(
            f"{f} {_shown(new)}" if self.action == "add" else f"{f} {_shown(old)} -> {_shown(new)}"
            for f, old, new in self.fields
        )
        return f"{head}: {listed}"


@dataclass(frozen=True)
class Plan:
    steps: tuple[Step, ...]

    def lines(self) -> list[str]:
        if not self.steps:
            return ["no changes: the config matches the document"]
        return [step.line() for step in self.steps]

    def counts(self) -> dict[str, int]:
        return {a: sum(s.action == a for s in self.steps) for a in ("add", "change", "remove")}

    def as_json(self) -> dict[str, Any]:
        return {"changes": self.counts(), "steps": [s.as_json() for s in self.steps]}


def _shown(value: Any) -> str:
    return "-" if value is None else repr(value)


class _PlanningCatalog(Catalog):
    """The catalog as it will be: the document's connections and templates over the stored
    ones, each read once (a document of 1,000 tables names the same few)."""

    def __init__(
        self,
        repo: ConfigRepository,
        connections: dict[tuple[str, str], ConnectionRecord],
        pipelines: dict[str, list[StageRecord]],
    ) -> None:
        super().__init__(repo)
        self._connections = connections
        self._pipelines = pipelines

    def connection(self, kind: ConnectionKind, name: str) -> ConnectionRecord:
        key = (kind.label, name)
        if key not in self._connections:
            self._connections[key] = self.repo.get_connection(kind, name, sealed_ok=True)
        return self._connections[key]

    def pipeline_stages(self, pipeline: str) -> list[StageRecord]:
        if pipeline not in self._pipelines:
            self._pipelines[pipeline] = self.repo.list_stages(pipeline)
        return self._pipelines[pipeline]


class Planner:
    """Compares a document with the config database."""

    def __init__(
        self, repo: ConfigRepository, origin: str, lines: dict[tuple[Any, ...], int]
    ) -> None:
        self.repo = repo
        self.origin = origin
        self.lines = lines

    def _at(self, path: tuple[Any, ...], message: str) -> ConfigError:
        return ConfigError(f"{self.origin}, line {line_of(self.lines, path)}: {message}")

    def plan(self, document: ConfigDocument, *, prune: bool) -> Plan:
        steps: list[Step] = []
        planned: dict[tuple[str, str], ConnectionRecord] = {}
        for kind, section, wanted in (
            (SOURCES, "sources", document.sources),
            (DESTINATIONS, "destinations", document.destinations),
        ):
            steps += self._connections(kind, section, wanted, planned)
        pipelines = {
            name: self._stages(name, stages) for name, stages in document.pipelines.items()
        }
        steps += self._pipelines(pipelines)
        catalog = _PlanningCatalog(
            self.repo,
            planned,
            {name: _records(name, stages) for name, stages in pipelines.items()},
        )
        table_steps, final = self._tables(catalog, document, prune=prune)
        steps += table_steps
        if prune:
            steps += self._pruned(document, final)
        return Plan(tuple(steps))

    # ---- connections -----------------------------------------------------------------
    def _connections(
        self,
        kind: ConnectionKind,
        section: str,
        wanted: dict[str, Any],
        planned: dict[tuple[str, str], ConnectionRecord],
    ) -> list[Step]:
        stored = {r.name: r for r in self.repo.list_connections(kind)}
        steps = []
        for name, doc in wanted.items():
            path = (section, name)
            try:
                v.connection_name(name, kind.label)
            except ConfigError as exc:
                raise self._at(path, str(exc)) from None
            current = stored.get(name)
            creds = dict(doc.creds)
            for key, value in doc.creds.items():
                if value == MASKED:
                    if current is None or current.unreadable or key not in current.creds:
                        raise self._at(
                            (*path, "creds", key),
                            f"{kind.label} {name!r}: creds field {key!r} is {MASKED} (hidden by "
                            "`sluice export`) and no stored value stands in for it: give it as "
                            '{"env": "NAME"} or its value',
                        )
                    creds[key] = current.creds[key]
            try:
                registry.validate_creds(doc.type, creds, role=kind.label, resolve_env=False)
            except SluiceError as exc:
                raise self._at((*path, "creds"), str(exc)) from None
            make_absolute(doc.type, creds)
            planned[(kind.label, name)] = ConnectionRecord(
                id="", name=name, type=doc.type, creds=creds, created_at=None
            )
            if current is None:
                shown = registry.redacted_creds(doc.type, creds, role=kind.label)
                fields = (
                    ("type", None, doc.type),
                    *((f"creds.{k}", None, shown[k]) for k in shown),
                )
                steps.append(Step("add", kind.label, name, fields, (doc.type, creds)))
            elif current.type != doc.type or current.creds != creds or current.unreadable:
                users = self.repo.connection_users(kind, name) if current.type != doc.type else []
                if users:
                    raise self._at(
                        (*path, "type"),
                        str(type_in_use(kind, name, users, current.type, doc.type)),
                    )
                fields = self._creds_fields(kind, current, doc.type, creds)
                steps.append(Step("change", kind.label, name, fields, (doc.type, creds)))
        return steps

    @staticmethod
    def _creds_fields(
        kind: ConnectionKind, current: ConnectionRecord, type_name: str, creds: dict[str, Any]
    ) -> tuple[tuple[str, Any, Any], ...]:
        fields: list[tuple[str, Any, Any]] = []
        if current.type != type_name:
            fields.append(("type", current.type, type_name))
        old = registry.redacted_creds(current.type, current.creds, role=kind.label)
        new = registry.redacted_creds(type_name, creds, role=kind.label)
        for key in sorted(set(current.creds) | set(creds)):
            if current.creds.get(key) != creds.get(key):
                changed = old.get(key) == new.get(key) == MASKED
                fields.append((f"creds.{key}", old.get(key), "*** (changed)" if changed
                               else new.get(key)))  # fmt: skip
        return tuple(fields)

    # ---- stage templates -------------------------------------------------------------
    def _stages(self, pipeline: str, stages: list[StageDoc]) -> list[tuple[str, str, str | None]]:
        known = stage_types()
        listed = []
        for number, stage in enumerate(stages):
            path = ("pipelines", pipeline, number)
            try:
                v.connection_name(pipeline, "pipeline")
                if stage.type not in known:
                    raise ConfigError(
                        f"stage type {stage.type!r} is unknown: available types are "
                        + ", ".join(sorted(known))
                    )
                if stage.driver_container is not None:
                    v.pool_name(stage.driver_container)
            except ConfigError as exc:
                raise self._at(path, str(exc)) from None
            listed.append((stage.name or stage.type, stage.type, stage.driver_container))
        if not listed:
            raise self._at(("pipelines", pipeline), f"pipeline {pipeline!r} has no stages")
        return listed

    def _pipelines(self, wanted: dict[str, list[tuple[str, str, str | None]]]) -> list[Step]:
        stored: dict[str, list[tuple[str, str, str | None]]] = {}
        for stage in self.repo.list_stages():
            stored.setdefault(stage.pipeline_name, []).append(
                (stage.stage_name, stage.stage_type, stage.driver_container)
            )
        steps = []
        for name, stages in wanted.items():
            if stored.get(name) == stages:
                continue
            shown = [" / ".join(filter(None, (t, n if n != t else None, p))) for n, t, p in stages]
            old = stored.get(name)
            before = None if old is None else [" / ".join(filter(None, s)) for s in old]
            action = "add" if old is None else "change"
            steps.append(Step(action, "pipeline", name, (("stages", before, shown),), stages))
        return steps

    # ---- tables ----------------------------------------------------------------------
    def _tables(
        self, catalog: _PlanningCatalog, document: ConfigDocument, *, prune: bool
    ) -> tuple[list[Step], dict[str, dict[str, Any]]]:
        """The table steps, and every table as it will be stored."""
        entries = self._expanded(catalog, document)
        stored = self.repo.table_rows()
        steps: list[Step] = []
        final: dict[str, dict[str, Any]] = {}
        for name, (number, doc, discovered_key) in entries.items():
            path = ("tables", number)
            try:
                values = catalog.table_values(
                    name, _changes(doc, discovered_key), current=None, check_clash=False
                )
            except SluiceError as exc:
                raise self._at(path, f"table {name!r}: {exc}") from None
            values["source_to_dl_is_active"] = doc.active
            values["dl_to_sink_is_active"] = doc.sink_active
            wanted = {**_defaults(), **values}
            final[name] = wanted
            current = stored.get(name)
            if current is None:
                plain = {**_PLAIN, "sink_tablename": name.rsplit(".", 1)[-1]}
                fields = tuple(
                    (OPTION_OF.get(c, c), None, value)
                    for c, value in wanted.items()
                    if value is not None and c not in _NOT_SHOWN and plain.get(c, _NONE) != value
                )
                steps.append(Step("add", "table", name, fields, wanted))
                continue
            differing = {c: value for c, value in wanted.items() if current.get(c) != value}
            if differing:
                fields = tuple((OPTION_OF.get(c, c), current.get(c), new)
                               for c, new in differing.items())  # fmt: skip
                steps.append(Step("change", "table", name, fields, differing))
        for name in sorted(set(stored) - set(final)):
            if prune:
                steps.append(Step("remove", "table", name))
            else:
                final[name] = stored[name]
        self._check_sink_tables(final, {s.name for s in steps if s.kind == "table"}, entries)
        return steps, final

    def _expanded(
        self, catalog: _PlanningCatalog, document: ConfigDocument
    ) -> dict[str, tuple[int, TableDoc, tuple[str, ...]]]:
        """Table name -> (entry number, entry, the key discovery found) for every table the
        document names or matches; a named table wins over a pattern."""
        named: dict[str, tuple[int, TableDoc, tuple[str, ...]]] = {}
        for number, doc in enumerate(document.tables):
            if doc.source_tablename is None:
                continue
            if doc.source_tablename in named:
                first = line_of(self.lines, ("tables", named[doc.source_tablename][0]))
                raise self._at(
                    ("tables", number),
                    f"table {doc.source_tablename!r} is listed twice (first at line {first})",
                )
            named[doc.source_tablename] = (number, doc, ())
        matched: dict[str, tuple[int, TableDoc, tuple[str, ...]]] = {}
        found: dict[str, list[tuple[str, tuple[str, ...]]]] = {}
        for number, doc in enumerate(document.tables):
            if doc.match is None:
                continue
            if doc.source not in found:
                try:
                    listed = catalog.discover(catalog.connection(SOURCES, doc.source), None)
                except SluiceError as exc:
                    raise self._at(("tables", number, "match"), str(exc)) from None
                found[doc.source] = [(str(t.table), t.primary_key) for t in listed]
            hits = [
                (table, key)
                for table, key in found[doc.source]
                if fnmatch.fnmatchcase(table, doc.match)
                and not any(fnmatch.fnmatchcase(table, x) for x in doc.exclude)
            ]
            if not hits:
                raise self._at(
                    ("tables", number, "match"),
                    f"pattern {doc.match!r} matches no table of source {doc.source!r} (see "
                    f"`sluice discover {doc.source}`)",
                )
            for table, key in hits:
                if table in named:
                    continue
                if table in matched:
                    first = line_of(self.lines, ("tables", matched[table][0]))
                    raise self._at(
                        ("tables", number, "match"),
                        f"table {table!r} is matched here and by the pattern at line {first}: "
                        "narrow one of them with 'exclude'",
                    )
                matched[table] = (number, doc, key)
        return {**matched, **named}

    def _check_sink_tables(
        self,
        final: dict[str, dict[str, Any]],
        touched: set[str],
        entries: dict[str, tuple[int, TableDoc, tuple[str, ...]]],
    ) -> None:
        """No two tables may load into one sink table (pairs stored before are let be)."""
        seen: dict[tuple[Any, ...], str] = {}
        for name in sorted(final, key=lambda n: (n not in touched, n)):
            row = final[name]
            if row.get("destination_name") is None:
                continue
            dialect = registry.dialect(str(row["sink_type"]))
            key = (row["destination_name"], dialect.table_key(str(row["sink_tablename"])))
            other = seen.setdefault(key, name)
            if other != name and (name in touched or other in touched):
                number = entries[other][0] if other in entries else entries[name][0]
                raise ConflictError(
                    f"{self.origin}, line {line_of(self.lines, ('tables', number))}: tables "
                    f"{other!r} and {name!r} would both load into sink table "
                    f"{row['sink_tablename']!r} of destination {row['destination_name']!r}: "
                    "give one its own sink_table"
                )

    # ---- removals --------------------------------------------------------------------
    def _pruned(self, document: ConfigDocument, final: dict[str, dict[str, Any]]) -> list[Step]:
        """What the document leaves out, except what a table it keeps still uses (the
        default template, a connection its tables name without listing it)."""
        steps = []
        used = {str(row["pipeline_name"]) for row in final.values()}
        for pipeline in sorted({s.pipeline_name for s in self.repo.list_stages()}):
            if pipeline not in document.pipelines and pipeline not in used:
                steps.append(Step("remove", "pipeline", pipeline))
        for kind, wanted, column in (
            (SOURCES, document.sources, "source_name"),
            (DESTINATIONS, document.destinations, "destination_name"),
        ):
            named = {row[column] for row in final.values()}
            for record in self.repo.list_connections(kind):
                if record.name not in wanted and record.name not in named:
                    steps.append(Step("remove", kind.label, record.name))
        return steps


def _records(pipeline: str, stages: list[tuple[str, str, str | None]]) -> list[StageRecord]:
    return [
        StageRecord(id=0, pipeline_name=pipeline, stage_order=order, stage_name=name,
                    stage_type=kind, driver_container=pool)
        for order, (name, kind, pool) in enumerate(stages, start=1)
    ]  # fmt: skip


def _changes(doc: TableDoc, discovered_key: tuple[str, ...]) -> TableChanges:
    primary_key = doc.primary_key if doc.primary_key is not None else list(discovered_key)
    return TableChanges(
        source=doc.source,
        destination=doc.destination,
        sink_table=doc.sink_table,
        load=doc.load,
        key=doc.key,
        every=doc.every,
        sink_load=doc.sink_load,
        sink_key=doc.sink_key,
        sink_every=doc.sink_every,
        primary_key=primary_key,
        pipeline=doc.pipeline,
        lookback=doc.lookback,
        null_key_fallback=doc.null_key_fallback,
        lake_keep_full=doc.lake_keep_full,
        future_tolerance=doc.future_tolerance,
        future_policy=doc.future_policy,
        hop_order=doc.hop_order,
        schema_contract=doc.schema_contract,
        zero_dates=doc.zero_dates,
        nested=doc.nested,
        partitions=doc.partitions,
        fresh_within=doc.fresh_within,
        sink_fresh_within=doc.sink_fresh_within,
        partition_by=doc.partition_by,
        cluster_by=None if doc.cluster_by is None else ",".join(doc.cluster_by),
    )


def _defaults() -> dict[str, Any]:
    """Every configurable column as a table added with no options has it."""
    from sluice.config.schema import pipeline_config

    defaults: dict[str, Any] = {}
    for column in pipeline_config.columns:
        if column.name in _RUN_STATE:
            continue
        default = column.server_default
        defaults[column.name] = None if default is None else str(default.arg)  # type: ignore[attr-defined]
    return defaults
