"""The Audiences page (营销人群) over the activation marts: audience sizes per run, overlaps,
consent coverage per channel, members excluded per gate and the measured uplift with its
95% interval. The small test mall exports no audience, so there the marts are empty and
the page says so; the filled page is drawn from hand-made marts (a small DuckDB file, and
in the browser a copy of the BI copy with the three marts filled)."""

from __future__ import annotations

import shutil
import threading
from datetime import date

import duckdb
import pandas as pd
import pytest

from dashboard.pages import AUDIENCE_GATES, NO_AUDIENCE, PAGES, audiences
from dashboard.queries import Filters, Warehouse
from tests.dashboard import test_browser
from tests.dashboard.test_browser import HAS_DATA_JS, OUTPUT, _open
from tests.dashboard.tree import graphs as _graphs
from tests.dashboard.tree import kpis as _kpis
from tests.dashboard.tree import walk

ACTIVATION_QUERIES = ("audience_runs", "audience_overlaps", "channel_consent_coverage")
RUN_COLUMNS = [
    "run_id", "audience", "audience_label", "channel", "purpose", "run_date", "campaign_id", "status",
    "holdout_share", "candidate_count", "eligible_count", "treatment_count", "control_count",
    "excluded_consent_count", "excluded_minor_count", "excluded_erased_count", "excluded_open_complaint_count",
    "excluded_frequency_cap_count", "check_violation_count", "is_measured", "campaign_start_date",
    "campaign_end_date", "treatment_conversion_rate", "control_conversion_rate", "conversion_uplift",
    "conversion_uplift_ci_low", "conversion_uplift_ci_high", "conversion_p_value", "is_conversion_significant",
    "incremental_revenue_amount", "has_sample_ratio_mismatch",
]  # fmt: skip
OVERLAP_COLUMNS = [
    "run_date", "audience", "other_audience", "shared_member_count", "audience_member_count",
    "other_audience_member_count", "jaccard_index",
]  # fmt: skip
COVERAGE_COLUMNS = [
    "run_date", "channel", "consent_scopes", "active_adult_member_count", "consenting_member_count",
    "consent_coverage_rate",
]  # fmt: skip
EXPECTED_COLUMNS = {
    "audience_runs": RUN_COLUMNS,
    "audience_overlaps": OVERLAP_COLUMNS,
    "channel_consent_coverage": COVERAGE_COLUMNS,
}

# the marts as dbt builds them (dbt_project/models/marts/activation/)
RUNS_DDL = """create table marts.mart_audience_runs (
    run_id varchar, audience varchar, audience_label varchar, channel varchar, purpose varchar, run_date date,
    campaign_id varchar, definition_version varchar, status varchar, holdout_share double, candidate_count integer,
    eligible_count integer, treatment_count integer, control_count integer, excluded_consent_count integer,
    excluded_minor_count integer, excluded_erased_count integer, excluded_open_complaint_count integer,
    excluded_frequency_cap_count integer, check_violation_count integer, is_measured boolean,
    campaign_start_date date, campaign_end_date date, treatment_conversion_rate double,
    control_conversion_rate double, conversion_uplift double, conversion_uplift_ci_low double,
    conversion_uplift_ci_high double, conversion_p_value double, is_conversion_significant boolean,
    incremental_revenue_amount double, has_sample_ratio_mismatch boolean)"""
OVERLAPS_DDL = """create table marts.mart_audience_overlaps (
    run_date date, audience varchar, other_audience varchar, shared_member_count integer,
    audience_member_count integer, other_audience_member_count integer, jaccard_index double)"""
COVERAGE_DDL = """create table marts.mart_channel_consent_coverage (
    run_date date, channel varchar, consent_scopes varchar, active_adult_member_count integer,
    consenting_member_count integer, consent_coverage_rate double)"""

D1, D2 = date(2026, 10, 3), date(2026, 10, 10)


def _run(audience, run_date, treatment, control, excluded, uplift=None, significant=None, channel="sms"):
    """A mart_audience_runs row; `excluded` per gate (consent, minor, erased, complaint, cap)."""
    measured = uplift is not None
    low, high = (uplift - 0.1, uplift + 0.1) if measured else (None, None)
    return (
        f"{audience}@{run_date}", audience, f"{audience} 中文", channel, "marketing", run_date,
        f"ACT-{run_date:%Y%m%d}-{audience}", "abc123", "exported", 0.2, treatment + control + sum(excluded),
        treatment + control, treatment, control, *excluded, 0, measured,
        date(2026, 10, 11) if measured else None, date(2026, 10, 24) if measured else None,
        0.3 if measured else None, None if not measured else 0.3 - uplift, uplift, low, high,
        (0.01 if significant else 0.4) if measured else None, significant, 1000.0 if measured else None,
        False if measured else None,
    )  # fmt: skip


