"""A stage that damages the batch its run just wrote, as a faulty disk or driver would
(loaded via SLUICE_STAGE_MODULES; SLUICE_TEST_TAMPER picks the damage)."""

from __future__ import annotations

import dataclasses
import hashlib
import os
import posixpath
import subprocess
import sys
from typing import ClassVar

import pyarrow as pa
import pyarrow.parquet as pq

from sluice.core.models import Hop
from sluice.lake.manifest import PENDING_NAME
from sluice.stages.context import StageContext, StageResult
from sluice.stages.registry import StageType


class TamperLake(StageType):
    """`flip_byte`: one byte of the first part changes (checksums no longer match).
    `drop_row`: the first part loses its last row and the manifest is rewritten to agree,
    so only the source's own count can tell. `null_value`: a value of the first part becomes
    NULL and the part's checksum is rewritten to agree, so only the column counts can tell.
    `delete_part`: the first part is gone;
    `delete_batch`: the whole batch is.
    `hop2_then_flip_byte`: a hop 2 run of the table runs to its end first, then flip_byte."""

    name: ClassVar[str] = "test_tamper_lake"
    hop: ClassVar[Hop] = Hop.SOURCE_TO_DL

    def run(self, ctx: StageContext) -> StageResult:
        table = ctx.lake_table
        [manifest] = table.pending(ctx.run.id)  # written, not yet verified nor published
        base = table.batch_path(manifest)
        part = manifest.parts[0]
        path = posixpath.join(base, part.path)
        damage = os.environ["SLUICE_TEST_TAMPER"]
        if damage == "delete_batch":  # as another hop 1 writer would, taking this run for dead
            table.store.delete_dir(base)
            return StageResult(rows=0)
        if damage == "delete_part":
            table.store.fs.delete_file(path)
            return StageResult(rows=0)
        if damage == "hop2_then_flip_byte":
            # Hop 2 is its own run (its own lock): it may run right now, between extract and
            # verify_lake of this one. It must not see the batch this run has not verified.
            hop2 = subprocess.run(
                [sys.executable, "-m", "sluice", "run", table.table, "--hop", "dl_to_sink"],
                capture_output=True,
                text=True,
                timeout=120,
                check=False,
            )
            assert hop2.returncode == 0, hop2.stdout + hop2.stderr
            damage = "flip_byte"
        if damage == "flip_byte":
            flipped = bytearray(table.store.read_bytes(path))
            flipped[len(flipped) // 2] ^= 0xFF
            table.store.write_atomic(path, bytes(flipped))
            return StageResult(rows=0)
        if damage == "null_value":
            # The first row's last column loses its value, the part and its checksum are
            # rewritten to agree: as a Parquet writer that dropped a value would leave it.
            with table.store.open_input(path) as handle:
                rows = pq.read_table(handle)
            name = rows.schema.names[-1]
            values = rows.column(name).to_pylist()
            values[0] = None
            rows = rows.set_column(
                rows.schema.get_field_index(name),
                rows.schema.field(name),
                pa.array(values, rows.schema.field(name).type),
            )
            pq.write_table(rows, path)
            data = table.store.read_bytes(path)
            nulled = dataclasses.replace(
                part, bytes=len(data), sha256=hashlib.sha256(data).hexdigest()
            )
            rewritten = dataclasses.replace(manifest, parts=(nulled, *manifest.parts[1:]))
            table.store.write_atomic(posixpath.join(base, PENDING_NAME), rewritten.to_json())
            return StageResult(rows=0)
        assert damage == "drop_row", damage
        with table.store.open_input(path) as handle:
            rows = pq.read_table(handle)
        pq.write_table(rows.slice(0, rows.num_rows - 1), path)
        data = table.store.read_bytes(path)
        shorter = dataclasses.replace(
            part, rows=part.rows - 1, bytes=len(data), sha256=hashlib.sha256(data).hexdigest()
        )
        rewritten = dataclasses.replace(
            manifest, parts=(shorter, *manifest.parts[1:]), row_count=manifest.row_count - 1
        )
        table.store.write_atomic(posixpath.join(base, PENDING_NAME), rewritten.to_json())
        return StageResult(rows=0)
