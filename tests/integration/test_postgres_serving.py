"""The PostgreSQL serving layer (serving/) on the small built mall, in the session's server.

Every role logs in with its own password and is held to what the DuckDB role files of the
same warehouse hold (privacy/publish.py writes them from the same policy): the same
tables, the same columns, the same rows per table; a store's login to its store's file.
Without Debian's PostgreSQL binaries these tests fail, they do not skip (CI installs them)."""

from __future__ import annotations

import shutil
import time
from dataclasses import replace

import duckdb
import psycopg2
import pytest
from click.testing import CliRunner
from psycopg2 import errors, sql

from cli import main
from mallcrm.core.warehouse import connect
from postgres import server
from privacy.policy import load_policy
from privacy.publish import publish_role_files
from privacy.report import write_report
from semantic.docs import table_docs
from semantic.metrics import load_metrics, rollup_expression, view_sql
from serving import access_log, grants
from serving.publish import ServingUnavailable, admin_dsn, publish_postgres
from tests.conftest import cli_env, settings_for

pytestmark = [pytest.mark.integration, pytest.mark.postgres]

STORE_ROLE = "store_operations"


@pytest.fixture(scope="module")
def served(built_mall, postgres_server, tmp_path_factory):
    """A copy of the built mall with its role files, published twice to PostgreSQL (a
    killed publish's leftover schema in between): (settings, role files, first, second)."""
    built, _, ok = built_mall
    assert ok
    root = tmp_path_factory.mktemp("served")
    ignore = shutil.ignore_patterns("roles*", "bi", "*.lock", ".dlt", "postgres")
    shutil.copytree(built.warehouse_dir, root / "warehouse", ignore=ignore)
    settings = replace(
        settings_for(root), postgres_port=postgres_server.postgres_port, postgres_dir=postgres_server.postgres_dir
    )
    roles = publish_role_files(settings)
    first = publish_postgres(settings)
    with psycopg2.connect(admin_dsn(settings)) as conn, conn.cursor() as cur:
        cur.execute("CREATE SCHEMA marts__load_killed; CREATE TABLE marts__load_killed.half (x int)")
    second = publish_postgres(settings)
    return settings, roles, first, second


def login(settings, user: str):
    password = grants.read_logins(settings)[user]
    return psycopg2.connect(
        host=server.HOST, port=settings.postgres_port, dbname=server.DATABASE, user=user, password=password
    )


def query(settings, user: str, statement: str, args=None) -> list[tuple]:
    conn = login(settings, user)
    try:
        with conn.cursor() as cur:
            cur.execute(statement, args)
            return cur.fetchall()
    finally:
        conn.close()


def visible(settings, user: str) -> dict[str, list[str]]:
    """{table: columns} of marts the user may read, as a BI tool syncs them."""
    rows = query(
        settings,
        user,
        "SELECT table_name, column_name FROM information_schema.columns "
        "WHERE table_schema = 'marts' ORDER BY table_name, ordinal_position",
    )
    out: dict[str, list[str]] = {}
    for table, column in rows:
        out.setdefault(table, []).append(column)
    return out


def file_columns(path) -> dict[str, list[str]]:
    con = connect_file(path)
    try:
        rows = con.execute(
            "select table_name, column_name from information_schema.columns where table_schema = 'marts' "
            "order by table_name, ordinal_position"
        ).fetchall()
    finally:
        con.close()
    out: dict[str, list[str]] = {}
    for table, column in rows:
        out.setdefault(table, []).append(column)
    return out


def connect_file(path):
    return duckdb.connect(str(path), read_only=True)


def counts(settings, user: str, tables) -> dict[str, int]:
    conn = login(settings, user)
    try:
        with conn.cursor() as cur:
            out = {}
            for table in tables:
                cur.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier("marts", table)))
                out[f"marts.{table}"] = cur.fetchone()[0]
            return out
    finally:
        conn.close()


@pytest.mark.parametrize("role", ["marketing", "management_bi", "data_science", "compliance"])
def test_each_role_sees_what_its_role_file_holds(served, role):
    settings, roles, _, _ = served
    user = grants.db_role(role)
    expected_columns = file_columns(roles[role].path)
    assert visible(settings, user) == expected_columns
    assert counts(settings, user, expected_columns) == roles[role].tables


def test_management_bi_sees_marts_but_no_member_level_personal_columns(served):
    settings, _, _, _ = served
    user = grants.db_role("management_bi")
    columns = visible(settings, user)
    assert "mart_member_360" in columns and "fct_transactions" in columns
    personal = {"member_id", "mobile_token", "card_no_token", "full_name_masked", "birth_month", "is_minor"}
    assert not personal & {c for cols in columns.values() for c in cols}
    assert query(settings, user, "SELECT count(*) FROM marts.fct_transactions")[0][0] > 0
    with pytest.raises(errors.InsufficientPrivilege, match="permission denied for table fct_transactions"):
        query(settings, user, "SELECT member_id FROM marts.fct_transactions")
    with pytest.raises(errors.InsufficientPrivilege):
        query(settings, user, "SELECT * FROM marts.mart_member_360")


