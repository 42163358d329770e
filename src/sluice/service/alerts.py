"""Alerts: each table's hop is ok, failed (its last run failed) or stale (no success within
its freshness target, core/freshness.py); a change of state is announced once to every alert
target that takes the table (all of them, or those whose `--tables` patterns match its name),
through Apprise (Slack, Teams, email, webhooks, ...: any Apprise URL).

The scheduler looks every pass (and `sluice alerts check` on demand). A state is recorded only
once it was delivered (or when no target takes the table), so a target that is down hears of it
on a later pass rather than never; retries inside a run change nothing (only a run's end
changes a hop's last status). A hop seen for the first time is announced only when it is not
ok.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from datetime import datetime, timedelta

from sluice.config.alerts import AlertStore, Announced, Target
from sluice.config.history import RunHistory
from sluice.config.repository import ConfigRepository
from sluice.core.freshness import Freshness
from sluice.core.models import Hop
from sluice.core.redact import scrub
from sluice.stages.registry import stage_types

log = logging.getLogger("sluice.alerts")

# Where the dashboard is reached (https://sluice.example.com): alerts then link to the run.
PUBLIC_URL_ENV = "SLUICE_PUBLIC_URL"


@dataclass(frozen=True)
class Alert:
    table: str
    hop: Hop
    state: str  # failed | stale | ok (recovered)
    title: str
    body: str


class AlertWatch:
    def __init__(self, repo: ConfigRepository, history: RunHistory) -> None:
        self.repo = repo
        self.history = history
        self.store = AlertStore(repo.engine, repo.cipher)

    def check(self, now: datetime) -> list[Alert]:
        """Announce every hop whose state changed; the alerts delivered."""
        fresh = self.history.freshness(now)
        stage_hops = {name: kind.hop for name, kind in stage_types().items()}
        failures = self.history.last_failures(stage_hops)
        announced = self.store.announced()
        targets: list[Target] | None = None
        sent = []
        for table in self.repo.list_tables():
            for hop in Hop:
                key = (table.source_tablename, hop)
                config = table.hop(hop)
                failure = failures.get(key) if config.last_run_status == "failed" else None
                stale = fresh.get(key)
                state = "failed" if failure else "stale" if stale and stale.stale else "ok"
                before = announced.get(key)
                if (before.state if before else "ok") == state:
                    continue  # unchanged (a hop seen first is taken as ok before)
                alert = _alert(table.source_tablename, hop, state, failure, stale, before)
                if targets is None:
                    targets = self.store.targets()
                urls = {t.name: t.url for t in targets if t.takes(table.source_tablename)}
                if urls and not _deliver(urls, alert):
                    continue  # a later pass tries again
                self.store.announce(key[0], hop, state, failure[0] if failure else None)
                sent.append(alert)
        return sent

    def test(self, name: str) -> None:
        """Send one test notification to target `name` (ConfigError naming it if it fails)."""
        from sluice.core.errors import ConfigError, NotFoundError

        urls = self.store.target_urls()
        if name not in urls:
            raise NotFoundError(f"no alert target {name!r}: `sluice alerts list` shows them")
        alert = Alert("-", Hop.SOURCE_TO_DL, "ok", "sluice: test alert", "A test from sluice.")
        if not _deliver({name: urls[name]}, alert):
            raise ConfigError(
                f"alert target {name!r} did not take the test notification (see the log "
                "line above): fix its URL (`sluice alerts remove`, then add it again)"
            )


def _alert(
    table: str,
    hop: Hop,
    state: str,
    failure: tuple[int, str] | None,
    stale: Freshness | None,
    before: Announced | None,
) -> Alert:
    target = stale.target if stale else None
    if state == "failed" and failure is not None:
        run_id, first_line = failure
        body = f"Run {run_id} failed: {first_line}{_link(run_id)}"
        return Alert(table, hop, state, f"sluice: {table} {hop.value} failed", body)
    if state == "stale":
        body = (
            f"No successful run within {_span(target)} (its freshness target): the data in the "
            f"{'lake' if hop is Hop.SOURCE_TO_DL else 'sink'} is getting old."
        )
        return Alert(table, hop, state, f"sluice: {table} {hop.value} is stale", body)
    was = before.state if before else "failing"
    body = f"{table} {hop.value} is healthy again (it was {was})."
    return Alert(table, hop, state, f"sluice: {table} {hop.value} recovered", body)


def _span(target: timedelta | None) -> str:
    seconds = int(target.total_seconds()) if target else 0
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def _link(run_id: int) -> str:
    base = os.environ.get(PUBLIC_URL_ENV, "").rstrip("/")
    return f"\n{base}/ui/runs/{run_id}" if base else ""


def _deliver(urls: dict[str, str], alert: Alert) -> bool:
    """Send `alert` to every target; True when all took it. Never raises: an alert that
    cannot be sent must not stop the scheduler."""
    import apprise

    ok_type, bad_type = apprise.NotifyType.SUCCESS, apprise.NotifyType.FAILURE
    notify_type = ok_type if alert.state == "ok" else bad_type
    delivered = True
    for name, url in urls.items():
        sender = apprise.Apprise()
        if not sender.add(url):
            log.warning("alert target %r has a URL Apprise does not take", name)
            delivered = False
            continue
        try:
            ok = bool(sender.notify(title=alert.title, body=alert.body, notify_type=notify_type))
        except Exception as exc:  # noqa: BLE001 - a plugin's failure is reported, never raised
            ok = False
            log.warning("alert target %r failed: %s", name, scrub(str(exc), [url]))
        if not ok:
            log.warning("alert target %r did not take the alert %r", name, alert.title)
            delivered = False
    return delivered
