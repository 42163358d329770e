"""A scratch config database for the benches that fill one with SQL (api_latency, scale).

Made with sluice's own migrations, so the indexes are the ones users get, with a viewer API
token; `ts` writes a Unix-seconds SQL expression as the database's timestamp text.
"""

from __future__ import annotations

import os
from pathlib import Path

# A fixed key: the scratch database is thrown away with its folder.
BENCH_SECRET_KEY = "k3NcJ3G9B0YxM3mX2pQv8LkVnTf6RzWcA1sDyHuIoEg="


def ts(expr: str) -> str:
    """SQL for a Unix-seconds expression as the config database's timestamp text."""
    return f"strftime('%Y-%m-%dT%H:%M:%S', {expr}, 'unixepoch') || '.000000Z'"


def scratch_config_db(path: Path) -> tuple[str, str]:
    """A migrated config database at `path`; its URL and a viewer token."""
    os.environ.setdefault("SLUICE_SECRET_KEY", BENCH_SECRET_KEY)
    from sluice.config.database import create_config_engine
    from sluice.config.migrate import upgrade
    from sluice.config.tokens import Role, TokenRepository

    url = f"sqlite:///{path}"
    engine = create_config_engine(url)
    upgrade(engine)
    token, _ = TokenRepository(engine).create(Role.VIEWER, "bench")
    engine.dispose()
    return url, token
