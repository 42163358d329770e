"""The web dashboard end to end, in headless Chromium (Debian's `chromium`, driven by Playwright).

The real app (`create_app` + `mount_dashboard`) serves a real config database over uvicorn on
127.0.0.1; triggered runs execute in child processes, as under `sluice serve`. An admin signs
in with a token, presses "run now" and watches the run reach success on the overview without a
reload, reads the run's stage timeline, filters the history, sees the charts and pauses a hop;
a viewer gets the same pages without a single button that changes anything.

A source's password is planted in the config database (and a run fails connecting with it):
no page, and no response the server sends, ever holds it or a token.

A screenshot of each page is written to tmp_path/screens and copied to /tmp/sluice-screens
(never into the repository), so a person can look at them.
"""

from __future__ import annotations

import json
import re
import shutil
import socket
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import uvicorn
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sluice.api import create_app
from sluice.engine.services import Services
from sluice.web import mount_dashboard
from tests.conftest import IN_CI, PROJECT, Sluice
from tests.integration.api_support import Api, chinook_fixture, held_api_fixture, held_fixture

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

__all__ = ["chinook_fixture", "held_api_fixture", "held_fixture"]  # fixtures used here

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
SCREENS = Path("/tmp/sluice-screens")
STAGES = ["check_source", "extract", "verify_lake", "check_sink", "load", "verify_sink"]
HOPS = ("source_to_dl", "dl_to_sink")
RUN_TIMEOUT_MS = 45_000
SECRET = "Pl4nted-Dashb0ard-S3cret-9125"
CRM_CREDS = {"host": "127.0.0.1", "port": 1, "user": "app", "password": SECRET, "database": "crm"}


def _unavailable(reason: str) -> None:
    if IN_CI:
        pytest.fail(f"{reason} (CI=true: the dashboard test may not skip)")
    pytest.skip(reason)