RUNS = [
    _run("winback_high_value", D1, 40, 10, (5, 1, 0, 2, 0), uplift=0.15, significant=True),
    _run("dormant_reactivation", D1, 80, 20, (10, 0, 1, 0, 3), uplift=0.02, significant=False, channel="app_push"),
    _run("winback_high_value", D2, 44, 11, (6, 0, 0, 1, 4)),  # exported, not measured yet
    _run("dormant_reactivation", D2, 84, 21, (9, 2, 0, 0, 7), uplift=0.05, significant=False, channel="app_push"),
    _run("birthday_this_month", D2, 30, 8, (20, 0, 0, 0, 1), channel="wechat"),
]
OVERLAPS = [
    (D1, "dormant_reactivation", "winback_high_value", 12, 100, 50, 12 / 138),
    (D2, "dormant_reactivation", "winback_high_value", 15, 105, 55, 15 / 145),
    (D2, "birthday_this_month", "dormant_reactivation", 4, 38, 105, 4 / 139),
]
COVERAGE = [
    (D1, "sms", "marketing_sms", 1000, 550, 0.55),
    (D2, "sms", "marketing_sms", 1000, 560, 0.56),
    (D2, "app_push", "marketing_sms,marketing_wechat", 1000, 870, 0.87),
    (D2, "wechat", "marketing_wechat", 1000, 580, 0.58),
]


def _fill(con, runs=RUNS, overlaps=OVERLAPS, coverage=COVERAGE):
    for table, rows in (
        ("mart_audience_runs", runs),
        ("mart_audience_overlaps", overlaps),
        ("mart_channel_consent_coverage", coverage),
    ):
        con.execute(f"delete from marts.{table}")
        if rows:
            con.executemany(f"insert into marts.{table} values ({', '.join(['?'] * len(rows[0]))})", list(rows))


def _warehouse(path, runs=RUNS, overlaps=OVERLAPS, coverage=COVERAGE) -> Warehouse:
    con = duckdb.connect(str(path))
    try:
        con.execute("create schema marts")
        for ddl in (RUNS_DDL, OVERLAPS_DDL, COVERAGE_DDL):
            con.execute(ddl)
        _fill(con, runs, overlaps, coverage)
    finally:
        con.close()
    return Warehouse(path)


def _table(components):
    return next(c for c in walk(components) if getattr(c, "id", None) == "table-audience_runs")


@pytest.mark.parametrize("name", ACTIVATION_QUERIES)
def test_the_queries_return_their_columns(tmp_path, name):
    frame = _warehouse(tmp_path / "bi.duckdb").run(name)
    assert list(frame.columns) == EXPECTED_COLUMNS[name] and len(frame) > 0


