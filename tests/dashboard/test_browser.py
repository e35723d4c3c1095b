"""The dashboards in a real browser: Debian's Chromium driven by Playwright, the app served by
waitress as `mallcrm dashboard` serves it.

Each page must draw every chart with data and show no error. Choosing a store, a segment
or dates must change the numbers of every chart and card that claims to honour that filter,
and put a "not filtered by" note on every other one. Rates read as percentages and amounts
in CNY. A screenshot per page goes to test-output/browser/ (MALLCRM_TEST_OUTPUT).
Nothing downloads a browser: Playwright launches /usr/bin/chromium (`make browser-deps`).

The tests never sleep: they wait for the app to be ready (the page heading carries the
filters it was drawn with, `data-filters`, and no Dash callback is pending) and for the
dropdown to be enabled before clicking it.
"""

from __future__ import annotations

import os
import re
import threading
from datetime import date
from pathlib import Path

import pytest

from dashboard.pages import PAGES
from dashboard.queries import FILTER_KINDS
from mallcrm.core.settings import PROJECT_ROOT
from tests.dashboard.test_queries import GATED_MODEL_QUERIES

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
# 0: any free port; a shared machine gives each developer a range (MALLCRM_TEST_DASHBOARD_PORT)
PORT = int(os.environ.get("MALLCRM_TEST_DASHBOARD_PORT", "0"))
# plotly's calculated data: one non-empty array per drawn trace, whatever the trace kind
HAS_DATA_JS = "el => Array.isArray(el.calcdata) && el.calcdata.length > 0 && el.calcdata.every(cd => cd.length > 0)"
# the app is idle: the page is drawn and no Dash callback is pending
IDLE_JS = "() => !!document.querySelector('h2[data-filters]') && !document.querySelector('[data-dash-is-loading]')"
# per block of the page: what it reads, its notes, and the numbers it shows (chart data, cards
# with their period and change, table rows)
BLOCKS_JS = """() => [...document.querySelectorAll('#page-content .block')].map(block => ({
    sources: block.dataset.sources,
    notes: [...block.querySelectorAll('.filter-note')].map(n => n.dataset.filter),
    numbers: JSON.stringify([
        ...[...block.querySelectorAll('.js-plotly-plot')].map(p => (p.data || []).map(
            t => [t.x, t.y, t.z, t.values, t.link && t.link.value])),
        ...[...block.querySelectorAll('.kpi-value, .kpi-change, .period, .table-title, td')].map(k => k.innerText),
    ]),
}))"""
WAIT = 60_000  # ms: two shared cores may be busy

pytestmark = pytest.mark.integration
# the small mall exports no audience: /audiences is drawn from filled marts in test_audiences_page.py
MALL_PAGES = [p for p in PAGES if p.path != "/audiences"]


@pytest.fixture(scope="module")
def server(bi_copy):
    from waitress.server import create_server

    from dashboard.app import create_app

    httpd = create_server(create_app(bi_copy).server, host="127.0.0.1", port=PORT, threads=4)
    thread = threading.Thread(target=httpd.run, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.effective_port}"
    httpd.close()


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
        context.set_default_timeout(WAIT)
        yield context
        context.close()


def _ready(page) -> None:
    """Wait until the page is drawn, every chart plotted and no callback pending."""
    page.wait_for_function(IDLE_JS, timeout=WAIT)
    page.wait_for_selector(".kpi-value, .dashboard-error, .empty-note", timeout=WAIT)
    page.wait_for_function(
        "() => [...document.querySelectorAll('.chart')].every(c => c.querySelector('.js-plotly-plot .main-svg'))",
        timeout=WAIT,
    )


def _open(browser, url: str):
    page = browser.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(url)
    _ready(page)
    return page, errors


def _drawn_with(page) -> str:
    return page.get_attribute("h2[data-filters]", "data-filters")