@dataclass
class Dashboard:
    url: str
    admin_token: str
    viewer_token: str
    screens: Path
    recorder: Recorder

    @property
    def secrets(self) -> tuple[str, ...]:
        return (SECRET, self.admin_token, self.viewer_token)

    def api(self, path: str) -> Any:
        request = urllib.request.Request(
            self.url + path, headers={"Authorization": f"Bearer {self.admin_token}"}
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.load(response)

    def shot(self, page: Page, name: str) -> None:
        """A full-page screenshot; and no page ever holds a secret or a token."""
        path = self.screens / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        SCREENS.mkdir(exist_ok=True)
        shutil.copy(path, SCREENS / path.name)
        html = page.content()
        assert not [secret for secret in self.secrets if secret in html]

    def check_responses(self) -> None:
        """Every body the server sent (pages, scripts, API answers) is free of secrets."""
        bodies = self.recorder.bodies
        assert len(bodies) > 20
        assert any(b"127.0.0.1:1/crm" in body for body in bodies)  # the failure went through
        assert not [s for s in self.secrets for body in bodies if s.encode() in body]


class Recorder:
    """ASGI middleware keeping every HTTP response body the app sends, whole."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.bodies: list[bytes] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []

        async def keep(message: Message) -> None:
            if message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
                if not message.get("more_body", False):
                    self.bodies.append(b"".join(chunks))
            await send(message)

        await self.app(scope, receive, keep)


@pytest.fixture(name="browser")
def browser_fixture() -> Iterator[Browser]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("the dashboard test needs Playwright: pip install playwright")
        raise
    if not CHROMIUM.exists():
        _unavailable(f"{CHROMIUM} is missing: apt-get install -y chromium")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture(name="dashboard")
def dashboard_fixture(
    chinook: Sluice, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Dashboard]:
    """Genre (never run), Invoice (incremental, run once), Customer (failed: its source refuses
    connections, with a planted password) over HTTP."""
    monkeypatch.setenv("SLUICE_RETRY_BASE", "0.05")  # the refused connection is retried quickly
    chinook(
        "table add Invoice --source chinook --destination wh --load incremental "
        "--key InvoiceDate --primary-key InvoiceId",
        ok=True,
    )
    chinook(f"source add crm --type postgres --creds '{json.dumps(CRM_CREDS)}' --no-check", ok=True)
    chinook("table add Customer --source crm --destination wh --no-check", ok=True)
    chinook("run Invoice", ok=True)
    assert chinook("run Customer").code == 1  # connection refused
    admin = chinook("token create --role admin --name e2e", ok=True).out.strip()
    viewer = chinook("token create --role viewer --name wallboard", ok=True).out.strip()

    services = Services.open(None)
    app = create_app(services)
    mount_dashboard(app)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    recorder = Recorder(app)
    server = uvicorn.Server(
        uvicorn.Config(recorder, log_level="warning", access_log=False, ws="none", lifespan="off")
    )
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    screens = tmp_path / "screens"
    screens.mkdir()
    try:
        yield Dashboard(f"http://127.0.0.1:{port}", admin, viewer, screens, recorder)
    finally:
        server.should_exit = True
        thread.join(timeout=15)
        sock.close()
        # Runs started in child processes outlive their request; let them end first.
        assert app.state.sluice.launcher.wait(timeout=60) == []
        services.close()


# Marks the document (a reload would lose the mark) and records each status the run of Genre
# shows on the overview, as the page changes it.
RECORD_RUN_STATUS = """() => {
  window.sameDocument = true;
  window.seen = [];
  new MutationObserver(() => {
    const badge = document.querySelector('tbody[data-table="Genre"] [data-role="run-status"]');
    if (badge && window.seen[window.seen.length - 1] !== badge.textContent) {
      window.seen.push(badge.textContent);
    }
  }).observe(document.getElementById('tables'),
             {subtree: true, childList: true, characterData: true});
}"""


def open_page(browser: Browser, problems: list[str]) -> Page:
    """A page that records script errors and console errors (CSP violations among them)."""
    page = browser.new_page(viewport={"width": 1360, "height": 860})
    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    page.on(
        "console",
        lambda message: problems.append(message.text) if message.type == "error" else None,
    )
    return page


def sign_in(page: Page, token: str) -> None:
    page.get_by_label("API token").fill(token)
    page.get_by_role("button", name="Sign in").click()


def bar_totals(page: Page, chart: str) -> dict[str, int]:
    """The values of a drawn chart's bars, summed per series."""
    totals: dict[str, int] = {}
    for bar in page.locator(f"{chart} rect[data-series]").all():
        series = bar.get_attribute("data-series") or ""
        totals[series] = totals.get(series, 0) + int(bar.get_attribute("data-value") or 0)
    return totals


@pytest.mark.slow
def test_an_admin_runs_a_table_and_follows_it_live(browser: Browser, dashboard: Dashboard) -> None:
    from playwright.sync_api import expect

    problems: list[str] = []
    page = open_page(browser, problems)
    url = dashboard.url

    # Every page wants a token first; after signing in, the page asked for.
    page.goto(f"{url}/")
    expect(page).to_have_url(re.compile(r"/ui/login\?next=%2Fui%2F$"))
    expect(page.get_by_role("heading", name="Sign in to sluice")).to_be_visible()
    dashboard.shot(page, "01-login")
    sign_in(page, dashboard.admin_token)
    expect(page).to_have_url(f"{url}/ui/")
    expect(page.locator("#who")).to_contain_text("e2e")

    # The overview: both hops of every table, as the config database has them.
    genre = page.locator('tbody[data-table="Genre"]')
    invoice = page.locator('tbody[data-table="Invoice"]')
    customer = page.locator('tbody[data-table="Customer"]')
    for hop in HOPS:
        expect(genre.locator(f'tr[data-hop="{hop}"] [data-role="state"]')).to_have_text("active")
        # Due, but nothing starts it: no scheduler holds the lease in this test.
        expect(genre.locator(f'tr[data-hop="{hop}"] [data-role="next-due"]')).to_have_text(
            "due (no scheduler)"
        )
        expect(invoice.locator(f'tr[data-hop="{hop}"] [data-role="last-status"]')).to_have_text(
            "success"
        )
    expect(page.locator('[data-role="scheduler"]')).to_contain_text("No scheduler is running")
    expect(genre.locator('[data-role="last-status"]')).to_have_count(0)  # never run
    expect(customer.locator('tr[data-hop="source_to_dl"] [data-role="last-status"]')).to_have_text(
        "failed"
    )
    watermark = dashboard.api("/api/tables/Invoice")["source_to_dl"]["last_incremental_value"]
    expect(invoice.locator('[data-role="watermark"]').first).to_have_text(f"watermark {watermark}")

    # Run now: the run appears, progresses and succeeds on this page, which never reloads.
    page.evaluate(RECORD_RUN_STATUS)
    page.get_by_role("button", name="Run Genre now").click()
    tracked = genre.locator(".tracked")
    expect(tracked.locator('[data-role="run-status"]')).to_have_text(
        "success", timeout=RUN_TIMEOUT_MS
    )
    seen = page.evaluate("window.seen")
    assert seen[0] in ("pending", "running") and seen[-1] == "success", seen
    for hop in HOPS:
        expect(genre.locator(f'tr[data-hop="{hop}"] [data-role="last-status"]')).to_have_text(
            "success"
        )
    expect(genre.locator('tr[data-hop="dl_to_sink"] [data-role="watermark"]')).to_have_text(
        "loaded through batch 1"
    )
    expect(page.get_by_role("button", name="Run Genre now")).to_be_enabled()
    assert page.evaluate("window.sameDocument") is True
    run_id = int(tracked.get_attribute("data-run-id") or "0")
    assert dashboard.api(f"/api/runs/{run_id}")["triggered_by"] == "api"
    expect(page.locator(f'#recent tr[data-run-id="{run_id}"] .badge')).to_have_text("success")
    dashboard.shot(page, "02-overview")

    # The run page: six stages as a timeline of bars, in order, with rows and files.
    tracked.locator("a.run-id").click()
    expect(page).to_have_url(f"{url}/ui/runs/{run_id}")
    expect(page.locator('#run-status [data-role="run-status"]')).to_have_text("success")
    stages = page.locator("#timeline .tl-row[data-stage-type]")
    expect(stages).to_have_count(len(STAGES))
    assert [row.get_attribute("data-stage-type") for row in stages.all()] == STAGES
    assert {row.get_attribute("data-status") for row in stages.all()} == {"success"}
    starts = []
    for row in stages.all():
        bar = row.locator(".bar").bounding_box()
        assert bar is not None and bar["width"] >= 2
        starts.append(bar["x"])
    assert starts == sorted(starts)  # each stage starts after the one before
    expect(page.locator('#stages tr[data-stage-type="extract"] [data-role="rows"]')).to_have_text(
        "25"
    )
    expect(page.locator('#stages tr[data-stage-type="load"] [data-role="rows"]')).to_have_text("25")
    expect(page.locator('#stages tr[data-stage-type="extract"] summary')).to_have_text("1 file")
    expect(page.locator("#run-error")).to_be_hidden()
    dashboard.shot(page, "03-run")

    # History: every run, then filtered by trigger, status and table (kept in the address).
    page.get_by_role("link", name="Runs", exact=True).click()
    rows = page.locator("#runs tbody tr")
    expect(rows).to_have_count(3)
    dashboard.shot(page, "04-runs")
    page.select_option("#f-triggered", "api")
    expect(rows).to_have_count(1)
    expect(rows.first).to_have_attribute("data-run-id", str(run_id))
    expect(page).to_have_url(re.compile(r"triggered_by=api"))
    page.select_option("#f-triggered", "")
    page.select_option("#f-status", "failed")
    expect(rows).to_have_count(1)
    expect(rows.first.locator("td").nth(1)).to_have_text("Customer")
    page.select_option("#f-status", "")
    page.select_option("#f-table", "Invoice")
    expect(rows).to_have_count(1)
    expect(rows.first.locator("td").nth(5)).to_have_text("manual")

    # Charts: rows loaded per table and day, outcomes per day.
    page.get_by_role("link", name="Charts").click()
    expect(page.locator('[data-tile="Success rate"] .tile-value')).to_have_text("66.7 %")
    # Bars per UTC day: summed, in case the runs straddle midnight.
    assert bar_totals(page, "#rows-chart") == {"Genre": 25, "Invoice": 412}
    assert bar_totals(page, "#outcomes-chart") == {"success": 2, "failed": 1}
    dashboard.shot(page, "05-charts")

    # Pause and resume hop 1 of Genre with its switch.
    page.get_by_role("link", name="Tables").click()
    switch = page.get_by_role("switch", name="Hop 1 of Genre active")
    expect(switch).to_be_checked()
    switch.click()
    state = genre.locator('tr[data-hop="source_to_dl"] [data-role="state"]')
    expect(state).to_have_text("paused")
    expect(switch).not_to_be_checked()
    assert dashboard.api("/api/tables/Genre")["source_to_dl"]["is_active"] is False
    assert dashboard.api("/api/tables/Genre")["dl_to_sink"]["is_active"] is True
    switch.click()
    expect(state).to_have_text("active")
    assert dashboard.api("/api/tables/Genre")["source_to_dl"]["is_active"] is True

    assert problems == []
    dashboard.check_responses()


@pytest.mark.slow
def test_a_viewer_reads_everything_and_changes_nothing(
    browser: Browser, dashboard: Dashboard
) -> None:
    from playwright.sync_api import expect

    problems: list[str] = []
    page = open_page(browser, problems)
    url = dashboard.url

    page.goto(f"{url}/ui/login")
    sign_in(page, "sluice_not-a-token")
    expect(page.locator("#login-error")).to_contain_text("unknown or revoked")
    expect(page).to_have_url(f"{url}/ui/login")
    sign_in(page, dashboard.viewer_token)
    expect(page).to_have_url(f"{url}/ui/")
    expect(page.locator("#who")).to_contain_text("read-only")

    genre = page.locator('tbody[data-table="Genre"]')
    expect(genre.locator('tr[data-hop="source_to_dl"] [data-role="state"]')).to_have_text("active")
    expect(page.locator("tbody[data-table]")).to_have_count(3)
    expect(page.get_by_role("button", name=re.compile(r"^Run .* now$"))).to_have_count(0)
    expect(page.get_by_role("switch")).to_have_count(0)
    expect(genre.locator("td.active").first).to_have_text("on")
    dashboard.shot(page, "06-viewer-overview")

    # A failed run's page shows its error and the stage that failed.
    page.goto(f"{url}/ui/runs?status=failed")
    expect(page.locator("#runs tbody tr")).to_have_count(1)
    page.locator("#runs tbody tr a.run-id").click()
    expect(page.locator('#run-status [data-role="run-status"]')).to_have_text("failed")
    expect(page.locator("#run-error")).to_contain_text("127.0.0.1")  # explained, without creds
    failed = page.locator('#timeline .tl-row[data-stage-type="check_source"]')
    expect(failed).to_have_attribute("data-status", "failed")
    expect(page.locator('#stages tr[data-stage-type="check_source"] td').nth(6)).to_have_text("3")
    dashboard.shot(page, "07-viewer-failed-run")

    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(re.compile(r"/ui/login\?reason=signedout"))
    assert page.evaluate("sessionStorage.length") == 0
    page.goto(f"{url}/ui/runs")
    expect(page).to_have_url(re.compile(r"/ui/login\?next=%2Fui%2Fruns$"))

    # The only console errors: the browser's own line for the refused token's 401.
    assert [p for p in problems if "status of 401" not in p] == []
    dashboard.check_responses()


# Everything that sticks out: the page wider than the window, a card that scrolls sideways,
# a button or badge past the right edge.
OVERFLOW = """() => {
  const bad = [];
  const width = document.documentElement.clientWidth;
  if (document.documentElement.scrollWidth > width) {
    bad.push(`page is ${document.documentElement.scrollWidth}px wide in ${width}px`);
  }
  for (const node of document.querySelectorAll('.card, .page-head, .tiles, .topbar, .hop-cards')) {
    if (node.scrollWidth > node.clientWidth + 1) {
      bad.push(`${node.id || node.className} scrolls: ${node.scrollWidth} > ${node.clientWidth}`);
    }
  }
  for (const node of document.querySelectorAll('button, a, .badge, td, th')) {
    const box = node.getBoundingClientRect();
    if (box.width && box.right > width + 0.5) {
      bad.push(`${node.tagName} "${node.textContent.trim().slice(0, 30)}" ends at ${box.right}`);
    }
  }
  return bad;
}"""
SIZES = ((1400, 900), (1024, 768))


def fits(page: Page, dashboard: Dashboard, name: str) -> None:
    """The page at both sizes: nothing sticks out; a screenshot of each."""
    for width, height in SIZES:
        page.set_viewport_size({"width": width, "height": height})
        page.wait_for_timeout(400)  # charts redraw on resize after 150 ms
        dashboard.shot(page, f"{name}-{width}x{height}")
        assert page.evaluate(OVERFLOW) == [], f"{name} at {width}x{height}"


@pytest.mark.slow
def test_the_table_page_freshness_errors_live_rows_and_every_page_fits(
    browser: Browser, dashboard: Dashboard, chinook: Sluice, monkeypatch: pytest.MonkeyPatch
) -> None:
    from playwright.sync_api import expect

    monkeypatch.setenv("SLUICE_STAGE_MODULES", "tests.plugins.slow_stages")
    monkeypatch.setenv("PYTHONPATH", str(PROJECT))  # runs execute in child processes
    monkeypatch.setenv("SLUICE_TEST_SLEEP", "6")
    chinook("stages add --pipeline trickle --order 1 --type test_trickle --name Trickle", ok=True)
    chinook("table add Album --source chinook --destination wh --pipeline trickle", ok=True)
    chinook("table edit Invoice --sink-load incremental", ok=True)
    problems: list[str] = []
    page = open_page(browser, problems)
    url = dashboard.url
    page.goto(f"{url}/ui/login")
    sign_in(page, dashboard.admin_token)

    # The overview: data age per hop, the failure's first line, hop 2 without a key of its own.
    invoice = page.locator('tbody[data-table="Invoice"]')
    expect(invoice.locator('tr[data-hop="source_to_dl"] [data-role="fresh"]')).to_contain_text(
        "lake"
    )
    expect(invoice.locator('tr[data-hop="dl_to_sink"] [data-role="fresh"]')).to_contain_text("sink")
    # Customer ran and never succeeded: stale against its target (twice its hourly schedule).
    customer = page.locator('tbody[data-table="Customer"]')
    stale = customer.locator('tr[data-hop="source_to_dl"] [data-role="stale"]')
    expect(stale).to_have_text("stale")
    expect(invoice.locator('[data-role="stale"]')).to_have_count(0)
    expect(invoice.locator('tr[data-hop="dl_to_sink"] [data-role="load"]')).to_have_text(
        "incremental (new lake batches)"
    )
    expect(page.get_by_text("incremental on null")).to_have_count(0)
    error = page.locator(
        'tbody[data-table="Customer"] tr[data-hop="source_to_dl"] [data-role="last-error"]'
    )
    failed_run = dashboard.api("/api/tables/Customer")["source_to_dl"]["last_error_run_id"]
    expect(error).to_contain_text("cannot connect to 127.0.0.1:1/crm")
    assert "\n" not in (error.text_content() or "")
    expect(error).to_have_attribute("href", f"/ui/runs/{failed_run}")
    fits(page, dashboard, "10-overview")

    # A running stage shows its rows so far and its rate, live.
    page.get_by_role("button", name="Run Album now").click()
    live = page.locator('tbody[data-table="Album"] [data-role="live-rows"]')
    expect(live).to_contain_text(re.compile(r"[0-9,]+ rows · [0-9,]+ rows/s"), timeout=20_000)
    fits(page, dashboard, "11-overview-running")  # the actions column with a run in flight
    expect(
        page.locator('tbody[data-table="Album"] .tracked [data-role="run-status"]')
    ).to_have_text("success", timeout=RUN_TIMEOUT_MS)

    # The table page: both hops, data age, settings, lake batches, runs over time; reload.
    invoice.locator("a.name").click()
    expect(page).to_have_url(f"{url}/ui/tables/Invoice")
    cards = page.locator("#hop-cards [data-hop]")
    expect(cards).to_have_count(2)
    expect(cards.first.locator('[data-role="data-age"]')).to_contain_text("ago")
    expect(page.locator('[data-role="schema-contract"]')).to_have_text(
        "added=evolve, dropped=freeze, widened=evolve, changed=freeze"
    )
    batches = page.locator("#batches tbody tr")
    expect(batches).to_have_count(1)
    expect(batches.first.locator("td").nth(2)).to_have_text("412")
    expect(page.locator("#table-rows-chart rect[data-series]")).not_to_have_count(0)
    page.select_option("#t-scale", "log")
    expect(page.locator("#table-rows-chart svg")).to_have_attribute("data-scale", "log")
    fits(page, dashboard, "12-table")
    reload = page.get_by_role("button", name="Reload Invoice")
    reload.click()
    expect(reload).to_have_text("Confirm reload")
    reload.click()
    # The reload's full batch; retention then drops the incremental batch it supersedes.
    expect(batches.first.locator(".badge")).to_have_text("reload", timeout=RUN_TIMEOUT_MS)
    expect(batches.first).to_have_attribute("data-batch", "2")
    reloads = [r for r in dashboard.api("/api/runs?table=Invoice")["items"] if r["reload"]]
    assert len(reloads) == 1 and reloads[0]["triggered_by"] == "api"

    page.goto(f"{url}/ui/tables/Customer")
    expect(
        page.locator('#hop-cards [data-hop="source_to_dl"] [data-role="last-error"]')
    ).to_contain_text("cannot connect")

    # Charts per hour and per run hold the same rows as per day; the run and runs pages fit.
    page.goto(f"{url}/ui/charts")
    expect(page.locator("#rows-chart rect[data-series]")).not_to_have_count(0)
    per_day = bar_totals(page, "#rows-chart")
    assert per_day == {"Invoice": 824}  # the first load and the reload
    for per in ("hour", "run"):
        page.select_option("#c-per", per)
        expect(page.locator("#rows-title")).to_have_text(f"Rows loaded per {per}")
        assert bar_totals(page, "#rows-chart") == per_day, per
    page.select_option("#c-scale", "log")
    expect(page.locator("#rows-chart svg")).to_have_attribute("data-scale", "log")
    fits(page, dashboard, "13-charts")
    # A finished run of hop 2 alone (stages 4-6 of the template) shows complete progress.
    chinook("run Invoice --hop dl_to_sink", ok=True)
    hop2 = dashboard.api("/api/runs?table=Invoice&hop=dl_to_sink&limit=1")["items"][0]["id"]
    page.goto(f"{url}/ui/runs")
    segments = page.locator(f'#runs tr[data-run-id="{hop2}"] .seg')
    expect(segments).to_have_count(3)
    assert {s.get_attribute("class") for s in segments.all()} == {"seg s-success"}
    fits(page, dashboard, "14-runs")
    page.goto(f"{url}/ui/runs/{failed_run}")
    expect(page.locator('#run-status [data-role="run-status"]')).to_have_text("failed")
    fits(page, dashboard, "15-run")

    # Config as code: load the document, edit it, see the plan, apply exactly that plan.
    page.goto(f"{url}/ui/config")
    page.get_by_role("button", name="Load current config").click()
    document = page.locator("#doc")
    expect(document).to_have_value(re.compile("source_tablename: Invoice"))
    apply = page.get_by_role("button", name="Apply this plan")
    expect(apply).to_be_disabled()
    edited = (document.input_value() or "").replace(
        "source_tablename: Invoice\n", "source_tablename: Invoice\n  every: 15\n", 1
    )
    document.fill(edited)
    page.get_by_role("button", name="Show plan").click()
    expect(page.locator("#plan-title")).to_have_text("Plan: 0 added, 1 changed, 0 removed")
    expect(page.locator("#plan-steps")).to_contain_text("table Invoice")
    expect(page.locator("#plan-steps")).to_contain_text("every: 60 → 15")
    fits(page, dashboard, "16-config")
    assert dashboard.api("/api/tables/Invoice")["source_to_dl"]["schedule_minutes"] == 60
    apply.click()
    expect(page.locator("#plan-title")).to_have_text("Applied: 0 added, 1 changed, 0 removed")
    assert dashboard.api("/api/tables/Invoice")["source_to_dl"]["schedule_minutes"] == 15
    expect(apply).to_be_disabled()
    assert problems == []
    dashboard.check_responses()


# ---- without a browser: what the server itself promises ----------------------------------------
PAGES = [
    "/ui/login", "/ui/", "/ui/runs", "/ui/runs/1", "/ui/charts", "/ui/tables/Genre", "/ui/config"
]  # fmt: skip


def test_pages_and_assets_come_from_the_package(held_api: Api) -> None:
    mount_dashboard(held_api.app)
    client = held_api.client
    root = client.get("/", follow_redirects=False)
    assert root.status_code == 307 and root.headers["location"] == "/ui/"
    assets: set[str] = set()
    for path in PAGES:
        page = client.get(path)  # no token: the pages are shells, the data needs one
        assert page.status_code == 200, path
        assert page.headers["content-type"].startswith("text/html")
        policy = page.headers["content-security-policy"]
        assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy
        assert page.headers["x-content-type-options"] == "nosniff"
        assert "http://" not in page.text and "https://" not in page.text  # no CDN
        assets |= set(re.findall(r'(?:src|href)="(/ui/static/[^"]+)"', page.text))
    assert len(assets) == len(PAGES) + 2  # a script per page, the stylesheet and the icon
    kinds = {"js": "javascript", "css": "text/css", "svg": "image/svg+xml"}
    # common.js is imported by every page, barchart.js by the charts and table pages.
    for asset in assets | {"/ui/static/common.js", "/ui/static/barchart.js"}:
        served = client.get(asset)
        assert served.status_code == 200, asset
        assert kinds[asset.split("?")[0].rsplit(".", 1)[1]] in served.headers["content-type"]
        assert "https://" not in served.text.replace("http://www.w3.org/2000/svg", "")
    assert client.get("/ui/static/%2e%2e/dashboard.py").status_code == 404
    assert not [p for p in held_api.app.openapi()["paths"] if p.startswith("/ui")]


def test_the_session_endpoint_tells_the_role_never_the_token(held_api: Api) -> None:
    mount_dashboard(held_api.app)
    assert held_api.call("GET", "/ui/session", token="none").status_code == 401
    for token, role, name in (("admin", "admin", "tests"), ("viewer", "viewer", None)):
        answer = held_api.call("GET", "/ui/session", token=token)
        assert answer.status_code == 200
        assert answer.json() == {"role": role, "name": name}
        assert answer.headers["cache-control"] == "no-store"
    assert held_api.admin_token not in "".join(held_api.bodies)