def test_the_page_draws_sizes_overlaps_consent_exclusions_and_uplift(tmp_path):
    components = audiences(_warehouse(tmp_path / "bi.duckdb"), Filters())
    assert list(_graphs(components)) == [
        "graph-audience-sizes",
        "graph-audience-overlaps",
        "graph-consent-coverage",
        "graph-audience-exclusions",
        "graph-audience-uplift",
    ]
    assert getattr(components[-1], "data-sources") == "audience_runs"  # the runs table last
    assert _kpis(components) == {
        "kpi-audience-runs": "5",
        "kpi-contacted": f"{40 + 80 + 44 + 84 + 30:,}",
        "kpi-held-out": f"{10 + 20 + 11 + 21 + 8:,}",
        "kpi-excluded": f"{8 + 14 + 11 + 18 + 21:,}",
        "kpi-significant": "1 / 3 measured",
    }
    graphs = _graphs(components)

    # audience size = treatment + control, per run date and audience
    sizes = {trace.name: dict(zip(trace.x, trace.y, strict=True)) for trace in graphs["graph-audience-sizes"].data}
    assert sizes["winback_high_value"] == {"2026-10-03": 50, "2026-10-10": 55}
    assert sizes["birthday_this_month"] == {"2026-10-10": 38}

    # overlaps of the latest run date only, symmetric, shared members as text
    heat = graphs["graph-audience-overlaps"].data[0]
    assert list(heat.x) == list(heat.y) == ["birthday_this_month", "dormant_reactivation", "winback_high_value"]
    assert heat.z[1][2] == heat.z[2][1] == pytest.approx(15 / 145) and heat.z[0][2] is None
    assert heat.text[0][1] == heat.text[1][0] == "4"
    assert "2026-10-10" in graphs["graph-audience-overlaps"].layout.title.text

    # consent coverage of the latest run date, per channel
    consent = graphs["graph-consent-coverage"].data[0]
    assert dict(zip(consent.x, consent.y, strict=True)) == {"wechat": 0.58, "sms": 0.56, "app_push": 0.87}

    # excluded per gate, stacked per audience, over both run dates; the cap is "members capped"
    gates = {trace.name: dict(zip(trace.x, trace.y, strict=True)) for trace in graphs["graph-audience-exclusions"].data}
    assert list(gates) == list(AUDIENCE_GATES.values())
    assert gates["members capped 频次上限"] == {
        "birthday_this_month": 1,
        "dormant_reactivation": 10,
        "winback_high_value": 4,
    }
    assert gates["no consent 未同意"]["winback_high_value"] == 11
    assert graphs["graph-audience-exclusions"].layout.barmode == "stack"

    # uplift of the measured runs only, with their 95% intervals; the significant one marked
    uplift = {trace.name: trace for trace in graphs["graph-audience-uplift"].data}
    assert set(uplift) == {"p < 0.05", "n.s."}
    significant = uplift["p < 0.05"]
    assert list(significant.y) == [pytest.approx(0.15)] and list(significant.x) == ["winback_high_value 2026-10-03"]
    assert list(significant.error_y.array) == [pytest.approx(0.1)]
    assert list(significant.error_y.arrayminus) == [pytest.approx(0.1)]
    # dormant_reactivation was measured twice: every run is labelled with its date
    assert list(uplift["n.s."].x) == ["dormant_reactivation 2026-10-03", "dormant_reactivation 2026-10-10"]
    assert list(uplift["n.s."].y) == [pytest.approx(0.02), pytest.approx(0.05)]

    table = _table(components)
    assert len(table.data) == 5
    assert [c["id"] for c in table.columns] == RUN_COLUMNS


def test_the_date_filter_applies_to_the_run_date(tmp_path):
    wh = _warehouse(tmp_path / "bi.duckdb")
    components = audiences(wh, Filters(start=date(2026, 10, 5), end=date(2026, 10, 31)))
    assert _kpis(components)["kpi-audience-runs"] == "3"
    assert _kpis(components)["kpi-significant"] == "0 / 1 measured"
    assert list(_graphs(components)["graph-audience-uplift"].data[0].x) == ["dormant_reactivation"]
    for name in ACTIVATION_QUERIES:
        assert set(wh.run(name, Filters(start=date(2026, 10, 5))).run_date) == {pd.Timestamp(D2)}
    # the store and segment filters do not apply to audiences
    assert len(wh.run("audience_runs", Filters(store="S001", segment="champions"))) == len(RUNS)
    components = audiences(wh, Filters(start=date(2026, 1, 1), end=date(2026, 1, 31)))
    assert len(components) == 1 and "No audience runs in the selected dates" in components[0].children


def test_without_overlaps_or_measurements_the_page_says_so(tmp_path):
    unmeasured = [run for run in RUNS if not run[RUN_COLUMNS.index("is_measured") + 1]]  # + definition_version
    components = audiences(_warehouse(tmp_path / "bi.duckdb", runs=unmeasured, overlaps=()), Filters())
    graphs = _graphs(components)
    assert "graph-audience-overlaps" not in graphs and "graph-audience-uplift" not in graphs
    assert "No two audiences shared a member on 2026-10-10" in repr(components)
    assert "No activation measured yet" in repr(components)
    assert _kpis(components)["kpi-significant"] == "0 / 0 measured"


def test_no_audience_exported_yet_says_so(tmp_path):
    components = audiences(_warehouse(tmp_path / "bi.duckdb", runs=(), overlaps=(), coverage=()), Filters())
    assert len(components) == 1 and components[0].children == NO_AUDIENCE
    assert components[0].className == "empty-note"


def test_the_page_comes_after_campaign_roi_and_declares_its_queries():
    paths = [p.path for p in PAGES]
    assert paths.index("/audiences") == paths.index("/campaigns") + 1
    (page,) = [p for p in PAGES if p.path == "/audiences"]
    assert (page.title, page.title_zh) == ("Audiences", "营销人群")
    assert page.queries == ACTIVATION_QUERIES and page.render is audiences


