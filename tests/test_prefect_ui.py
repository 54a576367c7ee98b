"""Ops' view of Prefect, in a real browser: headless Chromium (Debian's package, driven by
Playwright) opens the local Prefect UI, finds the hourly ingestion deployment and its schedule,
starts a run from the UI, and the run completes with articles in Elasticsearch.

The deployment's working directory is a throwaway project whose sources.yaml lists a loopback
news site, so the run never touches the public sources. Screenshots go to the test's tmp_path;
with CEASEFIRE_SAVE_SCREENSHOTS=1 the good ones also replace those in docs/screenshots/."""

from __future__ import annotations

import json
import os
import re
import shutil
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import datetime
from pathlib import Path

import pytest
from playwright.sync_api import Locator, Route, expect, sync_playwright
from playwright.sync_api import Page as BrowserPage

from testkit.news_site import NewsSite, Page
from testkit.syndication import load_stories
from tests.prefect_server import ROOT, deploy_all, prefect_server, start_worker, stop

CHROMIUM = os.environ.get("CEASEFIRE_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage"]
PACKAGES = ("flows", "tasks", "ceasefire", "index_mappings", "enrich_data")
SCREENSHOTS = ROOT / "docs" / "screenshots"
HOURLY_QUEUE = "default"  # the hourly deployment names no queue in deploy/prefect.yaml
UI_TIMEOUT_MS = 60_000  # a cold UI takes 10-30 s on a 2-core machine
RUN_TIMEOUT_S = 300
STORIES = 3


def chromium() -> str:
    """The Chromium binary, or a test failure that says how to get one."""
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"no Chromium at {CHROMIUM}: install Debian's package "
                    "(apt-get install --no-install-recommends chromium) or set CEASEFIRE_CHROMIUM "
                    "to a Chromium binary; `playwright install` is not used", pytrace=False)
    return CHROMIUM


def loopback_project(root: Path, site: NewsSite) -> Path:
    """A project directory: the repository's packages (symlinked) and a sources.yaml that
    lists only the loopback site."""
    root.mkdir()
    for name in PACKAGES:
        (root / name).symlink_to(ROOT / name, target_is_directory=True)
    (root / "sources.yaml").write_text(
        "version: 1\nsources:\n"
        f"  - {{name: loopback, kind: feed, url: '{site.feed_url}', outlet: {site.name}, "
        "min_interval: 0.05}\n")
    return root


def flow_run_state(env: dict[str, str], run_id: str) -> str:
    """The state type of a flow run, from the Prefect API (COMPLETED, FAILED, ...)."""
    with urllib.request.urlopen(f"{env['PREFECT_API_URL']}/flow_runs/{run_id}", timeout=10) as r:
        return json.load(r)["state"]["type"]


def wait_for_run(env: dict[str, str], run_id: str, worker_log: Path) -> None:
    """Poll until the run is Completed; fail at once, with the worker's log, if it ends otherwise."""
    deadline = time.monotonic() + RUN_TIMEOUT_S
    while (state := flow_run_state(env, run_id)) != "COMPLETED":
        if state in {"FAILED", "CRASHED", "CANCELLED"} or time.monotonic() > deadline:
            raise AssertionError(f"flow run {run_id} is {state}; worker log:\n"
                                 + worker_log.read_text()[-4000:])
        time.sleep(2)


@contextmanager
def evidence_on_failure(page: BrowserPage, out: Path) -> Iterator[None]:
    """On any failure, save what the browser showed and name the files in the error."""
    try:
        yield
    except Exception as exc:
        shot, html = out / "failure.png", out / "failure.html"
        with suppress(Exception):
            page.screenshot(path=shot, full_page=True)
        with suppress(Exception):
            html.write_text(page.content())
        raise AssertionError(f"{exc}\nbrowser was at {page.url}\nscreenshot: {shot}\nHTML: {html}"
                             f"\nbrowser console: {out / 'browser-console.log'}") from exc


def keep_loopback_only(page: BrowserPage) -> None:
    """Abort every request that leaves the machine (the V2 UI asks amplitude.com for config)."""
    def route(r: Route) -> None:
        if urllib.parse.urlsplit(r.request.url).hostname == "127.0.0.1":
            r.continue_()
        else:
            r.abort()
    page.route("**/*", route)


def expect_after_reloads(page: BrowserPage, locator: Locator, tries: int = 6) -> None:
    """Wait for `locator`, reloading between tries: some panels do not poll the API."""
    for _ in range(tries - 1):
        with suppress(AssertionError):
            expect(locator).to_be_visible(timeout=10_000)
            return
        page.reload()
    expect(locator).to_be_visible(timeout=UI_TIMEOUT_MS)


def screenshot_when_settled(page: BrowserPage, path: Path) -> None:
    """Screenshot once loading placeholders are gone and two shots in a row agree (the run
    graph is drawn on a canvas a few seconds after the page has loaded)."""
    expect(page.locator("[data-slot=skeleton]")).to_have_count(0, timeout=UI_TIMEOUT_MS)
    shot = page.screenshot()
    for _ in range(20):
        time.sleep(1)
        shot, previous = page.screenshot(), shot
        if shot == previous:
            break
    path.write_bytes(shot)


