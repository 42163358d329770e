"""Typed access to the config database. All SQL on the config tables lives here."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from sluice.config import schema as s
from sluice.config.partitions import PartitionRepository
from sluice.config.records import ConnectionRecord, HopConfig, StageRecord, TableConfig
from sluice.config.runs import RunRepository, holding, to_stage
from sluice.config.secrets import CredsCipher, key_file_for
from sluice.config.stage_claims import StageClaimRepository
from sluice.core.clock import utcnow
from sluice.core.errors import ConfigError, ConflictError, FencedOffError, NotFoundError
from sluice.core.ids import new_uuid7
from sluice.core.models import Hop, LoadType


@dataclass(frozen=True)
class ConnectionKind:
    """sources_config and destinations_config differ only in names: one code path serves both."""

    label: str
    table: sa.Table
    name_col: str
    type_col: str
    creds_col: str
    config_col: str  # the pipeline_config column that refers to it


SOURCES = ConnectionKind(
    "source", s.sources_config, "source_name", "source_type", "source_creds", "source_name"
)
DESTINATIONS = ConnectionKind(
    "destination",
    s.destinations_config,
    "destination_name",
    "destination_type",
    "destination_creds",
    "destination_name",
)


def _no_connection(kind: ConnectionKind, name: str) -> NotFoundError:
    return NotFoundError(f"no {kind.label} named {name!r}: see `sluice {kind.label} list`")


def type_in_use(
    kind: ConnectionKind, name: str, users: list[str], stored: str, wanted: str
) -> ConflictError:
    return ConflictError(
        f"{kind.label} {name!r} is used by table(s) {', '.join(users)}, so its type "
        f"cannot change from {stored} to {wanted}: re-point those tables to "
        f"another {kind.label} first, or add a new {kind.label}"
    )


class ConfigRepository(RunRepository, PartitionRepository, StageClaimRepository):
    """Sources, destinations, tables, stage templates and settings (runs: RunRepository)."""

    def __init__(self, engine: Engine) -> None:
        super().__init__(engine)
        url = engine.url.render_as_string(hide_password=False)
        self.cipher = CredsCipher(key_file_for(url).absolute())  # absolute: clear in messages

    # ---- settings -------------------------------------------------------------------------
    def get_setting(self, key: str) -> str | None:
        with self.read() as c:
            row = c.execute(
                sa.select(s.sluice_settings.c.value).where(s.sluice_settings.c.key == key)
            ).first()
        return None if row is None else str(row[0])

    def get_settings(self, keys: tuple[str, ...]) -> dict[str, str]:
        """Several settings in one read; a key not set is absent."""
        t = s.sluice_settings
        with self.read() as c:
            rows = c.execute(sa.select(t.c.key, t.c.value).where(t.c.key.in_(keys))).all()
        return {str(key): str(value) for key, value in rows}

    def delete_setting(self, key: str) -> None:
        with self.tx() as c:
            c.execute(s.sluice_settings.delete().where(s.sluice_settings.c.key == key))

    def set_setting(self, key: str, value: str) -> None:
        t = s.sluice_settings
        with self.tx() as c:
            if c.execute(sa.select(t.c.key).where(t.c.key == key)).first():
                c.execute(t.update().where(t.c.key == key).values(value=value))
            else:
                c.execute(t.insert().values(key=key, value=value))

    # ---- sources and destinations ---------------------------------------------------------
    def _to_connection(
        self, kind: ConnectionKind, row: sa.RowMapping, *, sealed_ok: bool = False
    ) -> ConnectionRecord:
        """The row as a record; with sealed_ok, creds no key opens leave the record
        `unreadable` (a listing shows the rest) instead of failing."""
        name = row[kind.name_col]
        again = f"enter them again with `sluice {kind.label} edit {name} --creds JSON`"
        unreadable: str | None = None
        try:
            creds = self.cipher.open(row[kind.creds_col], f"{kind.label} {name!r}", again)
        except ConfigError as exc:
            if not sealed_ok:
                raise
            creds, unreadable = {}, str(exc)
        return ConnectionRecord(
            id=row["id"],
            name=name,
            type=row[kind.type_col],
            creds=creds,
            created_at=row["created_at"],
            unreadable=unreadable,
        )

    def add_connection(
        self, kind: ConnectionKind, name: str, type_name: str, creds: dict[str, Any]
    ) -> ConnectionRecord:
        values = {
            "id": new_uuid7(),
            kind.name_col: name,
            kind.type_col: type_name,
            kind.creds_col: self.cipher.seal(creds),
            "created_at": utcnow(),
        }
        try:
            with self.tx() as c:
                c.execute(kind.table.insert().values(**values))
        except IntegrityError:
            raise ConflictError(
                f"a {kind.label} named {name!r} exists already: pick another name, or remove "
                f"it first with `sluice {kind.label} remove {name}`"
            ) from None
        return self.get_connection(kind, name)

    def get_connection(
        self, kind: ConnectionKind, name: str, *, sealed_ok: bool = False
    ) -> ConnectionRecord:
        with self.read() as c:
            row = (
                c.execute(sa.select(kind.table).where(kind.table.c[kind.name_col] == name))
                .mappings()
                .first()
            )
        if row is None:
            raise _no_connection(kind, name)
        return self._to_connection(kind, row, sealed_ok=sealed_ok)

    def list_connections(self, kind: ConnectionKind) -> list[ConnectionRecord]:
        with self.read() as c:
            rows = (
                c.execute(sa.select(kind.table).order_by(kind.table.c[kind.name_col]))
                .mappings()
                .all()
            )
        return [self._to_connection(kind, row, sealed_ok=True) for row in rows]

    def update_connection(
        self, kind: ConnectionKind, name: str, type_name: str, creds: dict[str, Any]
    ) -> ConnectionRecord:
        """Replace a connection's type and creds (sealed); keep its id, name and created_at.

        Tables copy the connection's type into pipeline_config, so the type may change only
        while no table uses the connection; the check and the write share one transaction.
        """
        t = kind.table
        with self.tx() as c:
            stored = c.execute(
                sa.select(t.c[kind.type_col]).where(t.c[kind.name_col] == name)
            ).scalar_one_or_none()
            if stored is None:
                raise _no_connection(kind, name)
            if stored != type_name and (users := self._users(c, kind, name)):
                raise type_in_use(kind, name, users, stored, type_name)
            c.execute(
                t.update()
                .where(t.c[kind.name_col] == name)
                .values({kind.type_col: type_name, kind.creds_col: self.cipher.seal(creds)})
            )
        return self.get_connection(kind, name)

    def connection_users(self, kind: ConnectionKind, name: str) -> list[str]:
        """The tables that use the connection (for checks that must come before others)."""
        with self.read() as c:
            return self._users(c, kind, name)

    def remove_connection(self, kind: ConnectionKind, name: str) -> None:
        self.get_connection(kind, name, sealed_ok=True)  # removing needs no key
        with self.tx() as c:
            if users := self._users(c, kind, name):
                raise ConflictError(
                    f"{kind.label} {name!r} is used by table(s) {', '.join(users)}: remove or "
                    "re-point those tables first"
                )
            c.execute(kind.table.delete().where(kind.table.c[kind.name_col] == name))

    @staticmethod
    def _users(c: sa.Connection, kind: ConnectionKind, name: str) -> list[str]:
        """The tables whose pipeline_config row names this connection."""
        return list(
            c.execute(
                sa.select(s.pipeline_config.c.source_tablename).where(
                    s.pipeline_config.c[kind.config_col] == name
                )
            )
            .scalars()
            .all()
        )

    # ---- tables (pipeline_config) ---------------------------------------------------------
    @staticmethod
    def _to_table(row: sa.RowMapping) -> TableConfig:
        def hop(prefix: str) -> HopConfig:
            return HopConfig(
                schedule_minutes=row[f"{prefix}_schedule"],
                load_type=LoadType(row[f"{prefix}_load_type"] or "full"),
                is_active=bool(row[f"{prefix}_is_active"]),
                incremental_key=row[f"{prefix}_incremental_key"],
                last_incremental_value=row[f"{prefix}_last_incremental_value"],
                last_run_at=row[f"{prefix}_last_loader_run_timestamp"],
                last_run_status=row[f"{prefix}_last_loader_run_status"],
                fresh_within=row[f"{prefix}_fresh_within"],
            )

        primary_key = tuple(p.strip() for p in (row["primary_key"] or "").split(",") if p.strip())
        return TableConfig(
            source_tablename=row["source_tablename"],
            sink_tablename=row["sink_tablename"] or row["source_tablename"],
            source_type=row["source_type"] or "postgres",
            sink_type=row["sink_type"] or "postgres",
            source_name=row["source_name"],
            destination_name=row["destination_name"],
            primary_key=primary_key,
            pipeline_name=row["pipeline_name"] or "default",
            source_to_dl=hop("source_to_dl"),
            dl_to_sink=hop("dl_to_sink"),
            lookback=row["source_to_dl_lookback"],
            null_key_fallback=row["source_to_dl_null_key_fallback"],
            lake_keep_full=row["lake_keep_full"],
            future_tolerance=row["source_to_dl_future_tolerance"],
            future_policy=row["source_to_dl_future_policy"],
            future_held=row["source_to_dl_future_held"],
            hop_order=row["dl_to_sink_hop_order"] or "after",
            schema_contract=row["schema_contract"],
            zero_dates=row["source_to_dl_zero_dates"] or "fail",
            nested=row["source_to_dl_nested"] or "struct",
            partitions=row["source_to_dl_partitions"],
            sink_partition_by=row["dl_to_sink_partition_by"],
            sink_cluster_by=tuple(filter(None, (row["dl_to_sink_cluster_by"] or "").split(","))),
        )

    def add_table(self, values: dict[str, Any]) -> TableConfig:
        try:
            with self.tx() as c:
                c.execute(s.pipeline_config.insert().values(**values))
        except IntegrityError:
            name = values["source_tablename"]
            raise ConflictError(
                f"table {name!r} is configured already: change it with `sluice table edit {name}`"
            ) from None
        return self.get_table(values["source_tablename"])

    def get_table(self, name: str) -> TableConfig:
        with self.read() as c:
            row = (
                c.execute(
                    sa.select(s.pipeline_config).where(s.pipeline_config.c.source_tablename == name)
                )
                .mappings()
                .first()
            )
        if row is None:
            raise NotFoundError(f"no table {name!r} is configured: see `sluice table list`")
        return self._to_table(row)

    def list_tables(self, limit: int | None = None, after: str | None = None) -> list[TableConfig]:
        """Tables by name; a page of `limit` after the name `after` when given."""
        config = s.pipeline_config
        query = sa.select(config).order_by(config.c.source_tablename).limit(limit)
        if after is not None:
            query = query.where(config.c.source_tablename > after)
        with self.read() as c:
            rows = c.execute(query).mappings().all()
        return [self._to_table(row) for row in rows]

    def update_table(
        self, name: str, values: dict[str, Any], *, fenced_by: int | None = None
    ) -> TableConfig:
        """Change a table's row; with `fenced_by` (a run's id) only while that run holds its
        lock, else FencedOffError and nothing changes. The row as written is returned."""
        if values:
            return self._update_table(name, values, fenced_by)
        return self.get_table(name)

    def _update_table(
        self, name: str, values: dict[str, Any], fenced_by: int | None
    ) -> TableConfig:
        update = s.pipeline_config.update().where(s.pipeline_config.c.source_tablename == name)
        if fenced_by is not None:
            update = update.where(holding(fenced_by))
        with self.tx() as c:
            # RETURNING: the caller gets the row as written, with no second read.
            row = c.execute(update.values(**values).returning(s.pipeline_config)).mappings().first()
        if row is not None:
            return self._to_table(row)
        if fenced_by is not None and not self.holds_lock(fenced_by):
            raise FencedOffError(
                f"run {fenced_by} no longer holds table {name!r} (it was reaped as abandoned): "
                "its change was refused and the run that replaced it stands"
            )
        raise NotFoundError(f"no table {name!r} is configured: see `sluice table list`")

    def remove_table(self, name: str) -> None:
        self.get_table(name)
        with self.tx() as c:
            run_ids = sa.select(s.pipeline_runs_master.c.id).where(
                s.pipeline_runs_master.c.source_tablename == name
            )
            c.execute(
                s.pipeline_run_stage_logs.delete().where(
                    s.pipeline_run_stage_logs.c.pipeline_run_id.in_(run_ids)
                )
            )
            c.execute(
                s.pipeline_runs_master.delete().where(
                    s.pipeline_runs_master.c.source_tablename == name
                )
            )
            # What alerts last announced of it: a table added again under the name starts afresh.
            c.execute(
                s.sluice_alert_states.delete().where(
                    s.sluice_alert_states.c.source_tablename == name
                )
            )
            c.execute(
                s.pipeline_config.delete().where(s.pipeline_config.c.source_tablename == name)
            )

    def set_watermark(
        self, name: str, hop: Hop, value: str | None, *, fenced_by: int | None = None
    ) -> TableConfig:
        return self._update_table(name, {f"{hop.value}_last_incremental_value": value}, fenced_by)

    def set_hop_result(
        self, name: str, hop: Hop, status: str, at: datetime, *, fenced_by: int | None = None
    ) -> TableConfig:
        values = {
            f"{hop.value}_last_loader_run_status": status,
            f"{hop.value}_last_loader_run_timestamp": at,
        }
        return self._update_table(name, values, fenced_by)

    # ---- stage templates ------------------------------------------------------------------
    def list_stages(self, pipeline: str | None = None) -> list[StageRecord]:
        t = s.pipeline_stages
        query = sa.select(t).order_by(t.c.pipeline_name, t.c.stage_order)
        if pipeline is not None:
            query = query.where(t.c.pipeline_name == pipeline)
        with self.read() as c:
            rows = c.execute(query).mappings().all()
        return [to_stage(row) for row in rows]

    def add_stage(
        self, pipeline: str, order: int, name: str, stage_type: str, pool: str | None
    ) -> StageRecord:
        try:
            with self.tx() as c:
                c.execute(
                    s.pipeline_stages.insert().values(
                        pipeline_name=pipeline,
                        stage_order=order,
                        stage_name=name,
                        stage_type=stage_type,
                        driver_container=pool,
                    )
                )
        except IntegrityError:
            raise ConflictError(
                f"pipeline {pipeline!r} has a stage at order {order} already: pick a free order "
                "or remove that stage first"
            ) from None
        return next(st for st in self.list_stages(pipeline) if st.stage_order == order)

    def replace_stages(self, pipeline: str, stages: list[tuple[str, str, str | None]]) -> None:
        """Make `pipeline` exactly `stages` ((name, type, pool) in order; none: remove it),
        in one transaction: a run made meanwhile freezes the old template or the new."""
        t = s.pipeline_stages
        with self.tx() as c:
            c.execute(t.delete().where(t.c.pipeline_name == pipeline))
            for order, (name, stage_type, pool) in enumerate(stages, start=1):
                c.execute(
                    t.insert().values(
                        pipeline_name=pipeline,
                        stage_order=order,
                        stage_name=name,
                        stage_type=stage_type,
                        driver_container=pool,
                    )
                )

    def table_rows(self) -> dict[str, dict[str, Any]]:
        """Every table's row as stored, by name (what a config plan compares with)."""
        with self.read() as c:
            rows = c.execute(sa.select(s.pipeline_config)).mappings().all()
        return {str(row["source_tablename"]): dict(row) for row in rows}

    def remove_stage(self, pipeline: str, order: int) -> None:
        t = s.pipeline_stages
        with self.tx() as c:
            result = c.execute(
                t.delete().where(t.c.pipeline_name == pipeline, t.c.stage_order == order)
            )
        if result.rowcount == 0:
            raise NotFoundError(f"pipeline {pipeline!r} has no stage at order {order}")
