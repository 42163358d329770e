"""What a connector package declares about itself, read without importing any driver.

A package offers one `ConnectorSpec` through the entry point group `sluice.connectors`
(`[project.entry-points."sluice.connectors"]` in its pyproject), naming its creds model,
source and sink classes by "module:Class" paths. sluice's own connectors register the same
way, so a connector shipped in another installed package works without changing sluice.
"""

from __future__ import annotations

from dataclasses import dataclass

from sluice.connectors.dialect import Dialect


@dataclass(frozen=True)
class ConnectorSpec:
    type_name: str
    creds: str  # "module:Class" of the creds model (a sluice.connectors.base.Creds)
    example_creds: str  # shown in messages about bad creds
    source: str | None = None
    sink: str | None = None
    # The pip extra that installs the drivers (`pip install 'sluice[mysql]'`), and the
    # top-level modules it provides: importing one of them failing means the extra is missing.
    extra: str | None = None
    driver_modules: tuple[str, ...] = ()
    # "module:function" merging the field metadata this connector's source writes, for a
    # column whose lake batches were read with different declared types: (older, newer) ->
    # the metadata one load declares for all of them. None: the newer metadata stands.
    metadata_merge: str | None = None
    # The sink system's naming and SQL facts (a sink has one).
    dialect: Dialect | None = None
