"""The Product association page (商品关联) on hand-made marts: it draws the FP-Growth rules of
marts.mart_basket_rules (support, confidence, lift over all baskets), falls back to the SQL
pair counts of marts.mart_basket_pairs before the first ML run, and ignores the filters it
does not declare (its query has none)."""

from __future__ import annotations

from datetime import date, datetime

import duckdb
import pytest

from dashboard.pages import PAGES, basket
from dashboard.queries import Filters, Warehouse
from tests.dashboard import tree

RULES = """create table marts.mart_basket_rules (
    basket_rule_id varchar, rule_level varchar, rule_rank integer, antecedent_items varchar,
    consequent_items varchar, antecedent_item_count integer, consequent_item_count integer,
    antecedent_product_name varchar, antecedent_product_category varchar,
    consequent_product_name varchar, consequent_product_category varchar, support double,
    confidence double, lift double, antecedent_support double, consequent_support double,
    rule_basket_count bigint, antecedent_basket_count bigint, consequent_basket_count bigint,
    total_basket_count bigint, cutoff_date date, model_version varchar, scored_at timestamp)"""
PAIRS = """create table marts.mart_basket_pairs (
    basket_pair_id varchar, category_a varchar, category_b varchar, pair_basket_count integer,
    category_a_basket_count integer, category_b_basket_count integer, total_basket_count integer,
    support double, confidence_a_to_b double, confidence_b_to_a double, lift double)"""
VERSION = "20260601T000000Z"


def _rule(level, rank, a, c, n_ac, n_a, n_c, n, names=(None, None)):
    s, sa, sc = n_ac / n, n_a / n, n_c / n
    return (
        f"{level}|{a}|{c}", level, rank, a, c, a.count(",") + 1, c.count(",") + 1, names[0], None, names[1], None,
        s, s / sa, s / sa / sc, sa, sc, n_ac, n_a, n_c, n, date(2026, 6, 1), VERSION, datetime(2026, 6, 2, 6, 30),
    )  # fmt: skip


def _warehouse(path, rules=(), pairs=()):
    con = duckdb.connect(str(path))
    con.execute("create schema marts")
    con.execute(RULES)
    con.execute(PAIRS)
    if rules:
        con.executemany(f"insert into marts.mart_basket_rules values ({', '.join(['?'] * 23)})", list(rules))
    if pairs:
        con.executemany(f"insert into marts.mart_basket_pairs values ({', '.join(['?'] * 11)})", list(pairs))
    con.close()
    return Warehouse(path)


# 1,000 baskets (one-item baskets included in N); the SQL pairs say something else entirely
FP_RULES = [
    _rule("category", 1, "beauty", "fashion", 40, 100, 120, 1000),
    _rule("category", 2, "fashion", "beauty", 40, 120, 100, 1000),
    _rule("category", 3, "dining,fashion", "beauty", 20, 60, 100, 1000),
    _rule("sku", 1, "S1", "S2", 25, 50, 60, 900, names=("tea", "cup")),
    _rule("sku", 2, "S3", "S4", 22, 40, 80, 900, names=("tea", "cup")),  # same names, other SKUs
]
SQL_PAIRS = [("p1", "toys", "books", 7, 9, 30, 50, 0.14, 7 / 9, 7 / 30, 1.3)]


def test_the_page_draws_the_fp_growth_rules_not_the_sql_pairs(tmp_path):
    wh = _warehouse(tmp_path / "bi.duckdb", FP_RULES, SQL_PAIRS)
    rules = wh.run("basket_rules")
    assert set(rules.rule_source) == {"FP-Growth"} and len(rules) == 5
    assert "toys" not in set(rules.antecedent) | set(rules.consequent)
    beauty = rules[(rules.antecedent == "beauty") & (rules.consequent == "fashion")].iloc[0]
    assert beauty.support == pytest.approx(0.04) and beauty.confidence == pytest.approx(0.4)
    assert beauty.lift == pytest.approx(0.04 / (0.1 * 0.12)) and beauty.total_basket_count == 1000
    products = rules[rules.rule_level == "sku"]
    assert list(products.antecedent_label) == ["tea", "tea"]  # product names where known

    components = basket(wh, Filters())
    graphs = tree.graphs(components)
    assert list(graphs) == ["graph-basket-sankey", "graph-basket-products"]
    assert tree.kpis(components) == {
        "kpi-rules": "5",
        "kpi-max-lift": f"{rules.lift.max():,.2f}",
        "kpi-baskets": "1,000",
        "kpi-model": f"FP-Growth {VERSION}",
    }
    link = graphs["graph-basket-sankey"].data[0].link
    # beauty <-> fashion once (its stronger direction), dining + fashion -> beauty
    assert sorted(link.value) == [20, 40] and "dining + fashion" in graphs["graph-basket-sankey"].data[0].node.label
    assert "FP-Growth" in graphs["graph-basket-sankey"].layout.title.text
    bars = graphs["graph-basket-products"].data[0]
    assert len(set(bars.y)) == 2 and all("[" in label for label in bars.y)  # repeated names show SKUs


@pytest.mark.parametrize(
    "filters",
    [Filters(), Filters(start=date(2026, 1, 1), end=date(2026, 3, 31)), Filters(store="S001", segment="champions")],
)
def test_the_page_keeps_working_under_every_filter(tmp_path, filters):
    wh = _warehouse(tmp_path / "bi.duckdb", FP_RULES, SQL_PAIRS)
    components = basket(wh, filters)
    text = repr(components)
    assert "empty-note" not in text and "dashboard-error" not in text
    assert len(wh.run("basket_rules", filters)) == len(FP_RULES)
    # the rules ignore every filter: each block says so for each filter chosen
    for block in tree.blocks(components):
        assert set(tree.notes(block)) == set(filters.active())


def test_before_the_first_ml_run_the_sql_pairs_stand_in(tmp_path):
    wh = _warehouse(tmp_path / "bi.duckdb", (), SQL_PAIRS)
    rules = wh.run("basket_rules")
    assert set(rules.rule_source) == {"SQL pairs (no ML run yet)"} and len(rules) == 2  # both directions
    assert set(zip(rules.antecedent, rules.consequent, strict=True)) == {("toys", "books"), ("books", "toys")}
    components = basket(wh, Filters())
    graphs = tree.graphs(components)
    assert list(graphs) == ["graph-basket-sankey"]
    assert tree.kpis(components)["kpi-model"] == "SQL pairs"
    assert list(graphs["graph-basket-sankey"].data[0].link.value) == [7]


def test_no_rules_at_all_says_so(tmp_path):
    components = basket(_warehouse(tmp_path / "bi.duckdb"), Filters())
    assert len(components) == 1 and "No association rules yet" in components[0].children


def test_the_page_declares_the_query_it_reads():
    (page,) = [p for p in PAGES if p.path == "/basket"]
    assert page.queries == ("basket_rules",) and page.render is basket
