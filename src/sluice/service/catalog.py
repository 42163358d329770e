"""Config operations as the CLI and the API offer them: validate, then store. One shared layer."""

from __future__ import annotations

import shlex
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sluice.config import validation as v
from sluice.config.deceptive import refuse_deceptive
from sluice.config.records import ConnectionRecord, StageRecord, TableConfig
from sluice.config.repository import (
    DESTINATIONS,
    SOURCES,
    ConfigRepository,
    ConnectionKind,
    type_in_use,
)
from sluice.connectors import registry
from sluice.core.errors import ConfigError, ConflictError, NotFoundError, StageError
from sluice.core.freshness import check_target
from sluice.core.future import DEFAULT_TOLERANCE, check_policy, check_tolerance
from sluice.core.models import Hop, HopChoice
from sluice.core.redact import scrub
from sluice.core.schema_contract import merge_contract
from sluice.core.watermark import check_lookback
from sluice.service.paths import make_absolute
from sluice.service.probe import TableProbe, file_to_create, probe_connection, probe_table
from sluice.stages.registry import stage_types

if TYPE_CHECKING:
    from sluice.connectors.discovery import DiscoveredTable

DEFAULT_SCHEDULE_MINUTES = 60


@dataclass(frozen=True)
class TableChanges:
    """Options of `table add` / `table edit`; None means "not given"."""

    source: str | None = None
    destination: str | None = None
    sink_table: str | None = None
    load: str | None = None
    key: str | None = None
    every: int | str | None = None  # minutes, or a duration: 15m, 1h, 1d
    sink_load: str | None = None
    sink_key: str | None = None
    sink_every: int | str | None = None
    primary_key: list[str] | None = None
    pipeline: str | None = None
    lookback: str | None = None
    null_key_fallback: str | None = None
    lake_keep_full: int | str | None = None  # '' restores the default
    future_tolerance: str | None = None  # '' restores the default
    future_policy: str | None = None
    hop_order: str | None = None  # after | independent
    schema_contract: str | None = None  # KIND=SETTING,...; merged over the stored one
    zero_dates: str | None = None  # fail | null; '' restores the default (fail)
    nested: str | None = None  # struct | json; '' restores the default (struct)
    partitions: int | str | None = None  # 1-64; 0 restores the default (by size)
    fresh_within: str | None = None  # hop 1's freshness target; '' restores the default
    sink_fresh_within: str | None = None  # hop 2's
    partition_by: str | None = None  # the sink table's partitioning; '' removes it
    cluster_by: str | None = None  # its clustering columns, a,b; '' removes them


def shared_sink_tables(tables: Iterable[TableConfig]) -> list[list[TableConfig]]:
    """Tables that load into one sink table, grouped: pairs an older version let through."""
    groups: dict[tuple[str, tuple[str, str]], list[TableConfig]] = {}
    for t in tables:
        if t.destination_name is not None:
            key = (t.destination_name, registry.dialect(t.sink_type).table_key(t.sink_tablename))
            groups.setdefault(key, []).append(t)
    return [group for group in groups.values() if len(group) > 1]