# on the small mall's published files: the marts exist, empty (no audience exported)


@pytest.mark.integration
@pytest.mark.parametrize("name", ACTIVATION_QUERIES)
def test_the_queries_run_on_the_published_files(bi_copy, management_bi_file, name):
    for path in (bi_copy, management_bi_file):
        assert list(Warehouse(path).run(name).columns) == EXPECTED_COLUMNS[name], path


@pytest.mark.integration
def test_on_the_small_mall_the_page_says_no_audience_was_exported(bi_copy, management_bi_file):
    for path in (bi_copy, management_bi_file):
        wh = Warehouse(path)
        if not wh.run("audience_runs").empty:
            pytest.fail(f"{path}: the small mall now exports audiences; test the filled page on it")
        components = audiences(wh, Filters())
        assert len(components) == 1 and components[0].children == NO_AUDIENCE


# in the browser

browser = test_browser.browser  # the headless Chromium fixture of the browser tests, for this module


@pytest.fixture(scope="module")
def filled_copy(bi_copy, tmp_path_factory):
    """A copy of the small mall's BI copy with the three activation marts filled, the runs
    moved to the mall's last week (the date picker opens on the mall's business dates)."""
    copy = tmp_path_factory.mktemp("audiences") / "mallcrm_bi.duckdb"
    shutil.copy2(bi_copy, copy)
    con = duckdb.connect(str(copy))
    try:
        _fill(con)
        (last,) = con.execute("select max(business_date) from marts.fct_transactions").fetchone()
        for table in ("mart_audience_runs", "mart_audience_overlaps", "mart_channel_consent_coverage"):
            con.execute(f"update marts.{table} set run_date = run_date - ?", [(D2 - last).days])
    finally:
        con.close()
    return copy


def _serve(path):
    from werkzeug.serving import make_server

    from dashboard.app import create_app

    httpd = make_server("127.0.0.1", 0, create_app(path).server, threaded=True)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd, f"http://127.0.0.1:{httpd.server_port}"


@pytest.fixture(scope="module")
def servers(bi_copy, filled_copy):
    """{'empty': url over the small mall's BI copy, 'filled': url over the filled copy}."""
    httpds = {name: _serve(path) for name, path in (("empty", bi_copy), ("filled", filled_copy))}
    yield {name: url for name, (_, url) in httpds.items()}
    for httpd, _ in httpds.values():
        httpd.shutdown()


@pytest.mark.integration
def test_the_page_draws_every_chart_with_data_in_the_browser(servers, browser):
    page, errors = _open(browser, servers["filled"] + "/audiences")
    try:
        assert page.locator(".dashboard-error").count() == 0, page.inner_text(".dashboard-error")
        assert page.locator(".empty-note").count() == 0, page.inner_text(".empty-note")
        graphs = page.locator(".chart")
        assert graphs.count() == 5
        page.wait_for_function(
            "n => document.querySelectorAll('.js-plotly-plot .main-svg').length >= n", arg=graphs.count()
        )
        plots = page.locator(".js-plotly-plot")
        assert plots.count() == graphs.count()
        for index in range(plots.count()):
            assert plots.nth(index).evaluate(HAS_DATA_JS), f"/audiences: chart {index + 1} has no data"
        assert page.inner_text("#kpi-audience-runs") == "5"
        assert page.inner_text("#kpi-significant") == "1 / 3 measured"
        assert "Audiences 营销人群" in page.inner_text("#nav")
        assert not errors, errors
        OUTPUT.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(OUTPUT / "audiences.png"), full_page=True)
        with page.expect_download() as download_info:
            page.get_by_role("button", name="Download CSV").first.click()
        download = download_info.value
        assert download.suggested_filename == "audience_runs.csv"
        with open(download.path(), encoding="utf-8") as csv:
            assert csv.readline().strip() == ",".join(RUN_COLUMNS)
    finally:
        page.close()


@pytest.mark.integration
def test_the_empty_page_explains_itself_in_the_browser(servers, browser):
    page, errors = _open(browser, servers["empty"] + "/audiences")
    try:
        assert page.locator(".dashboard-error").count() == 0
        assert "No audience has been exported yet" in page.inner_text(".empty-note")
        assert page.locator(".chart").count() == 0
        assert not errors, errors
    finally:
        page.close()
