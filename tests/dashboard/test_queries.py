"""Every dashboard query runs on the BI copy, returns rows, binds its filters safely and
declares, for every filter, that it honours it or why not; every chart says so."""

from __future__ import annotations

import re
from datetime import date

import duckdb
import pandas as pd
import pytest

from dashboard.pages import PAGES, STAGES, _qini_chart
from dashboard.queries import (
    FILTER_KINDS,
    QUERY_DIR,
    Filters,
    Query,
    Warehouse,
    filtered_sql,
    load_queries,
    parse_filters,
    parse_ignores,
)
from tests.dashboard.tree import blocks, graphs, kpis, notes, walk

QUERIES = load_queries()
EVIDENCE_PAGES = QUERY_DIR.parents[1] / "pages"
# the small mall exports no audience: these are empty on it (tests/dashboard/test_audiences_page.py)
ACTIVATION_QUERIES = {"audience_runs", "audience_overlaps", "channel_consent_coverage"}
# fed by a gated model: empty until the uplift model is promoted, which the small mall's few
# campaigns cannot do; the chart is tested on a curve below (test_the_qini_chart_...)
GATED_MODEL_QUERIES = {"uplift_qini"}
MALL_QUERIES = sorted(set(QUERIES) - ACTIVATION_QUERIES - GATED_MODEL_QUERIES)
MALL_PAGES = [p for p in PAGES if not set(p.queries) & ACTIVATION_QUERIES]


def test_every_query_file_honours_or_ignores_each_filter_with_a_reason():
    assert len(QUERIES) >= 14
    for query in QUERIES.values():
        assert set(query.filters) | set(query.ignored) == set(FILTER_KINDS), query.name
        assert not set(query.filters) & set(query.ignored), query.name
        assert all(len(reason) > 15 for reason in query.ignored.values()), query.name
    # the filters reach more than 2 (store) and 3 (segment) of the queries
    assert sum("store" in q.filters for q in QUERIES.values()) >= 4  # and the metric cards with a store
    assert sum("segment" in q.filters for q in QUERIES.values()) >= 5


def test_a_filter_neither_honoured_nor_ignored_names_the_file():
    with pytest.raises(ValueError, match=r"q.sql: filter 'segment' is neither honoured .* nor ignored"):
        parse_ignores(
            "-- dashboard-filters: date=d\n-- dashboard-ignores store: no store here\nselect 1", "q", {"date": "d"}
        )
    with pytest.raises(ValueError, match="q.sql: filter 'date' is both honoured and ignored"):
        parse_ignores("-- dashboard-ignores date: whatever the reason\nselect 1", "q", {"date": "d"})
    with pytest.raises(ValueError, match="q.sql: dashboard-ignores names unknown filter 'colour'"):
        parse_ignores("-- dashboard-ignores colour: red\nselect 1", "q", {})


def test_the_previous_period_has_the_same_length_and_ends_the_day_before():
    bounds = (date(2025, 11, 1), date(2026, 10, 31))
    chosen = Filters(start=date(2026, 7, 1), end=date(2026, 9, 30), store="S001")
    assert chosen.previous(bounds) == Filters(date(2026, 3, 31), date(2026, 6, 30), "S001")  # 92 days each
    assert Filters(end=date(2026, 9, 30)).previous(bounds) is None  # starts on the first day of data
    assert Filters(start=date(2026, 5, 1)).previous(bounds) == Filters(date(2025, 10, 29), date(2026, 4, 30))
    assert Filters(start=date(2026, 5, 1), segment="Lost").active() == ["date", "segment"]


def test_a_bad_filter_header_names_the_file():
    with pytest.raises(ValueError, match="bad.sql: bad dashboard filter 'store=store_id; drop'"):
        parse_filters("-- dashboard-filters: store=store_id; drop\nselect 1", "bad")
    with pytest.raises(ValueError, match="missing"):
        parse_filters("select 1", "plain")


def test_filters_are_bound_as_parameters_never_formatted_into_sql():
    query = Query("q", "select 1 as store_id", {"store": "store_id", "date": "d"})
    hostile = "S001' or 1=1; drop table marts.dim_store; --"
    sql, params = filtered_sql(query, Filters(start=date(2026, 1, 1), store=hostile))
    assert hostile not in sql and params == [date(2026, 1, 1), hostile]
    assert sql.endswith("where d >= ? and store_id = ?")