class Catalog:
    def __init__(self, repo: ConfigRepository) -> None:
        self.repo = repo

    # ---- sources and destinations ---------------------------------------------------------
    def add_connection(
        self,
        kind: ConnectionKind,
        name: str,
        type_name: str,
        creds_json: str,
        notes: list[str] | None = None,
        *,
        check: bool = False,
        found: list[str] | None = None,
    ) -> ConnectionRecord:
        """Store a connection; `notes` (when given) receives what was changed on the way in
        (a relative file path made absolute), for the caller to show. With `check`, the
        connection must answer first, and `found` receives what answered."""
        v.connection_name(name, kind.label)
        creds = registry.parse_creds_json(creds_json, role=kind.label, type_name=type_name)
        registry.validate_creds(type_name, creds, role=kind.label, resolve_env=False)
        changed = make_absolute(type_name, creds)
        if notes is not None:
            notes += changed
        if check and not self._taken(kind, name):
            answer = probe_connection(kind.label, name, type_name, creds)
            if found is not None:
                found.append(answer)
        return self.repo.add_connection(kind, name, type_name, creds)

    def _taken(self, kind: ConnectionKind, name: str) -> bool:
        """A name in use: its own error then comes first, not a slow connection attempt."""
        try:
            self.repo.get_connection(kind, name, sealed_ok=True)
        except NotFoundError:
            return False
        return True

    def add_source(self, name: str, type_name: str, creds_json: str) -> ConnectionRecord:
        return self.add_connection(SOURCES, name, type_name, creds_json)

    def add_destination(self, name: str, type_name: str, creds_json: str) -> ConnectionRecord:
        return self.add_connection(DESTINATIONS, name, type_name, creds_json)

    def edit_connection(
        self,
        kind: ConnectionKind,
        name: str,
        *,
        type_name: str | None = None,
        creds_json: str | None = None,
        updates: dict[str, Any] | None = None,
        notes: list[str] | None = None,
        check: bool = False,
        found: list[str] | None = None,
    ) -> ConnectionRecord:
        """Change a connection's type or creds, checked and sealed exactly as `add` does.

        `creds_json` replaces the stored creds as a whole; `updates` then changes single fields
        (a rotated password) and keeps the rest. A type change is refused while tables use the
        connection: checked here first, and again by the repository in the transaction that
        writes.
        """
        if type_name is None and creds_json is None and not updates:
            raise ConfigError(
                f"nothing to change in {kind.label} {name!r}: give --creds JSON, "
                "--set FIELD=VALUE or --type TYPE"
            )
        # Creds replaced whole need not be opened: that is how creds sealed with a lost key
        # are entered again.
        current = self.repo.get_connection(kind, name, sealed_ok=creds_json is not None)
        new_type = current.type if type_name is None else type_name
        known = registry.source_types() if kind is SOURCES else registry.sink_types()
        # Before the creds are checked: the old creds rarely fit the new type, and their
        # complaints would hide that the change cannot be made at all.
        if (
            new_type != current.type
            and new_type in known
            and (users := self.repo.connection_users(kind, name))
        ):
            raise type_in_use(kind, name, users, current.type, new_type)
        if creds_json is None:
            creds = dict(current.creds)
        else:
            creds = registry.parse_creds_json(creds_json, role=kind.label, type_name=new_type)
        creds.update(updates or {})
        model = registry.validate_creds(new_type, creds, role=kind.label, resolve_env=False)
        for field in updates or {}:
            # `--set port=5433` arrives as text: keep numbers and flags as the model read them,
            # so the stored creds look as they would had they come in as JSON.
            typed = getattr(model, field)
            if isinstance(typed, int | float):
                creds[field] = typed
        changed = make_absolute(new_type, creds)
        if notes is not None:
            notes += changed
        if check:
            answer = probe_connection(kind.label, name, new_type, creds)
            if found is not None:
                found.append(answer)
        return self.repo.update_connection(kind, name, new_type, creds)

    def discover_source(self, name: str, schema: str | None) -> list[DiscoveredTable]:
        """The tables source `name` could read (`sluice discover`): estimates, keys and
        suggested incremental keys; errors with the creds' secrets masked."""

        return self.discover(self.repo.get_connection(SOURCES, name), schema)

    def discover(self, record: ConnectionRecord, schema: str | None) -> list[DiscoveredTable]:
        """`discover_source` for a connection record (a plan's, not stored yet)."""
        from sluice.connectors.base import discovering
        from sluice.connectors.discovery import discovered

        name = record.name
        masked = registry.validate_creds(record.type, record.creds, role="source").secret_values()
        try:
            source = registry.open_source(record.type, record.creds)
            try:
                lister = discovering(source)
                if lister is None:
                    raise ConfigError(
                        f"source {name!r} is a {record.type} source, which cannot list its "
                        "tables: name them with `sluice table add`"
                    )
                return [discovered(table) for table in lister.discover(schema)]
            finally:
                source.close()
        except StageError as exc:
            raise type(exc)(scrub(str(exc), masked)) from None

    def ping_connection(self, kind: ConnectionKind, name: str) -> str:
        """Connect and say what answered (`source test`, POST .../test).

        A connector's failure is raised again as the same StageError class with the creds'
        secret values masked, so every caller can show its message as it is.
        """
        record = self.repo.get_connection(kind, name)
        model = registry.validate_creds(record.type, record.creds, role=kind.label)
        masked = model.secret_values()
        if kind is DESTINATIONS:
            # An embedded sink's file is made by the first load, never by a test.
            fix = f"then test again (`sluice destination edit {name} --set path=...`)"
            waiting = file_to_create(model, fix)
            if waiting is not None:
                return waiting
        try:
            connector = (registry.open_source if kind is SOURCES else registry.open_sink)(
                record.type, record.creds
            )
            try:
                answer = connector.ping()
            finally:
                connector.close()
        except StageError as exc:
            raise type(exc)(scrub(str(exc), masked)) from None
        return scrub(answer, masked)

    def describe_connection(self, kind: ConnectionKind, record: ConnectionRecord) -> dict[str, Any]:
        """A connection as it may be shown anywhere: secrets masked; creds no key opens are
        None, and `unreadable` says why and how to fix it."""
        shown: dict[str, Any] = {
            "id": record.id,
            "name": record.name,
            "type": record.type,
            "creds": None
            if record.unreadable
            else registry.redacted_creds(record.type, record.creds, role=kind.label),
            "created_at": record.created_at.isoformat() if record.created_at else None,
        }
        if record.unreadable:
            shown["unreadable"] = record.unreadable
        return shown

    # ---- tables ---------------------------------------------------------------------------
    def add_table(
        self,
        source_tablename: str,
        changes: TableChanges,
        *,
        check: bool = False,
        found: list[str] | None = None,
    ) -> TableConfig:
        """Store a table; with `check`, its source table, named columns and destination are
        looked at first, and `found` receives what was found."""
        v.table_name(source_tablename, "source table name")
        if not changes.source:
            raise ConfigError("a table needs a source: give --source NAME")
        if not changes.destination:
            raise ConfigError("a table needs a destination: give --destination NAME")
        values = self.table_values(source_tablename, changes, current=None)
        if check:
            lines = probe_table(self._probe(values, None, source=True, destination=True))
            if found is not None:
                found += lines
        return self.repo.add_table(values)

    def edit_table(
        self,
        name: str,
        changes: TableChanges,
        *,
        check: bool = False,
        found: list[str] | None = None,
    ) -> TableConfig:
        """Change a table; with `check`, what the change names is looked at first: the source
        table and its named columns when a column or the source changes, the destination
        when it changes."""
        current = self.repo.get_table(name)
        values = self.table_values(name, changes, current=current)
        names_columns = any(
            given is not None
            for given in (
                changes.source,
                changes.key,
                changes.sink_key,
                changes.primary_key,
                changes.null_key_fallback,
            )
        )
        if check and (names_columns or changes.destination is not None):
            probe = self._probe(
                values, current, source=names_columns, destination=changes.destination is not None
            )
            lines = probe_table(probe)
            if found is not None:
                found += lines
        return self.repo.update_table(name, values)

    def _probe(
        self,
        values: dict[str, Any],
        current: TableConfig | None,
        *,
        source: bool,
        destination: bool,
    ) -> TableProbe:
        """What a check of the table about to be stored looks at, from its merged settings."""

        source_name = str(values.get("source_name", current and current.source_name))
        source_record = self.repo.get_connection(SOURCES, source_name)
        columns: list[tuple[str, str]] = []
        if source:
            primary_key = values.get("primary_key", current and ",".join(current.primary_key))
            pk_columns = (primary_key or "").split(",")
            columns += [(c, "primary key (--primary-key)") for c in pk_columns if c]
            for column, old, role in (
                (
                    "source_to_dl_incremental_key",
                    current and current.source_to_dl.incremental_key,
                    "incremental key (--key)",
                ),
                (
                    "source_to_dl_null_key_fallback",
                    current and current.null_key_fallback,
                    "NULL-key fallback (--null-key-fallback)",
                ),
                (
                    "dl_to_sink_incremental_key",
                    current and current.dl_to_sink.incremental_key,
                    "hop 2 key (--sink-key)",
                ),
            ):
                if value := values.get(column, old):
                    columns.append((value, role))
        target = None
        if destination:
            destination_name = values.get("destination_name", current and current.destination_name)
            record = self.repo.get_connection(DESTINATIONS, str(destination_name))
            target = (record.name, record.type, record.creds)
        return TableProbe(
            source_type=source_record.type,
            source_creds=source_record.creds,
            source_name=source_record.name,
            source_tablename=str(
                values.get("source_tablename", current and current.source_tablename)
            ),
            columns=tuple(columns),
            look_at_source=source,
            destination=target,
        )

    def set_active(self, name: str, hop: HopChoice, active: bool) -> TableConfig:
        self.repo.get_table(name)
        values = {f"{h.value}_is_active": active for h in hop.hops()}
        return self.repo.update_table(name, values)

    def table_values(
        self,
        name: str,
        changes: TableChanges,
        current: TableConfig | None,
        *,
        check_clash: bool = True,
    ) -> dict[str, Any]:
        """Validate the merged result of `changes` over `current`; return the columns to set.
        Without `check_clash`, the caller checks that no two tables share a sink table."""
        values: dict[str, Any] = {}
        if current is None:
            values.update(
                source_tablename=name,
                source_to_dl_is_active=True,
                dl_to_sink_is_active=True,
            )

        def pick(new: Any, old: Any, default: Any) -> Any:
            if new is not None:
                return new
            return old if current is not None else default

        if changes.source is not None:
            source = self.connection(SOURCES, changes.source)
            values.update(source_name=source.name, source_type=source.type)
        if changes.destination is not None:
            destination = self.connection(DESTINATIONS, changes.destination)
            values.update(destination_name=destination.name, sink_type=destination.type)

        sink_table = pick(
            changes.sink_table, current and current.sink_tablename, name.rsplit(".", 1)[-1]
        )
        v.sink_table_name(sink_table)
        values["sink_tablename"] = sink_table

        hops = (
            (
                Hop.SOURCE_TO_DL,
                changes.load,
                changes.key,
                changes.every,
                "--load",
                "--key",
                "--every",
            ),
            (
                Hop.DL_TO_SINK,
                changes.sink_load,
                changes.sink_key,
                changes.sink_every,
                "--sink-load",
                "--sink-key",
                "--sink-every",
            ),
        )
        for hop, load, key, every, load_opt, key_opt, every_opt in hops:
            old = current.hop(hop) if current else None
            kind = v.load_type(pick(load, old and old.load_type.value, "full"), load_opt)
            incremental_key = pick(key, old and old.incremental_key, None) or None
            if incremental_key:
                v.identifier(incremental_key, f"incremental key ({key_opt})")
            required = hop is Hop.SOURCE_TO_DL
            if required:
                v.incremental_needs_key(kind, incremental_key, "hop 1 (source_to_dl)", key_opt)
            schedule = v.schedule(
                pick(
                    v.minutes(every, every_opt),
                    old and old.schedule_minutes,
                    DEFAULT_SCHEDULE_MINUTES,
                ),
                every_opt,
            )
            values[f"{hop.value}_load_type"] = kind.value
            values[f"{hop.value}_incremental_key"] = incremental_key
            values[f"{hop.value}_schedule"] = schedule
            if old is not None and key is not None and key != old.incremental_key:
                # A watermark on another column means nothing for the new key.
                values[f"{hop.value}_last_incremental_value"] = None

        if changes.lookback is not None:
            values["source_to_dl_lookback"] = (
                check_lookback(changes.lookback) if changes.lookback else None
            )
        if changes.null_key_fallback is not None:
            fallback = changes.null_key_fallback or None
            if fallback:
                v.identifier(fallback, "NULL-key fallback column (--null-key-fallback)")
            values["source_to_dl_null_key_fallback"] = fallback
        if changes.lake_keep_full is not None:
            values["lake_keep_full"] = v.lake_keep_full(changes.lake_keep_full, "--lake-keep-full")
        if changes.primary_key is not None:
            values["primary_key"] = ",".join(v.primary_key(changes.primary_key)) or None
        values.update(future_values(changes.future_tolerance, changes.future_policy))
        if changes.hop_order is not None:
            values["dl_to_sink_hop_order"] = v.hop_order(changes.hop_order)
        if changes.zero_dates is not None:
            values["source_to_dl_zero_dates"] = v.zero_dates(changes.zero_dates or "fail")
        if changes.nested is not None:
            values["source_to_dl_nested"] = v.nested(changes.nested or "struct")
        if changes.partitions is not None:
            values["source_to_dl_partitions"] = v.partitions(changes.partitions)
        for hop, within, option in (
            (Hop.SOURCE_TO_DL, changes.fresh_within, "--fresh-within"),
            (Hop.DL_TO_SINK, changes.sink_fresh_within, "--sink-fresh-within"),
        ):
            if within is not None:
                values[f"{hop.value}_fresh_within"] = (
                    check_target(within, option) if within.strip() else None
                )
        if changes.partition_by is not None:
            values["dl_to_sink_partition_by"] = (
                v.partition_by(changes.partition_by) if changes.partition_by.strip() else None
            )
        if changes.cluster_by is not None:
            values["dl_to_sink_cluster_by"] = (
                v.cluster_by(changes.cluster_by) if changes.cluster_by.strip() else None
            )
        self._check_layout_fits(values, current)
        if changes.schema_contract is not None:
            values["schema_contract"] = merge_contract(
                current.schema_contract if current else None, changes.schema_contract
            )
        pipeline = pick(changes.pipeline, current and current.pipeline_name, "default")
        if not self.pipeline_stages(pipeline):
            known = sorted({st.pipeline_name for st in self.repo.list_stages()})
            raise ConfigError(
                f"pipeline {pipeline!r} has no stages: use one of {', '.join(known)} or add "
                "stages with `sluice stages add`"
            )
        values["pipeline_name"] = pipeline
        if not check_clash:
            return values
        # Last: the input is known to be valid before it is checked against the other tables.
        self._check_sink_table_free(
            name,
            values.get("destination_name", current and current.destination_name),
            values.get("sink_type", current and current.sink_type),
            sink_table,
            current,
        )
        return values

    def connection(self, kind: ConnectionKind, name: str) -> ConnectionRecord:
        """A connection a table names (a plan overlays the ones it is about to store)."""
        return self.repo.get_connection(kind, name)

    def pipeline_stages(self, pipeline: str) -> list[StageRecord]:
        """A stage template's stages (a plan overlays the ones it is about to store)."""
        return self.repo.list_stages(pipeline)

    def _check_layout_fits(self, values: dict[str, Any], current: TableConfig | None) -> None:
        """A partitioning or clustering only for a sink whose tables have them."""
        sink_type = values.get("sink_type", current and current.sink_type)
        partition = values.get("dl_to_sink_partition_by", current and current.sink_partition_by)
        cluster = values.get("dl_to_sink_cluster_by", current and current.sink_cluster_by)
        if (partition or cluster) and sink_type and not registry.dialect(sink_type).table_layout:
            option = "--partition-by" if partition else "--cluster-by"
            with_layout = [t for t in registry.sink_types() if registry.dialect(t).table_layout]
            raise ConfigError(
                f"{option}: {sink_type} sink tables have no partitioning or clustering that "
                f"sluice sets (only {', '.join(with_layout)} do); remove it with {option} ''"
            )

    def _check_sink_table_free(
        self,
        name: str,
        destination: str | None,
        sink_type: str | None,
        sink_table: str,
        current: TableConfig | None,
    ) -> None:
        """Refuse a second table loading into one sink table.

        Hop 2 runs are locked per source table, so two such loads could run at once: they
        would mix rows and load state, and each would drop the other's staging table as a
        leftover. Only a move is checked, so a pair stored by an older version still loads and
        can be edited (`table list` warns of it).
        """
        if destination is None or sink_type is None:
            return
        table_key = registry.dialect(sink_type).table_key
        key = table_key(sink_table)
        if current is not None and (current.destination_name, key) == (
            destination,
            table_key(current.sink_tablename),
        ):
            if sink_table != current.sink_tablename:
                # Sinks record the batches they hold under the name as written: another
                # spelling of the same table would find no state and load everything again.
                raise ConfigError(
                    f"sink table {sink_table!r} is the table {current.sink_tablename!r} "
                    f"already names ({sink_type} resolves both to {key[0]}.{key[1]}); the "
                    "sink's record of the batches it holds is kept under the name as written, "
                    f"so keep {current.sink_tablename!r}"
                )
            return
        others = [
            t
            for t in self.repo.list_tables()
            if t.destination_name == destination and t.source_tablename != name
        ]
        taken = {table_key(t.sink_tablename) for t in others}
        clash = next((t for t in others if table_key(t.sink_tablename) == key), None)
        if clash is None:
            return
        base = name.replace(".", "_")
        # A name cut short by the sink (PostgreSQL: 63 bytes) may find no free candidate.
        free = next(
            (
                candidate
                for candidate in (base, *(f"{base}_{n}" for n in range(2, len(taken) + 3)))
                if table_key(candidate) not in taken | {key}
            ),
            None,
        )
        example = "" if free is None else f" (such as --sink-table {shlex.quote(free)})"
        # Spelled differently, the same table all the same: say how the sink resolves them.
        why = (
            ""
            if clash.sink_tablename == sink_table
            else f" ({sink_type} resolves both to {key[0]}.{key[1]})"
        )
        raise ConflictError(
            f"table {clash.source_tablename!r} loads into sink table {clash.sink_tablename!r} "
            f"of destination {destination!r} already, and sink table {sink_table!r} is the "
            f"same table there{why}: two tables loading into one would mix their rows and load "
            f"state; give table {name!r} its own with --sink-table NAME{example}"
        )

    # ---- stages ---------------------------------------------------------------------------
    def add_stage(
        self, pipeline: str, order: int, name: str, stage_type: str, pool: str | None
    ) -> StageRecord:
        v.connection_name(pipeline, "pipeline")
        if order <= 0:
            raise ConfigError(f"stage order {order} must be a positive integer")
        if stage_type not in stage_types():
            raise ConfigError(
                f"stage type {stage_type!r} is unknown: available types are "
                + ", ".join(sorted(stage_types()))
            )
        if not name.strip():
            raise ConfigError("a stage needs a name: give --name TEXT")
        refuse_deceptive(name, "stage name")
        if pool is not None:
            v.pool_name(pool)
        return self.repo.add_stage(pipeline, order, name.strip(), stage_type, pool)

    def stages(self, pipeline: str | None) -> list[StageRecord]:
        found = self.repo.list_stages(pipeline)
        if pipeline is not None and not found:
            raise NotFoundError(f"pipeline {pipeline!r} has no stages")
        return found


def future_values(tolerance: str | None, policy: str | None) -> dict[str, Any]:
    """The pipeline_config columns of `--future-tolerance` / `--future-policy` (None: not
    given; '' restores the default)."""
    values: dict[str, Any] = {}
    if tolerance is not None:
        values["source_to_dl_future_tolerance"] = (
            check_tolerance(tolerance) if tolerance.strip() else DEFAULT_TOLERANCE
        )
    if policy is not None:
        values["source_to_dl_future_policy"] = check_policy(policy or "fail").value
    return values