def _choose(page, dropdown: str, text: str) -> None:
    """Pick the option of `dropdown` that starts with `text`, once the dropdown is enabled,
    and wait for the page drawn with it."""
    before = _drawn_with(page)
    control = page.locator(f"#{dropdown}")
    control.wait_for(state="visible")
    page.wait_for_function(f"() => !document.querySelector('#{dropdown}').disabled", timeout=WAIT)
    control.click()
    search = page.locator(".dash-dropdown-search")
    search.wait_for(state="visible")  # the list is open (a click may first close another popup)
    search.fill(text)
    # click the option itself: Enter picks whatever is highlighted while the search is
    # still filtering (it once picked S010)
    page.locator(".dash-dropdown-option", has_text=re.compile(f"^{re.escape(text)}")).first.click()
    page.wait_for_function("b => document.querySelector('h2[data-filters]')?.dataset.filters !== b", arg=before)
    _ready(page)


def _choose_dates(page) -> None:
    """Narrow the dates to the middle half of the data's days (both ends move, so the
    latest month shown and the sums over the period change, and an earlier period exists)."""
    fields = {"start": page.locator("#filter-dates"), "end": page.locator(".dash-datepicker-end-date")}
    first, last = (date.fromisoformat(field.input_value()) for field in fields.values())
    quarter = (last - first) / 4
    for field, day in ((fields["start"], first + quarter), (fields["end"], last - quarter)):
        before = _drawn_with(page)
        field.wait_for(state="visible")
        field.fill(day.isoformat())
        field.press("Enter")
        page.wait_for_function("b => document.querySelector('h2[data-filters]')?.dataset.filters !== b", arg=before)
        page.keyboard.press("Escape")  # close the calendar, which would take the next click
        _ready(page)
    assert _drawn_with(page).startswith(f"{first + quarter}|{last - quarter}|")


FIRST_STORE = "S001"
SEGMENT = "Champions"


@pytest.mark.parametrize("spec", MALL_PAGES, ids=[p.path.strip("/") for p in MALL_PAGES])
def test_page_draws_every_chart_with_data(server, browser, spec):
    page, errors = _open(browser, server + spec.path)
    try:
        assert page.locator(".dashboard-error").count() == 0, page.inner_text(".dashboard-error")
        # a block fed by a gated model says why it is empty (tests/dashboard/test_queries.py)
        gated = sum(page.locator(f'[data-sources="{q}"] .empty-note').count() for q in GATED_MODEL_QUERIES)
        assert page.locator(".empty-note").count() == gated, page.inner_text(".empty-note")
        plots = page.locator(".js-plotly-plot")
        assert plots.count() == page.locator(".chart").count() > 0
        for index in range(plots.count()):
            assert plots.nth(index).evaluate(HAS_DATA_JS), f"{spec.path}: chart {index + 1} has no data"
        assert all(text.strip() not in ("", "—") for text in page.locator(".kpi-value").all_inner_texts())
        assert page.locator(".filter-note").count() == 0  # nothing chosen, nothing to note
        assert "management_bi" in page.inner_text("#data-source") or "mallcrm_bi" in page.inner_text("#data-source")
        assert not errors, errors
        OUTPUT.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(OUTPUT / f"{spec.path.strip('/')}.png"), full_page=True)
    finally:
        page.close()


def _honours(wh, sources: str, kind: str) -> bool:
    """Whether every query file and metric view of a block declares the filter."""
    readers = [
        wh.metric_source(name.removeprefix("metrics.")) if name.startswith("metrics.") else wh.queries[name]
        for name in sources.split()
    ]
    return all(kind in reader.filters for reader in readers)