def _without_gated_blocks(components) -> list:
    """The page's blocks but those fed by a gated model (they say why they are empty)."""
    return [b for b in blocks(components) if getattr(b, "data-sources", "") not in GATED_MODEL_QUERIES]


@pytest.mark.integration
@pytest.mark.parametrize("name", MALL_QUERIES)
def test_query_returns_rows_on_the_bi_copy(bi_copy, name):
    frame = Warehouse(bi_copy).run(name)
    assert len(frame) > 0, f"{name}.sql returned no rows on the small mall's BI copy"


@pytest.mark.integration
def test_a_hostile_filter_value_matches_nothing_and_changes_nothing(bi_copy):
    wh = Warehouse(bi_copy)
    stores_before = wh.rows("select count(*) from marts.dim_store")
    frame = wh.run("traffic_conversion", Filters(store="x'); drop table marts.dim_store; --"))
    assert frame.empty
    assert wh.rows("select count(*) from marts.dim_store") == stores_before


@pytest.mark.integration
def test_the_store_filter_narrows_a_query(bi_copy):
    wh = Warehouse(bi_copy)
    everything = wh.run("traffic_conversion")
    store = everything.store_id.iloc[0]
    one_store = wh.run("traffic_conversion", Filters(store=store))
    assert 0 < len(one_store) < len(everything) and set(one_store.store_id) == {store}


@pytest.mark.integration
def test_the_dashboard_opens_the_file_read_only(bi_copy):
    wh = Warehouse(bi_copy)
    con = wh._connect()
    try:
        with pytest.raises(duckdb.Error, match="read-only"):
            con.execute("create table marts.scratch as select 1")
    finally:
        con.close()


@pytest.mark.integration
@pytest.mark.parametrize("page", MALL_PAGES, ids=[p.path for p in MALL_PAGES])
def test_page_renders_charts_with_data(bi_copy, page):
    """Each page's components read only columns its queries return (a missing one raises here)."""
    components = page.render(Warehouse(bi_copy), Filters())
    text = repr(_without_gated_blocks(components))
    assert "dashboard-error" not in text and "empty-note" not in text
    figures = graphs(components)
    assert figures, page.path
    for name, figure in figures.items():
        assert figure.data, f"{page.path}: {name} without traces"
        for axis in (figure.layout.xaxis, figure.layout.yaxis):  # titles from the label table, never a column
            title = axis.title.text or ""
            assert "_" not in title and title not in ("variable", "value"), f"{name}: axis title {title!r}"
        assert "variable" not in {getattr(t, "legendgroup", None) for t in figure.data}, name


class SpyWarehouse(Warehouse):
    """Records which query files and metric views a page reads."""

    def __init__(self, path):
        super().__init__(path)
        self.read: set[str] = set()

    def run(self, name, filters=None):
        self.read.add(name)
        return super().run(name, filters)

    def metric(self, name, filters=None):
        self.read.add(f"metrics.{name}")
        return super().metric(name, filters)


def _every_filter(wh: Warehouse) -> Filters:
    """Every filter at once: the middle half of the data's days, the first store, a segment."""
    first, last = wh.bounds
    quarter = (last - first) / 4
    return Filters(start=first + quarter, end=last - quarter, store="S001", segment="Champions")


