"""Every dashboard query runs on the BI copy, returns rows, and binds its filters safely."""

from __future__ import annotations

import re
from datetime import date

import duckdb
import pytest

from dashboard.pages import PAGES
from dashboard.queries import QUERY_DIR, Filters, Query, Warehouse, filtered_sql, load_queries, parse_filters

QUERIES = load_queries()
EVIDENCE_PAGES = QUERY_DIR.parents[1] / "pages"
# the small mall exports no audience: these are empty on it (tests/dashboard/test_audiences_page.py)
ACTIVATION_QUERIES = {"audience_runs", "audience_overlaps", "channel_consent_coverage"}
MALL_QUERIES = sorted(set(QUERIES) - ACTIVATION_QUERIES)
MALL_PAGES = [p for p in PAGES if not set(p.queries) & ACTIVATION_QUERIES]


def test_every_query_file_declares_its_filters():
    assert len(QUERIES) >= 14
    for query in QUERIES.values():
        assert set(query.filters) <= {"date", "store", "segment"}, query.name


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
    text = repr(components)
    assert "dashboard-error" not in text and "empty-note" not in text
    figures = [c.figure for c in components if getattr(c, "id", "").startswith("graph-")]
    assert figures, page.path
    for figure in figures:
        assert figure.data, f"{page.path}: a chart without traces"


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


@pytest.mark.integration
def test_the_evidence_components_read_columns_the_queries_return(bi_copy):
    wh = Warehouse(bi_copy)
    for page, sources, components in _evidence_pages():
        for tag, attrs in components:
            query = sources[attrs["data"]]
            columns = set(wh.run(query).columns)
            for key in COLUMN_ATTRS & set(attrs):
                for column in re.findall(r"\w+", attrs[key]):
                    assert column in columns, f"{page}: <{tag} {key}={column}> is not a column of {query}.sql"


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
                "where table_catalog = current_database()"
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
    text = repr(page.render(Warehouse(management_bi_file), Filters()))
    assert "dashboard-error" not in text and "empty-note" not in text


@pytest.mark.integration
def test_mallcrm_dashboard_opens_the_management_bi_role_file_by_default(built_mall, management_bi_file, monkeypatch):
    from click.testing import CliRunner

    import cli.dashboard as command
    from tests.conftest import cli_env

    opened = []

    class App:
        def run(self, **kwargs):
            pass

    monkeypatch.setattr(command, "create_app", lambda path: opened.append(path) or App())
    env = cli_env(built_mall[0])
    runner = CliRunner()
    result = runner.invoke(command.dashboard, [], env=env)
    assert result.exit_code == 0, result.output
    assert opened == [management_bi_file]
    store = built_mall[0].warehouse_dir / "roles" / "store_operations"
    first_store = sorted(store.iterdir())[0].stem
    result = runner.invoke(command.dashboard, ["--role", "store_operations"], env=env)
    assert result.exit_code != 0 and "--store" in result.output
    result = runner.invoke(command.dashboard, ["--role", "store_operations", "--store", first_store], env=env)
    assert result.exit_code == 0, result.output
    assert opened[-1] == store / f"{first_store}.duckdb"