@pytest.mark.parametrize("kind", FILTER_KINDS)
@pytest.mark.parametrize("spec", MALL_PAGES, ids=[p.path.strip("/") for p in MALL_PAGES])
def test_a_filter_changes_what_honours_it_and_labels_the_rest(bi_copy, server, browser, spec, kind):
    """Every block either honours the chosen filter (its numbers change) or shows a note."""
    from dashboard.queries import Warehouse

    wh = Warehouse(bi_copy)
    page, errors = _open(browser, server + spec.path)
    try:
        before = page.evaluate(BLOCKS_JS)
        if kind == "store":
            _choose(page, "filter-store", FIRST_STORE)
        elif kind == "segment":
            _choose(page, "filter-segment", SEGMENT)
        else:
            _choose_dates(page)
        after = page.evaluate(BLOCKS_JS)
        assert after and [b["sources"] for b in after] == [b["sources"] for b in before], spec.path
        for index, block in enumerate(after):
            sources = block["sources"]
            if kind in block["notes"]:
                assert not _honours(wh, sources, kind), f"{spec.path}: {sources} honour {kind} but say they do not"
                note = page.locator("#page-content .block").nth(index).locator(f'.filter-note[data-filter="{kind}"]')
                assert note.is_visible() and note.inner_text().startswith("not filtered by")
            else:
                assert _honours(wh, sources, kind), f"{spec.path}: {sources} ignore {kind} without a note"
                assert block["numbers"] != before[index]["numbers"], f"{spec.path}: {sources} did not change"
        assert not errors, errors
    finally:
        page.close()


def test_choosing_a_store_changes_the_traffic_numbers(server, browser):
    page, errors = _open(browser, server + "/traffic")
    try:
        before = page.inner_text("#kpi-visitors")
        _choose(page, "filter-store", FIRST_STORE)
        after = page.inner_text("#kpi-visitors")
        assert int(after.replace(",", "")) < int(before.replace(",", ""))
        assert FIRST_STORE in page.inner_text("#filter-store")
        # mall visitors are counted at the entrances: the card says it ignores the store
        assert page.locator('.block[data-sources~="metrics.visitors"] .filter-note[data-filter="store"]').is_visible()
        assert not errors, errors
    finally:
        page.close()


def test_rates_read_as_percentages_and_amounts_in_cny(server, browser):
    """Cards, chart axes and table cells format a rate the same way, amounts in yuan."""
    page, _ = _open(browser, server + "/campaigns")
    try:
        assert re.fullmatch(r"-?\d[\d,]*\.\d%", page.inner_text("#kpi-roi"))
        assert re.fullmatch(r"¥-?[\d,]+", page.inner_text("#kpi-incremental-revenue"))
        ticks = page.locator("#graph-campaign-roi .ytick text").all_text_contents()
        assert ticks and all(t.endswith("%") for t in ticks), ticks
        assert "ROI 投资回报率" in page.locator("#graph-campaign-roi .g-ytitle").text_content()
        header = page.locator("#table-campaign_roi th").all_inner_texts()
        assert any("ROI 投资回报率" in h for h in header) and not any("incremental_revenue_amount" in h for h in header)
        cells = page.locator("#table-campaign_roi td").all_inner_texts()
        assert any(re.fullmatch(r"¥-?[\d,]+\.\d\d", c) for c in cells), cells[:20]
        assert any(re.fullmatch(r"-?\d+\.\d%", c) for c in cells), cells[:20]
    finally:
        page.close()
    page, _ = _open(browser, server + "/lifecycle")
    try:
        assert re.fullmatch(r"\d+\.\d%", page.inner_text("#kpi-new-conversion"))
        ticks = page.locator("#graph-lifecycle-rates .ytick text").all_text_contents()
        assert ticks and all(t.endswith("%") for t in ticks), ticks
    finally:
        page.close()


def test_narrower_dates_compare_the_cards_with_the_previous_period(server, browser):
    page, _ = _open(browser, server + "/nps")
    try:
        assert page.locator(".kpi-change").count() == 0  # all days chosen: nothing earlier
        _choose_dates(page)
        changes = page.locator("#kpi-nps-change, #kpi-breach-rate-change").all_inner_texts()
        assert len(changes) == 2 and all(c.startswith("vs previous") for c in changes)
        assert "compared with" in page.locator(".period").first.inner_text()
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