def test_marketing_sees_only_consenting_adults(served):
    settings, roles, _, _ = served
    user = grants.db_role("marketing")
    members = query(settings, user, "SELECT count(*), count(DISTINCT member_id) FROM marts.mart_member_360")[0]
    assert members[0] == members[1] == roles["marketing"].tables["marts.mart_member_360"]
    assert (
        members[0] < query(settings, grants.db_role("compliance"), "SELECT count(*) FROM marts.mart_member_360")[0][0]
    )
    # no minor among them, by the compliance role's view of the same members
    marketing_ids = {r[0] for r in query(settings, user, "SELECT member_id FROM marts.mart_member_360")}
    minors = {
        r[0]
        for r in query(settings, grants.db_role("compliance"), "SELECT member_id FROM marts.dim_member WHERE is_minor")
    }
    assert not marketing_ids & minors
    # its access list shows it only its own rows
    assert query(settings, user, "SELECT DISTINCT role FROM serving_access.member_access") == [(user,)]


def test_a_store_login_sees_only_its_store(served):
    settings, roles, first, _ = served
    stores = roles[STORE_ROLE].stores
    assert len(first.roles[STORE_ROLE]["logins"]) == len(stores) > 1
    for store in sorted(stores)[:2]:
        user = grants.store_login(STORE_ROLE, store)
        expected = file_columns(stores[store].path)
        assert visible(settings, user) == expected
        assert counts(settings, user, expected) == stores[store].tables
        assert query(settings, user, "SELECT DISTINCT store_id FROM marts.fct_transactions") == [(store,)]
    denied = sorted(set(file_columns(roles["compliance"].path)) - set(expected))
    assert denied, "every mart is readable by a store: nothing to refuse"
    with pytest.raises(errors.InsufficientPrivilege, match=f"permission denied for table {denied[0]}"):
        query(settings, user, f"SELECT count(*) FROM marts.{denied[0]}")
    # the group role itself cannot log in
    with pytest.raises(KeyError):
        grants.read_logins(settings)[grants.db_role(STORE_ROLE)]


def test_tables_and_columns_carry_the_dbt_docs(served):
    settings, _, first, _ = served
    docs = table_docs(settings)["marts.mart_member_360"]
    column, text = next(iter(docs.columns.items()))
    row = query(
        settings,
        grants.db_role("compliance"),
        "SELECT obj_description('marts.mart_member_360'::regclass), col_description('marts.mart_member_360'::regclass,"
        " (SELECT attnum FROM pg_attribute WHERE attrelid = 'marts.mart_member_360'::regclass AND attname = %s))",
        (column,),
    )[0]
    assert row == (docs.description, text)
    assert first.comments > len(first.tables)


def test_a_metric_view_gives_the_warehouse_value(served):
    settings, _, first, _ = served
    metrics = load_metrics(settings)
    name = "net_revenue" if "net_revenue" in first.metric_views else first.metric_views[0]
    metric = metrics[name]
    rollup = rollup_expression(metric)
    duck = connect(settings)
    try:
        inner = view_sql(metric).split(" as\n", 1)[1]
        expected = duck.execute(f"select {rollup} from ({inner}) as v").fetchall()[0][0]
    finally:
        duck.close()
    got = query(settings, grants.db_role("compliance"), f'SELECT {rollup} FROM metrics."{name}"')[0][0]
    assert float(got) == pytest.approx(float(expected), rel=1e-9)


def test_the_access_log_names_who_read_what(served, tmp_path):
    settings, _, _, _ = served
    marketing, bi = grants.db_role("marketing"), grants.db_role("management_bi")
    query(settings, marketing, "SELECT count(*) FROM marts.mart_member_360")
    with pytest.raises(errors.InsufficientPrivilege):
        query(settings, bi, 'SELECT member_id FROM "marts"."mart_member_360"')
    deadline = time.monotonic() + 10
    while True:  # the logging collector writes asynchronously
        summary = access_log.summarize(settings)
        users = summary.users
        if (marketing in users and bi in users and users[bi].denied) or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert summary.available
    assert users[marketing].connections >= 1 and users[marketing].relations["marts.mart_member_360"] >= 1
    assert users[bi].denied["marts.mart_member_360"] >= 1
    text = access_log.markdown(summary)
    assert f"| {marketing} |" in text and "marts.mart_member_360" in text
    # the compliance report carries the section its caller hands it
    _, md_path = write_report(settings, out_dir=tmp_path, access_log=text)
    assert text.strip() in md_path.read_text(encoding="utf-8")


def test_publishing_again_gives_the_same_end_state(served):
    settings, _, first, second = served
    assert second.tables == first.tables and second.metric_views == first.metric_views
    assert second.access_rows == first.access_rows
    assert any("marts__load_killed" in note for note in second.notes)
    with psycopg2.connect(admin_dsn(settings)) as conn, conn.cursor() as cur:
        cur.execute("SELECT nspname FROM pg_namespace WHERE nspname LIKE 'marts%' ORDER BY 1")
        assert cur.fetchall() == [("marts",)]
        cur.execute("SELECT count(*) FROM marts.mart_member_360")
        assert cur.fetchone()[0] == first.tables["marts.mart_member_360"]
        cur.execute(
            "SELECT count(*), count(DISTINCT (tablename, policyname)) FROM pg_policies WHERE schemaname = 'marts'"
        )
        total, distinct = cur.fetchone()
        assert total == distinct > 0
    assert grants.logins_path(settings).stat().st_mode & 0o077 == 0
    assert set(grants.read_logins(settings)) >= {login for info in second.roles.values() for login in info["logins"]}


def test_no_server_is_one_sentence_and_exit_1(served):
    settings, _, _, _ = served
    stopped = replace(settings, postgres_port=settings.postgres_port + 7)
    with pytest.raises(ServingUnavailable, match="is not running"):
        publish_postgres(stopped, load_policy())
    result = CliRunner().invoke(main, ["publish-postgres"], env=cli_env(stopped))
    assert result.exit_code == 1
    assert "is not running" in result.output and "Traceback" not in result.output
