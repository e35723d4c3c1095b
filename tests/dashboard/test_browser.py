"""The dashboards in a real browser: Debian's Chromium driven by Playwright.

Each page must draw every chart with data and show no error; changing a filter must change
the numbers. A screenshot per page goes to test-output/browser/ (MALLCRM_TEST_OUTPUT).
Nothing downloads a browser: Playwright launches /usr/bin/chromium (`make browser-deps`).
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from dashboard.pages import PAGES
from mallcrm.core.settings import PROJECT_ROOT

CHROMIUM = Path(os.environ.get("MALLCRM_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
OUTPUT = Path(os.environ.get("MALLCRM_TEST_OUTPUT", PROJECT_ROOT / "test-output")) / "browser"
# plotly's calculated data: one non-empty array per drawn trace, whatever the trace kind
HAS_DATA_JS = "el => Array.isArray(el.calcdata) && el.calcdata.length > 0 && el.calcdata.every(cd => cd.length > 0)"

pytestmark = pytest.mark.integration
# the small mall exports no audience: /audiences is drawn from filled marts in test_audiences_page.py
MALL_PAGES = [p for p in PAGES if p.path != "/audiences"]


@pytest.fixture(scope="module")
def server(bi_copy):
    from werkzeug.serving import make_server

    from dashboard.app import create_app

    httpd = make_server("127.0.0.1", 0, create_app(bi_copy).server, threaded=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_port}"
    httpd.shutdown()


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: run `make browser-deps` (installs Debian's chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium-profile")),
            executable_path=str(CHROMIUM),
            args=CHROMIUM_ARGS,
            headless=True,
            viewport={"width": 1280, "height": 900},
        )
        yield context
        context.close()


def _open(browser, url: str):
    page = browser.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(url)
    page.wait_for_selector(".kpi-value, .dashboard-error, .empty-note", timeout=60_000)
    return page, errors


@pytest.mark.parametrize("spec", MALL_PAGES, ids=[p.path.strip("/") for p in MALL_PAGES])
def test_page_draws_every_chart_with_data(server, browser, spec):
    page, errors = _open(browser, server + spec.path)
    try:
        assert page.locator(".dashboard-error").count() == 0, page.inner_text(".dashboard-error")
        assert page.locator(".empty-note").count() == 0, page.inner_text(".empty-note")
        graphs = page.locator(".chart")
        page.wait_for_function(
            "n => document.querySelectorAll('.js-plotly-plot .main-svg').length >= n", arg=graphs.count()
        )
        plots = page.locator(".js-plotly-plot")
        assert plots.count() == graphs.count() > 0
        for index in range(plots.count()):
            assert plots.nth(index).evaluate(HAS_DATA_JS), f"{spec.path}: chart {index + 1} has no data"
        assert all(text.strip() not in ("", "—") for text in page.locator(".kpi-value").all_inner_texts())
        assert not errors, errors
        OUTPUT.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(OUTPUT / f"{spec.path.strip('/')}.png"), full_page=True)
    finally:
        page.close()


def test_choosing_a_store_changes_the_traffic_numbers(server, browser):
    page, errors = _open(browser, server + "/traffic")
    try:
        before = page.inner_text("#kpi-visitors")
        page.click("#filter-store")
        page.keyboard.type("S001")
        # click the option itself: Enter picks whatever is highlighted while the search
        # is still filtering (it once picked S010)
        page.locator(".dash-dropdown-option", has_text="S001").first.click()
        page.wait_for_function(
            "b => { const el = document.querySelector('#kpi-visitors');"
            " return el && el.innerText.length > 0 && el.innerText !== b; }",
            arg=before,
        )
        after = page.inner_text("#kpi-visitors")
        assert int(after.replace(",", "")) < int(before.replace(",", ""))
        assert "S001" in page.inner_text("#filter-store")
        assert not errors, errors
    finally:
        page.close()


def test_a_table_downloads_as_csv(server, browser):
    page, _ = _open(browser, server + "/campaigns")
    try:
        with page.expect_download() as download_info:
            page.get_by_role("button", name="Download CSV").first.click()
        download = download_info.value
        assert download.suggested_filename == "campaign_roi.csv"
        header = Path(download.path()).read_text(encoding="utf-8").splitlines()[0]
        assert header.startswith("campaign_id,campaign_name,campaign_channel,arm")
    finally:
        page.close()
