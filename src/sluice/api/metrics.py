"""/metrics in the Prometheus text format, read from the config database.

    sluice_runs{status}                              gauge: runs in the config database
    sluice_rows_moved_total{table,hop}               counter: rows extracted (hop 1), loaded (hop 2)
    sluice_stage_duration_seconds{stage_type}        summary (_count, _sum) of finished stages
    sluice_last_success_timestamp_seconds{table,hop} gauge: Unix time of the last success

The two counters add up every finished stage log ever written. Summing that history on each
scrape would cost a scan of all stage logs, so this process sums it once (on the first scrape)
and afterwards adds only the stage logs created since, plus the ones still running last time.
Like any Prometheus counter they never go down: removing a table's history does not lower them.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Iterator

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    Metric,
    SummaryMetricFamily,
)
from prometheus_client.registry import Collector

from sluice.config.history import RunHistory
from sluice.config.stats import FINISHED, MOVING_STAGES, RunStats
from sluice.core.clock import utcnow
from sluice.core.models import Hop, RunStatus

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class RunMetrics(Collector):
    def __init__(self, stats: RunStats, history: RunHistory) -> None:
        self._stats = stats
        self._history = history
        self._lock = threading.Lock()
        self._seen_up_to: int | None = None  # every log up to this id is counted or open
        self._open: set[int] = set()  # logs up to _seen_up_to that were still running
        self._rows: dict[tuple[str, Hop], int] = defaultdict(int)
        self._durations: dict[str, list[float]] = defaultdict(lambda: [0, 0.0])
        self._registry = CollectorRegistry(auto_describe=False)
        self._registry.register(self)

    def render(self) -> bytes:
        return generate_latest(self._registry)

    def _catch_up(self) -> None:
        if self._seen_up_to is None:
            totals = self._stats.totals()
            self._rows.update(totals.rows)
            for stage_type, (count, seconds) in totals.durations.items():
                self._durations[stage_type] = [count, seconds]
            self._open, self._seen_up_to = totals.open_ids, totals.last_id
            return
        still_open: set[int] = set()
        for log in self._stats.logs_after(self._seen_up_to, sorted(self._open)):
            self._seen_up_to = max(self._seen_up_to, log.id)
            if log.status not in FINISHED:
                still_open.add(log.id)
                continue
            hop = MOVING_STAGES.get(log.stage_type or "")
            if hop is not None and log.status == RunStatus.SUCCESS.value:
                self._rows[(log.table, hop)] += log.rows
            if log.stage_type:
                entry = self._durations[log.stage_type]
                entry[0] += 1
                entry[1] += log.seconds or 0.0
        # An open log missing from the answer was deleted with its table: nothing to count.
        self._open = still_open

    def collect(self) -> Iterator[Metric]:
        with self._lock:
            self._catch_up()
            rows = dict(self._rows)
            durations = {k: (int(v[0]), float(v[1])) for k, v in self._durations.items()}
        runs = GaugeMetricFamily(
            "sluice_runs", "Runs in the config database, by status.", labels=["status"]
        )
        counts = self._stats.runs_by_status_total()
        for status in RunStatus:
            runs.add_metric([status.value], counts.get(status.value, 0))
        yield runs

        moved = CounterMetricFamily(
            "sluice_rows_moved",
            "Rows moved by successful stages: extracted into the lake (source_to_dl) and "
            "loaded into the sink (dl_to_sink).",
            labels=["table", "hop"],
        )
        for (table, hop), value in sorted(rows.items()):
            moved.add_metric([table, hop.value], value)
        yield moved

        seconds = SummaryMetricFamily(
            "sluice_stage_duration_seconds",
            "Time taken by finished stages (success or failed), by stage type.",
            labels=["stage_type"],
        )
        for stage_type, (count, total) in sorted(durations.items()):
            seconds.add_metric([stage_type], count_value=count, sum_value=total)
        yield seconds

        last = GaugeMetricFamily(
            "sluice_last_success_timestamp_seconds",
            "Unix time at which a run covering the table's hop last succeeded.",
            labels=["table", "hop"],
        )
        for (table, hop), at in sorted(self._history.last_success().items()):
            last.add_metric([table, hop.value], at.timestamp())
        yield last

        stale = GaugeMetricFamily(
            "sluice_table_stale",
            "1 when a scheduled, active hop has not succeeded within its freshness target "
            "(twice its schedule), else 0; hops without a target are left out.",
            labels=["table", "hop"],
        )
        target = GaugeMetricFamily(
            "sluice_freshness_target_seconds",
            "The freshness target of a scheduled, active hop: twice its schedule.",
            labels=["table", "hop"],
        )
        for (table, hop), fresh in sorted(self._history.freshness(utcnow()).items()):
            if fresh.stale is not None and fresh.target_seconds is not None:
                stale.add_metric([table, hop.value], 1 if fresh.stale else 0)
                target.add_metric([table, hop.value], fresh.target_seconds)
        yield stale
        yield target
