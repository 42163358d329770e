"""`sluice apply` of a document of 1,000 tables, as whole CLI processes (issue 20: under 10 s).

Run by hand:  .venv/bin/python bench/config_apply.py [--tables N]

In a scratch config database: one SQLite source and one DuckDB destination, and a document
naming N tables (incremental, keyed, every option a typical table sets). Times the first
apply (adds everything), a second apply of the same file (plans and finds nothing to do), a
dry run after one change, and `sluice export`. Not a test.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
TARGET_S = 10.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tables", type=int, default=1000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="sluice-apply-") as folder:
        work = Path(folder)
        env = {
            **os.environ,
            "PYTHONPATH": str(PROJECT / "src"),
            "SLUICE_CONFIG_DB": str(work / "config.db"),
            "SLUICE_LAKE": str(work / "lake"),
        }

        def sluice(*words: str) -> float:
            started = time.perf_counter()
            subprocess.run([sys.executable, "-m", "sluice", *words], env=env, check=True,
                           capture_output=True)  # fmt: skip
            return time.perf_counter() - started

        lines = [
            "sources:",
            f"  app: {{type: sqlite, creds: {{path: {work / 'app.sqlite'}}}}}",
            "destinations:",
            f"  wh: {{type: duckdb, creds: {{path: {work / 'wh.duckdb'}}}}}",
            "tables:",
        ]
        for n in range(args.tables):
            lines.append(
                f"  - {{source_tablename: sales.t{n:05d}, source: app, destination: wh, "
                "primary_key: [id], load: incremental, key: updated_at, every: 15m, "
                "sink_load: incremental, fresh_within: 1h}"
            )
        document = work / "sluice.yaml"
        document.write_text("\n".join(lines) + "\n")
        sluice("init")
        first = sluice("apply", str(document))
        again = sluice("apply", str(document))
        document.write_text(document.read_text().replace("every: 15m", "every: 30m", 1))
        dry = sluice("apply", str(document), "--dry-run")
        exported = sluice("export", "--output", str(work / "exported.yaml"))
    verdict = "ok" if first <= TARGET_S else "MISS"
    print(f"sluice apply, {args.tables:,} tables, whole CLI processes")
    print(f"  first apply (adds all)      {first:6.2f} s  (target {TARGET_S:.0f} s: {verdict})")
    print(f"  same file again (no change) {again:6.2f} s")
    print(f"  dry run after one change    {dry:6.2f} s")
    print(f"  export                      {exported:6.2f} s")


if __name__ == "__main__":
    main()