@pytest.mark.integration
@pytest.mark.parametrize("page", MALL_PAGES, ids=[p.path for p in MALL_PAGES])
def test_every_chart_honours_each_filter_or_says_it_does_not(management_bi_file, page):
    """Under every filter at once: each chart, table and row of cards sits in a block that
    names what it reads; for each filter, a block's sources all honour it or the block
    carries a "not filtered by" note; the blocks name every query and metric the page read."""
    wh = SpyWarehouse(management_bi_file)
    components = page.render(wh, _every_filter(wh))
    found = blocks(components)
    assert found, page.path
    inside = {id(node) for block in found for node in walk(block)}
    for node in walk(components):
        if str(getattr(node, "className", "")) in ("chart", "kpis") or str(getattr(node, "id", "")).startswith(
            "table-"
        ):
            assert id(node) in inside, f"{page.path}: {getattr(node, 'id', node)} outside a block"
    declared = set()
    for block in found:
        sources = getattr(block, "data-sources").split()
        declared |= set(sources)
        shown = notes(block)
        for kind in FILTER_KINDS:
            readers = [wh.metric_source(s[8:]) if s.startswith("metrics.") else wh.queries[s] for s in sources]
            ignores = [q.name for q in readers if kind not in q.filters]
            if ignores:
                assert kind in shown, f"{page.path}: {sources} ignore {kind} ({ignores}) without a note"
                assert shown[kind].startswith("not filtered by")
            else:
                assert kind not in shown, f"{page.path}: {sources} honour {kind} but say they do not"
    assert wh.read <= declared, f"{page.path}: reads {sorted(wh.read - declared)} without naming them on a block"
    assert set(page.queries) <= wh.read | {"audience_overlaps", "channel_consent_coverage"}


@pytest.mark.integration
def test_the_lifecycle_stages_add_up_to_the_registered_members(bi_copy):
    """Every stage of the mart is drawn, reactivated included: the funnel and the card count
    all members."""
    wh = Warehouse(bi_copy)
    stages = wh.run("lifecycle_stages")
    latest = stages[stages.snapshot_month == stages.snapshot_month.max()]
    assert set(latest.lifecycle_stage) == set(STAGES)
    assert latest.member_count.sum() == latest.registered_members.iloc[0]
    components = PAGES[0].render(wh, Filters())
    funnel = graphs(components)["graph-lifecycle-funnel"].data[0]
    assert list(funnel.y) == list(STAGES.values()) and sum(funnel.x) == latest.member_count.sum()
    assert kpis(components)["kpi-members"] == f"{latest.member_count.sum():,}"


@pytest.mark.integration
def test_the_cards_read_the_dbt_metrics_for_the_period_and_store(management_bi_file):
    """NPS and the breach rate come from the metric views, filtered by dates and store: the
    same figures as counting the responses and complaints of that store and period."""
    wh = Warehouse(management_bi_file)
    store = wh.rows(
        "select store_id from marts.fct_survey_responses where store_id is not null group by 1 order by count(*) desc"
    )[0][0]
    first, last = wh.bounds
    chosen = Filters(start=first + (last - first) / 2, end=last, store=store)
    promoters, detractors, responses = wh.rows(
        "select count(*) filter (where nps_category = 'promoter'), count(*) filter (where nps_category = 'detractor'),"
        " count(nps_score) from marts.fct_survey_responses where business_date between ? and ? and store_id = ?",
        [chosen.start, chosen.end, store],
    )[0]
    assert wh.metric("nps", chosen) == pytest.approx((promoters - detractors) * 100 / responses)
    assert wh.metric("nps", chosen) != pytest.approx(wh.metric("nps", Filters()))
    nps_page = next(p for p in PAGES if p.path == "/nps")
    shown = kpis(nps_page.render(wh, chosen))
    assert shown["kpi-nps"] == f"{(promoters - detractors) * 100 / responses:.1f}"
    assert shown["kpi-responses"] == f"{responses:,}"
    breach = wh.metric("complaint_sla_breach_rate", chosen)  # the small mall's store may have had none
    assert shown["kpi-breach-rate"] == ("—" if breach is None else f"{breach:.1%}")
    breached, complaints = wh.rows(
        "select count(*) filter (where is_sla_breached), count(*) from marts.fct_complaints"
    )[0]
    assert kpis(nps_page.render(wh, Filters()))["kpi-breach-rate"] == f"{breached / complaints:.1%}"


COMPONENT = re.compile(r"<(?P<tag>[A-Z]\w+)\s(?P<attrs>[^>]*?)/?>", re.DOTALL)
ATTR = re.compile(r"(\w+)=(?:\{([^}]*)\}|\"([^\"]*)\")")
PAGE_QUERY = re.compile(r"```sql (\w+)\n(.*?)```", re.DOTALL)
COLUMN_ATTRS = {"x", "y", "series", "value", "sourceCol", "targetCol", "valueCol"}


