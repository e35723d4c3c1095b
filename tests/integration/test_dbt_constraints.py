"""A not-null rule still fails the build where it now lives (issue 18).

The project states not-null two ways (tests/unit/test_dbt_project_conventions.py): as a
`not_null` constraint of a table with an enforced contract, which DuckDB checks as the
rows are written, and, for views and other tables, in one `not_null_columns` test per
model. Both must still stop `dbt build` on bad data and name the column.

The dirty mall (`generate --dirty`) cannot show this: the export contract quarantines a row
without a required value before it is loaded. So a NULL is written straight into a raw
table of a copy of the session's built small mall, as a source loaded around the contract
would, and only the models on its path are built (one parse, three small builds): the
staging view, its masked table, and the member dimension, whose contract holds the rule as
a constraint.
"""

from __future__ import annotations

import shutil

import pytest

from mallcrm.core.dbt import run_dbt
from mallcrm.core.warehouse import connect
from pipeline import steps
from tests.conftest import settings_for

pytestmark = pytest.mark.integration

VIEW = "stg_membership__members"  # a view: the rule is in its not_null_columns test
MASKED = "msk_membership__members"  # rendered from VIEW's yml (privacy.render): the same test
TABLE = "dim_member"  # a table with an enforced contract: the rule is a not_null constraint
COLUMN = "tier"


@pytest.fixture(scope="module")
def null_tier(tmp_path_factory, built_mall):
    """(settings, parsed manifest) of a copy of the built mall where one member's tier is NULL."""
    built, _, ok = built_mall
    assert ok
    settings = settings_for(tmp_path_factory.mktemp("null_tier"))
    settings.warehouse.parent.mkdir(parents=True)
    for path in built.warehouse.parent.glob(built.warehouse.name + "*"):  # the file and any WAL
        shutil.copy2(path, settings.warehouse.parent / path.name)
    con = connect(settings)
    # a member who is their person's surviving record in dim_member
    member = con.execute("select min(survivor_member_id) from marts.dim_member").fetchone()[0]
    con.execute("update raw_membership.members set tier = null where member_id = ?", [member])
    con.close()
    parsed = run_dbt(["parse"], settings, quiet=True)
    assert parsed.success
    return settings, parsed.result


def _build(settings, manifest, model: str) -> dict[str, object]:
    """`dbt build --select model`: the nodes that failed or errored, by name (the build must fail)."""
    result = steps.build(settings, ["--select", model], quiet=True, manifest=manifest)
    assert not result.success
    return {r.node.name: r for r in result.result.results if str(r.status) in ("fail", "error")}


def _folded_test(manifest, model: str):
    tests = [
        n
        for n in manifest.nodes.values()
        if n.resource_type == "test"
        and getattr(n, "test_metadata", None)
        and n.test_metadata.name == "not_null_columns"
        and n.attached_node == f"model.mallcrm.{model}"
    ]
    assert len(tests) == 1, tests
    return tests[0]


def test_the_rule_is_one_test_of_the_view_and_a_constraint_of_the_table(null_tier):
    _, manifest = null_tier
    models = {n.name: n for n in manifest.nodes.values() if n.resource_type == "model"}
    assert models[VIEW].config.materialized == "view"
    assert COLUMN in _folded_test(manifest, VIEW).test_metadata.kwargs["columns"]
    assert COLUMN in _folded_test(manifest, MASKED).test_metadata.kwargs["columns"]
    table = models[TABLE]
    assert table.config.materialized == "table" and table.config.contract.enforced
    assert "not_null" in [c.type for c in table.columns[COLUMN].constraints]
    # no per-column not_null test is left on the column in any of the three
    per_column = [
        n.name
        for n in manifest.nodes.values()
        if n.resource_type == "test"
        and getattr(n, "test_metadata", None)
        and n.test_metadata.name == "not_null"
        and n.column_name == COLUMN
    ]
    assert per_column == []


def _null_columns(settings, test_result) -> list[tuple]:
    """The failing rows of a not_null_columns test: each names the NULL columns."""
    con = connect(settings)
    try:
        return con.execute(test_result.node.compiled_code).fetchall()
    finally:
        con.close()


def test_a_null_fails_the_views_not_null_columns_test_which_names_the_column(null_tier):
    settings, manifest = null_tier
    name = _folded_test(manifest, VIEW).name
    failed = _build(settings, manifest, VIEW)
    assert list(failed) == [name]
    assert str(failed[name].status) == "fail"
    assert _null_columns(settings, failed[name]) == [(COLUMN,)]


def test_a_null_fails_the_masked_tables_test_then_the_contracted_tables_constraint(null_tier):
    settings, manifest = null_tier
    # the masked table is written (no constraint there), then its test fails naming the column
    name = _folded_test(manifest, MASKED).name
    failed = _build(settings, manifest, MASKED)
    assert list(failed) == [name]
    assert _null_columns(settings, failed[name]) == [(COLUMN,)]
    # the member dimension refuses the row: DuckDB's constraint error names table and column
    failed = _build(settings, manifest, TABLE)
    assert list(failed) == [TABLE]
    assert str(failed[TABLE].status) == "error"
    message = failed[TABLE].message or ""
    assert "NOT NULL constraint failed" in message, message
    assert f".{COLUMN}" in message, message