def open_hourly_deployment(page: BrowserPage, ui_url: str) -> None:
    """From the UI's home page (the server sends / to its default, the V2 UI): Deployments, the
    `hourly` row of flow ingest-sources, open it; the worker shows it Ready."""
    page.goto(ui_url + "/")
    page.get_by_role("link", name="Deployments", exact=True).click()
    row = page.get_by_role("row").filter(has_text="ingest-sources")
    expect(row).to_have_count(1, timeout=UI_TIMEOUT_MS)
    expect(row).to_contain_text("Every hour")
    expect(row).to_contain_text("Paused")  # tests pause every schedule
    row.get_by_role("link", name="hourly", exact=True).click()
    header = page.locator("header, main").first
    expect(header.get_by_role("link", name="ingest-sources")).to_be_visible(timeout=UI_TIMEOUT_MS)
    expect(page.get_by_text("ceasefire-local", exact=True)).to_be_visible()
    expect(page.get_by_text(HOURLY_QUEUE, exact=True)).to_be_visible()
    expect_after_reloads(page, page.get_by_text("Ready", exact=True))  # the worker polls its queue


def check_schedule(page: BrowserPage, out: Path) -> None:
    """The Schedules card says "Every hour" (paused); its editor holds the cron and UTC."""
    toggle = page.get_by_role("switch", name="toggle Every hour")
    expect(toggle).to_be_visible(timeout=UI_TIMEOUT_MS)
    expect(toggle).not_to_be_checked()
    screenshot_when_settled(page, out / "ui-deployment-hourly.png")
    card = page.locator("[data-slot=card]").filter(has=toggle)
    card.get_by_role("button", name="Open menu").click()
    page.get_by_role("menuitem", name="Edit").click()
    dialog = page.get_by_role("dialog", name="Edit Schedule")
    expect(dialog.locator("input[name='schedule.cron']")).to_have_value("0 * * * *")
    expect(dialog.get_by_text("Timezone")).to_be_visible()
    expect(dialog.get_by_text("UTC", exact=True)).to_be_visible()
    page.screenshot(path=out / "ui-schedule-editor.png")
    page.keyboard.press("Escape")  # close without saving
    expect(dialog).to_have_count(0)


def flow_run_count(env: dict[str, str]) -> int:
    """Flow runs the API holds (the test server's only deployment has its schedule paused)."""
    request = urllib.request.Request(f"{env['PREFECT_API_URL']}/flow_runs/count", data=b"{}",
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as r:
        return int(json.load(r))


def quick_run(page: BrowserPage, env: dict[str, str], attempts: int = 3) -> str:
    """Run -> Quick run; follow the toast's "View run" link; return the flow run id. A busy
    server may answer the UI's request 503 (SQLite busy), which the UI does not retry: the
    click is repeated only while the API holds no flow run, so a run is never made twice."""
    view = page.get_by_role("link", name="View run")
    for attempt in range(1, attempts + 1):
        page.get_by_role("button", name="Run", exact=True).click()
        page.get_by_role("menuitem", name="Quick run").click()
        try:
            expect(view).to_be_visible(timeout=UI_TIMEOUT_MS // 2)
            break
        except AssertionError:
            if attempt == attempts or flow_run_count(env):
                raise
            page.keyboard.press("Escape")
    run_id = re.search(r"flow-run/([0-9a-f-]{36})", view.get_attribute("href") or "")
    assert run_id, f"no flow run id in {view.get_attribute('href')!r}"
    view.click()
    return run_id.group(1)


def check_run_page(page: BrowserPage, out: Path) -> Path:
    """The flow run page shows Completed and the run's logs (reloaded: logs are not polled)."""
    page.reload()
    expect(page.get_by_text("Completed", exact=True).first).to_be_visible(timeout=UI_TIMEOUT_MS)
    expect_after_reloads(page, page.get_by_text("Finished in state Completed").first)
    shot = out / "ui-flow-run-completed.png"
    screenshot_when_settled(page, shot)
    return shot


@pytest.fixture
def news_site() -> Iterator[NewsSite]:
    pages = [Page(s["id"], s["title"], s["body"], datetime.fromisoformat(s["published_at"]))
             for s in load_stories()[:STORIES]]
    site = NewsSite("Loopback News", pages).start()
    yield site
    site.close()


def test_ops_start_the_hourly_ingestion_from_the_prefect_ui(es, settings, news_site, tmp_path,
                                                             monkeypatch):
    executable = chromium()
    monkeypatch.setenv("CEASEFIRE_FETCH_ALLOW_NETWORKS", "127.0.0.0/8")
    monkeypatch.setenv("PREFECT_WORKER_QUERY_SECONDS", "2")
    project = loopback_project(tmp_path / "project", news_site)
    worker_log = tmp_path / "worker.log"
    with prefect_server(tmp_path, project_dir=project) as env, sync_playwright() as pw:
        deploy_all(env)
        worker = start_worker(env, worker_log, HOURLY_QUEUE)
        browser = pw.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 800}, timezone_id="UTC",
                                locale="en-US")
        page.set_default_timeout(UI_TIMEOUT_MS)
        keep_loopback_only(page)
        console: list[str] = []
        page.on("console", lambda m: console.append(f"{m.type}: {m.text}"))
        try:
            with evidence_on_failure(page, tmp_path):
                open_hourly_deployment(page, env["PREFECT_UI_URL"])
                check_schedule(page, tmp_path)
                run_id = quick_run(page, env)
                wait_for_run(env, run_id, worker_log)
                final = check_run_page(page, tmp_path)
        finally:
            (tmp_path / "browser-console.log").write_text("\n".join(console))
            browser.close()
            stop(worker)

    es.indices.refresh(index=settings.read_alias)
    hits = es.search(index=settings.read_alias, size=10)["hits"]["hits"]
    assert sorted(h["_source"]["url"] for h in hits) == sorted(news_site.page_url(p) for p in news_site.pages)
    if os.environ.get("CEASEFIRE_SAVE_SCREENSHOTS") == "1":
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        for shot in (tmp_path / "ui-deployment-hourly.png", final):
            shutil.copy(shot, SCREENSHOTS / shot.name)