def _evidence_pages():
    """(page, {page query: source query file}, [(component, attributes)]) per Evidence page."""
    for page in sorted(EVIDENCE_PAGES.glob("*.md")):
        text = page.read_text(encoding="utf-8")
        sources = {}
        for name, body in PAGE_QUERY.findall(text):
            source = re.search(r"from\s+mallcrm\.(\w+)", body)
            sources[name] = source.group(1) if source else None
        components = [
            (m.group("tag"), {k: (braced or quoted).strip() for k, braced, quoted in ATTR.findall(m.group("attrs"))})
            for m in COMPONENT.finditer(text)
        ]
        yield page.name, sources, [(tag, attrs) for tag, attrs in components if "data" in attrs]


def test_the_evidence_pages_read_the_query_files():
    pages = list(_evidence_pages())
    assert len(pages) >= 7 and sum(len(components) for _, _, components in pages) >= 15
    for page, sources, components in pages:
        for name, source in sources.items():
            assert source in QUERIES, f"{page}: query {name} does not read a file of sources/mallcrm/"
        for tag, attrs in components:
            assert attrs["data"] in sources, f"{page}: <{tag} data={{{attrs['data']}}}> is not a query of the page"


def _evidence_page_queries():
    """{(page, page query): its SQL} of every Evidence page."""
    for page in sorted(EVIDENCE_PAGES.glob("*.md")):
        for name, body in PAGE_QUERY.findall(page.read_text(encoding="utf-8")):
            yield (page.name, name), body


@pytest.mark.integration
def test_the_evidence_components_read_columns_the_queries_return(bi_copy):
    """Each page query runs (over its source files, as Evidence runs them) and returns every
    column its components name."""
    wh = Warehouse(bi_copy)
    bodies = dict(_evidence_page_queries())
    for page, _, components in _evidence_pages():
        for tag, attrs in components:
            body = bodies[(page, attrs["data"])]
            sql = re.sub(
                r"mallcrm\.(\w+)",
                lambda m: f"(\n{wh.queries[m.group(1)].sql.strip().rstrip(';')}\n) as {m.group(1)}",
                body,
            )
            columns = {row[0] for row in wh.rows(f"describe {sql}")}
            for key in COLUMN_ATTRS & set(attrs):
                for column in re.findall(r"\w+", attrs[key]):
                    assert column in columns, f"{page}: <{tag} {key}={column}> is not a column of {attrs['data']}"


PERSONAL_COLUMNS = {
    "member_id",
    "family_group_id",
    "referrer_member_id",
    "card_no_token",
    "mobile_token",
    "email_token",
    "member_mobile_token",
    "member_card_no_token",
    "mobile_masked",
    "email_masked",
    "full_name_masked",
    "birth_month",
    "is_minor",
    "device_token",
}


@pytest.mark.integration
def test_the_bi_copy_holds_only_what_management_bi_may_see(built_mall, bi_copy, management_bi_file):
    """The dashboard's sources are role-scoped: the BI copy is the management_bi output."""
    from mallcrm.core.warehouse import connect

    def tables(path):
        con = duckdb.connect(str(path), read_only=True)
        try:
            rows = con.execute(
                "select table_name, column_name from information_schema.columns "
                "where table_catalog = current_database() and table_schema = 'marts'"
            ).fetchall()
            out = {}
            for table, column in rows:
                out.setdefault(table, set()).add(column)
            counts = {t: con.execute(f"select count(*) from marts.{t}").fetchone()[0] for t in out}
            return out, counts
        finally:
            con.close()

    bi_columns, bi_counts = tables(bi_copy)
    role_columns, role_counts = tables(management_bi_file)
    assert bi_columns == role_columns and bi_counts == role_counts
    assert not set().union(*bi_columns.values()) & PERSONAL_COLUMNS
    con = connect(built_mall[0])
    try:
        minors = con.execute("select count(*) from marts.dim_member where is_minor").fetchone()[0]
        members = con.execute("select count(*) from marts.dim_member").fetchone()[0]
    finally:
        con.close()
    assert minors > 0 and bi_counts["dim_member"] == members - minors


@pytest.mark.integration
@pytest.mark.parametrize("name", MALL_QUERIES)
def test_query_returns_rows_on_the_management_bi_role_file(management_bi_file, name):
    frame = Warehouse(management_bi_file).run(name)
    assert len(frame) > 0, f"{name}.sql returned no rows on the management_bi role file"


@pytest.mark.integration
@pytest.mark.parametrize("page", MALL_PAGES, ids=[p.path for p in MALL_PAGES])
def test_page_renders_on_the_management_bi_role_file(management_bi_file, page):
    text = repr(_without_gated_blocks(page.render(Warehouse(management_bi_file), Filters())))
    assert "dashboard-error" not in text and "empty-note" not in text


@pytest.mark.integration
def test_the_qini_chart_draws_the_model_against_both_baselines(bi_copy):
    """The campaigns page's uplift block: a note until a model is promoted, then its holdout curve
    with the churn heuristic and random targeting, titled with the figures the gate compared."""
    wh = Warehouse(bi_copy)
    empty = _qini_chart(wh, Filters(), wh.run("uplift_qini"))
    assert "empty-note" in repr(empty) and "No promoted uplift model" in repr(empty)
    rankings = {"uplift_model": 31.7, "churn_heuristic": 21.2, "random": 0.0}
    curve = pd.DataFrame(
        [
            {
                "ranking": ranking,
                "ranking_label": ranking,
                "targeted_share": share,
                "incremental_conversions": share * (40 + qini),
                "conversions_above_random": share * qini,
                "qini_coefficient": qini,
                "random_qini_p95": 22.8,
                "holdout_member_count": 4000,
                "holdout_campaign_count": 4,
                "split_date": date(2026, 8, 1),
                "model_version": "20261206T000000Z",
            }
            for ranking, qini in rankings.items()
            for share in (0.0, 0.5, 1.0)
        ]
    )
    figures = graphs([_qini_chart(wh, Filters(), curve)])
    figure = figures["graph-uplift-qini"]
    assert len(figure.data) == 3
    assert "model 31.7 vs churn heuristic 21.2, random p95 22.8 (4 test campaigns from 2026-08-01)" in (
        figure.layout.title.text
    )


@pytest.mark.integration
def test_mallcrm_dashboard_opens_the_management_bi_role_file_by_default(built_mall, management_bi_file, monkeypatch):
    from click.testing import CliRunner

    import cli.dashboard as command
    from cli import main  # as a user runs it: through the group (click caches a command's help option per first use)
    from tests.conftest import cli_env

    opened, served = [], []

    class App:
        server = "the WSGI app"

    monkeypatch.setattr(command, "create_app", lambda path, source: opened.append((path, source)) or App())
    monkeypatch.setattr(command.waitress, "serve", lambda app, **kwargs: served.append((app, kwargs)))
    env = cli_env(built_mall[0])
    runner = CliRunner()
    result = runner.invoke(main, ["dashboard"], env=env)
    assert result.exit_code == 0, result.output
    assert opened == [(management_bi_file, "role management_bi 角色文件")]
    assert served[-1][0] == "the WSGI app" and served[-1][1]["host"] == "127.0.0.1" and served[-1][1]["port"] == 8050
    result = runner.invoke(main, ["dashboard"], env={**env, "PORT": "8153"})
    assert result.exit_code == 0 and served[-1][1]["port"] == 8153
    result = runner.invoke(main, ["dashboard", "--port", "8154"], env={**env, "PORT": "8153"})
    assert result.exit_code == 0 and served[-1][1]["port"] == 8154
    store = built_mall[0].warehouse_dir / "roles" / "store_operations"
    first_store = sorted(store.iterdir())[0].stem
    result = runner.invoke(main, ["dashboard", "--role", "store_operations"], env=env)
    assert result.exit_code != 0 and "--store" in result.output
    result = runner.invoke(main, ["dashboard", "--role", "store_operations", "--store", first_store], env=env)
    assert result.exit_code == 0, result.output
    assert opened[-1] == (store / f"{first_store}.duckdb", f"role store_operations, store {first_store} 角色文件")
