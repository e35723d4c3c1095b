"""Role-scoped publish files (privacy/publish.py) on the small built mall.

The expectations are derived here from privacy/policy.yml (read with the policy's own
loader) through a mapping written out in this file, not from the code under test.
"""

from __future__ import annotations

import os
import shutil
from datetime import timedelta
from pathlib import Path

import duckdb
import pytest

from mallcrm.core.warehouse import connect
from pipeline import steps
from privacy.bi_copy import BI_STORAGE_VERSION, publish_bi_copy
from privacy.policy import PRIVILEGED_ROLES, load_policy
from privacy.publish import publish_role_files, role_file_path
from privacy.scan import raw_needles, scan
from quality.runner import marketing_file_checks
from tests.conftest import settings_for

pytestmark = pytest.mark.integration

MEMBERS = "raw_membership.members"
# mart column -> (raw table, raw column, masking method that produced it)
SOURCES = {
    "member_id": (MEMBERS, "member_id", "clear"),
    "survivor_member_id": (MEMBERS, "member_id", "clear"),
    "source_member_id": (MEMBERS, "member_id", "clear"),
    "merged_member_id": (MEMBERS, "member_id", "clear"),
    "event_member_id": (MEMBERS, "member_id", "clear"),
    "golden_member_id": (MEMBERS, "member_id", "clear"),
    "referrer_member_id": (MEMBERS, "referrer_member_id", "clear"),
    "family_group_id": (MEMBERS, "family_group_id", "clear"),
    "card_no_token": (MEMBERS, "card_no", "token"),
    "mobile_token": (MEMBERS, "mobile", "token"),
    "email_token": (MEMBERS, "email", "token"),
    "full_name_masked": (MEMBERS, "name", "display_mask"),
    "mobile_masked": (MEMBERS, "mobile", "display_mask"),
    "email_masked": (MEMBERS, "email", "display_mask"),
    "birth_month": (MEMBERS, "birthday", "generalize:birth_month"),
    "age_band": (MEMBERS, "birthday", "generalize:age_band"),
    "is_minor": (MEMBERS, "birthday", "generalize:is_minor"),
    "comment_text_scrubbed": ("raw_feedback.surveys", "comment", "scrub"),
    "complaint_text_scrubbed": ("raw_feedback.complaints", "description", "scrub"),
    "member_card_no_token": ("raw_pos.transactions", "member_card_no", "token"),
    "member_mobile_token": ("raw_pos.transactions", "member_mobile", "token"),
    "device_token": ("raw_sensors.wifi_dwell", "device_hash", "token"),
    # personal values in clear, should a mart ever carry one
    "card_no": (MEMBERS, "card_no", "clear"),
    "mobile": (MEMBERS, "mobile", "clear"),
    "email": (MEMBERS, "email", "clear"),
    "name": (MEMBERS, "name", "clear"),
    "full_name": (MEMBERS, "name", "clear"),
    "birthday": (MEMBERS, "birthday", "clear"),
    "birth_date": (MEMBERS, "birthday", "clear"),
    "comment_text": ("raw_feedback.surveys", "comment", "clear"),
    "complaint_text": ("raw_feedback.complaints", "description", "clear"),
    "member_mobile": ("raw_pos.transactions", "member_mobile", "clear"),
    "member_card_no": ("raw_pos.transactions", "member_card_no", "clear"),
    "device_hash": ("raw_sensors.wifi_dwell", "device_hash", "clear"),
}


# tokens of several kinds of identifier in one column (the identity merge audit): no single
# policy column names them, so only the privileged roles may receive them
PRIVILEGED_ONLY = {"identifier_token"}


def granted(policy: dict, table: str, column: str, role: str) -> list[str]:
    """The policy's masking methods for one raw column and role (profile, then default)."""
    spec = policy["tables"][table]["columns"][column]
    masking = spec["masking"]
    if isinstance(masking, str):
        masking = policy["masking_profiles"][masking]
    value = masking.get(role, masking.get("default"))
    return [value] if isinstance(value, str) else list(value or [])


def forbidden_columns(policy: dict, role: str) -> set[str]:
    """Mart columns the role must not get: a method the policy grants it neither as such nor via clear."""
    out = set()
    for mart_column, (table, column, method) in SOURCES.items():
        methods = granted(policy, table, column, role)
        if method not in methods and "clear" not in methods:
            out.add(mart_column)
    return out if role in PRIVILEGED_ROLES else out | PRIVILEGED_ONLY


def minor_free_roles(policy: dict) -> set[str]:
    """Roles the policy names in the minors' handling (excluded from their outputs)."""
    handling = policy["tables"][MEMBERS]["minors"]["handling"]
    return {role for role in policy["roles"] if role in handling.split("outputs")[0]}


def columns_by_table(con, schema: str = "marts") -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for table, column in con.execute(
        "select table_name, column_name from information_schema.columns "
        "where table_catalog = current_database() and table_schema = ?",
        [schema],
    ).fetchall():
        out.setdefault(table, set()).add(column)
    return out


@pytest.fixture(scope="module")
def policy():
    return load_policy()


@pytest.fixture(scope="module")
def published(built_mall):
    settings, _, ok = built_mall
    assert ok
    return publish_role_files(settings)


@pytest.fixture(scope="module")
def warehouse_columns(built_mall):
    con = connect(built_mall[0])
    try:
        return columns_by_table(con)
    finally:
        con.close()


def open_role(path):
    return duckdb.connect(str(path), read_only=True)


def store_scoped_roles(policy: dict) -> dict[str, dict]:
    """Roles the policy scopes per store, with their scope entry."""
    return {
        r: spec["scope"] for r, spec in policy["roles"].items() if (spec or {}).get("scope", {}).get("per") == "store"
    }


def role_paths(published, role) -> list:
    """Every file of a role: one, or one per store for a store-scoped role."""
    return published[role].files()


def store_ids(settings) -> list[str]:
    con = connect(settings)
    try:
        return [s for (s,) in con.execute("select store_id from marts.dim_store order by 1").fetchall()]
    finally:
        con.close()


def test_one_file_per_declared_role_with_only_marts(built_mall, published, policy, warehouse_columns):
    settings = built_mall[0]
    assert set(published) == set(policy["roles"])
    scoped = store_scoped_roles(policy)
    assert set(scoped) == {"store_operations"}
    roles_dir = settings.warehouse_dir / "roles"
    assert sorted(p.name for p in roles_dir.iterdir()) == sorted(
        f"{r}.duckdb" if r not in scoped else r for r in policy["roles"]
    )
    stores = store_ids(settings)
    assert len(stores) > 1
    for role in scoped:
        assert sorted(p.name for p in (roles_dir / role).iterdir()) == sorted(f"{s}.duckdb" for s in stores)
        assert sorted(published[role].stores) == stores
    for role, role_file in published.items():
        if role in scoped:
            assert role_file.path == roles_dir / role
            files = {s: (f.path, f.tables) for s, f in role_file.stores.items()}
            assert all(path == roles_dir / role / f"{s}.duckdb" for s, (path, _) in files.items())
            assert all(path == role_file_path(settings, role, s) for s, (path, _) in files.items())
        else:
            assert role_file.path == roles_dir / f"{role}.duckdb" == role_file_path(settings, role)
            files = {None: (role_file.path, role_file.tables)}
        for path, expected_tables in files.values():
            con = open_role(path)
            try:
                schemas = {
                    s
                    for (s,) in con.execute(
                        "select distinct table_schema from information_schema.tables "
                        "where table_catalog = current_database()"
                    ).fetchall()
                }
                assert schemas == {"marts", "metrics"}, role  # metrics: the metric views (semantic/)
                tables = columns_by_table(con)
                assert set(expected_tables) == {f"marts.{t}" for t in tables}
                assert set(tables) <= set(warehouse_columns)
                for name, rows in expected_tables.items():
                    assert con.execute(f"select count(*) from {name}").fetchone()[0] == rows
            finally:
                con.close()
    # compliance gets every mart
    assert set(published["compliance"].tables) == {f"marts.{t}" for t in warehouse_columns}


def test_store_operations_files_hold_only_their_store(built_mall, published, policy, warehouse_columns):
    """One file per store: tables with store_id keep that store's rows, zone tables the
    store's zone, the policy's shared tables are whole, and nothing else is in the file."""
    settings = built_mall[0]
    scope = policy["roles"]["store_operations"]["scope"]
    con = connect(settings)
    try:
        zones = dict(con.execute("select store_id, zone_id from marts.dim_store").fetchall())
        totals = {t: con.execute(f"select count(*) from marts.{t}").fetchone()[0] for t in warehouse_columns}
    finally:
        con.close()
    with_store = {t for t, cols in warehouse_columns.items() if scope["column"] in cols}
    with_zone = {t for t, cols in warehouse_columns.items() if scope["zone_column"] in cols} - with_store
    shared = set(scope["shared_tables"])
    assert "fct_transactions" in with_store and with_zone and shared <= set(warehouse_columns)
    left_out = set(warehouse_columns) - with_store - with_zone - shared
    assert {"dim_member", "mart_member_360"} <= left_out  # mall-wide member data is not a store's
    seen_rows = dict.fromkeys(with_store, 0)
    for store, role_file in published["store_operations"].stores.items():
        con = open_role(role_file.path)
        try:
            tables = set(columns_by_table(con))
            assert tables == (with_store | with_zone | shared) & tables and not tables & left_out, store
            for table in tables & with_store:
                values = {v for (v,) in con.execute(f"select distinct store_id from marts.{table}").fetchall()}
                assert values <= {store}, f"{store} {table}: {values}"
                seen_rows[table] += con.execute(f"select count(*) from marts.{table}").fetchone()[0]
            for table in tables & with_zone:
                values = {v for (v,) in con.execute(f"select distinct zone_id from marts.{table}").fetchall()}
                assert values <= {zones[store]}, f"{store} {table}: {values}"
            for table in tables & shared:
                assert con.execute(f"select count(*) from marts.{table}").fetchone()[0] == totals[table]
        finally:
            con.close()
    # the store files together hold every store-attributed fact row of an adult or anonymous member
    assert seen_rows["fct_transactions"] == published["management_bi"].tables["marts.fct_transactions"]
    assert seen_rows["fct_transactions"] > 0


def test_every_mapped_source_column_is_in_the_policy(policy, warehouse_columns):
    for table, column, _ in SOURCES.values():
        assert policy["tables"][table]["columns"][column]["class"] != "none"
    # a new masked column in the marts must be added to SOURCES (and to publish's mapping)
    all_columns = set().union(*warehouse_columns.values())
    derived = {
        c
        for c in all_columns
        if c.endswith(("_token", "_masked", "_scrubbed")) or c in ("birth_month", "age_band", "is_minor")
    }
    assert derived <= set(SOURCES) | PRIVILEGED_ONLY


@pytest.mark.parametrize("role", ["marketing", "store_operations", "management_bi", "data_science", "compliance"])
def test_role_file_lacks_what_the_role_must_not_see(published, policy, warehouse_columns, role):
    assert role in policy["roles"]
    forbidden = forbidden_columns(policy, role)
    if role in PRIVILEGED_ROLES:
        assert forbidden == set()
    else:
        # the check is not vacuous: the marts hold columns this role must not get
        assert forbidden & set().union(*warehouse_columns.values()), role
    for path in role_paths(published, role):
        con = open_role(path)
        try:
            tables = columns_by_table(con)
        finally:
            con.close()
        for table, columns in tables.items():
            assert not columns & forbidden, f"{role}: {table} holds {sorted(columns & forbidden)}"
            # and everything else of the mart is kept
            assert columns == warehouse_columns[table] - forbidden, f"{role}: {table}"


def test_policy_examples(published):
    """A few cells of the mapping, spelled out for a reviewer."""

    def dim_member_columns(role):
        con = open_role(published[role].path)
        try:
            return columns_by_table(con)["dim_member"]
        finally:
            con.close()

    assert "member_id" not in dim_member_columns("management_bi")
    assert "age_band" in dim_member_columns("management_bi")
    assert {"mobile_masked", "mobile_token", "birth_month"} <= dim_member_columns("marketing")
    assert "age_band" not in dim_member_columns("marketing")
    store_file = next(iter(published["store_operations"].stores.values())).path
    con = open_role(store_file)
    try:
        store_columns = columns_by_table(con)
    finally:
        con.close()
    assert "dim_member" not in store_columns  # mall-wide member data is no store's
    assert "complaint_text_scrubbed" in store_columns["fct_complaints"]
    assert not {"member_mobile_token", "member_card_no_token"} & store_columns["fct_transactions"]
    assert "full_name_masked" not in dim_member_columns("data_science")
    assert {"age_band", "birth_month", "is_minor", "mobile_token"} <= dim_member_columns("data_science")


def test_marketing_rows_are_exactly_the_consenting_members(built_mall, published, policy):
    marketing_scopes = [s for s in policy["consent_scopes"] if s.startswith("marketing_")]
    con = connect(built_mall[0])
    try:
        # independent of the mart: latest consent event per golden member and scope among
        # all consent events (consent is evaluated now, not as of the analytics date), from
        # the masked consents
        consenting = {
            m
            for (m,) in con.execute(
                """
            with events as (
                select ids.golden_member_id as member_id, c.consent_scope, c.is_granted,
                    row_number() over (
                        partition by ids.golden_member_id, c.consent_scope
                        order by c.event_at desc, c.consent_event_id desc
                    ) as recency
                from masked.msk_membership__consents as c
                join intermediate.int_member__identity_map as ids
                    on ids.identifier_type = 'member_id' and ids.identifier_value = c.member_id
            )
            select distinct member_id from events
            where recency = 1 and is_granted and consent_scope in (select unnest(?))
            """,
                [marketing_scopes],
            ).fetchall()
        }
        minors = {m for (m,) in con.execute("select member_id from marts.dim_member where is_minor").fetchall()}
        registered = {m for (m,) in con.execute("select member_id from marts.dim_member").fetchall()}
        warehouse = columns_by_table(con)
    finally:
        con.close()
    assert "marketing" in minor_free_roles(policy)
    expected = (consenting & registered) - minors
    assert 0 < len(expected) < len(registered)

    con = open_role(published["marketing"].path)
    try:
        assert {m for (m,) in con.execute("select member_id from marts.dim_member").fetchall()} == expected
        member_tables = [t for t, cols in warehouse.items() if "member_id" in cols]
        assert len(member_tables) > 3
        for table in member_tables:
            ids = {m for (m,) in con.execute(f"select distinct member_id from marts.{table}").fetchall()}
            assert ids <= expected, f"marketing {table}: {sorted(ids - expected)[:5]}"
        m360 = {m for (m,) in con.execute("select member_id from marts.mart_member_360").fetchall()}
        assert m360 <= expected and m360
    finally:
        con.close()


def test_minors_only_in_the_compliance_file(built_mall, published, policy):
    con = connect(built_mall[0])
    try:
        minors = {m for (m,) in con.execute("select member_id from marts.dim_member where is_minor").fetchall()}
        warehouse = columns_by_table(con)
    finally:
        con.close()
    assert minors, "the small mall has members under 14"
    member_tables = [t for t, cols in warehouse.items() if "member_id" in cols]
    excluded = minor_free_roles(policy)
    assert excluded == set(policy["roles"]) - PRIVILEGED_ROLES
    for role in published:
        for path in role_paths(published, role):
            con = open_role(path)
            try:
                for table in member_tables:
                    cols = columns_by_table(con).get(table, set())
                    if "member_id" not in cols:  # management_bi: no member_id at all
                        continue
                    ids = {m for (m,) in con.execute(f"select distinct member_id from marts.{table}").fetchall()}
                    if role in excluded:
                        assert not ids & minors, f"{role} {table}"
                if role not in excluded:
                    dim = {m for (m,) in con.execute("select member_id from marts.dim_member").fetchall()}
                    assert minors <= dim
            finally:
                con.close()


def test_management_bi_rows_exclude_minors_without_member_id(built_mall, published):
    con = connect(built_mall[0])
    try:
        adults = con.execute("select count(*) from marts.dim_member where not coalesce(is_minor, false)").fetchone()[0]
    finally:
        con.close()
    assert published["management_bi"].tables["marts.dim_member"] == adults


def test_no_raw_personal_values_in_any_role_file(built_mall, published):
    con = connect(built_mall[0])
    try:
        needles = raw_needles(con)
        # positive control: the scanner does find the raw values where they are
        assert scan(con, ("raw_membership",), needles)
    finally:
        con.close()
    assert len(needles) > 100
    for role in published:
        for path in role_paths(published, role):
            con = open_role(path)
            try:
                findings = scan(con, ("marts",), needles)
            finally:
                con.close()
            assert findings == [], f"{role} {path.name}: " + "; ".join(map(str, findings[:5]))


def test_republish_replaces_the_set_atomically(built_mall, published):
    settings = built_mall[0]
    warehouse = settings.warehouse_dir
    before = os.readlink(warehouse / "roles")
    # what a publish killed half-way leaves: a generation never swapped in, a temporary link
    half_built = warehouse / "roles.gen-19700101T000000000000Z-deadbeef"
    (half_built / "store_operations").mkdir(parents=True)
    (half_built / "marketing.duckdb").write_bytes(b"half written")
    os.symlink(half_built.name, warehouse / "roles.link-deadbeef")
    again = publish_role_files(settings)
    assert {r: f.tables for r, f in again.items()} == {r: f.tables for r, f in published.items()}
    roles = warehouse / "roles"
    assert roles.is_symlink() and os.readlink(roles) != before
    assert not Path(os.readlink(roles)).is_absolute()  # the warehouse directory can move
    # one generation is left: the current one; nothing half-built, nothing superseded
    generations = sorted(p.name for p in warehouse.iterdir() if p.name.startswith("roles"))
    assert generations == ["roles", os.readlink(roles)]
    leftovers = [p.name for p in roles.rglob("*") if not p.name.endswith(".duckdb") and not p.is_dir()]
    assert leftovers == []
    # what walks the warehouse (erasure's byte checks: rglob) sees each role file once
    found = [p for p in warehouse.rglob("*.duckdb") if p != settings.warehouse and p.parent.name != "bi"]
    assert len(found) == sum(len(f.files()) for f in again.values())


def test_a_plain_roles_directory_from_before_generations_is_replaced(tmp_path, built_mall):
    source = built_mall[0].warehouse_dir
    shutil.copytree(source, tmp_path / "warehouse", ignore=shutil.ignore_patterns("roles*", "bi", "*.lock", ".dlt"))
    settings = settings_for(tmp_path)
    (settings.warehouse_dir / "roles").mkdir()
    (settings.warehouse_dir / "roles" / "marketing.duckdb").write_bytes(b"a role file of an older publish")
    published = publish_role_files(settings)
    roles = settings.warehouse_dir / "roles"
    assert roles.is_symlink()
    assert sorted(p.name for p in settings.warehouse_dir.iterdir() if p.name.startswith("roles")) == [
        "roles",
        os.readlink(roles),
    ]
    con = open_role(published["marketing"].path)
    try:
        assert con.execute("select count(*) from marts.dim_member").fetchone()[0] > 0
    finally:
        con.close()


def test_bi_copy_is_the_management_bi_role_output(built_mall, published):
    """The BI copy (the dashboard's and Evidence's source) holds exactly what management_bi
    may see: no member ids, names, contacts or minors, in DuckDB 1.4 storage."""
    settings = built_mall[0]
    copy = publish_bi_copy(settings)
    assert copy.tables == published["management_bi"].tables
    con = connect(settings, copy.path)
    try:
        tags = con.execute("select tags from duckdb_databases() where database_name = current_database()").fetchone()[0]
        assert tags["storage_version"].startswith(BI_STORAGE_VERSION)
        columns = columns_by_table(con)
    finally:
        con.close()
    every = set().union(*columns.values())
    assert not every & {"member_id", "full_name_masked", "mobile_masked", "email_masked", "mobile_token", "is_minor"}
    con = connect(settings)
    try:
        adults = con.execute("select count(*) from marts.dim_member where not coalesce(is_minor, false)").fetchone()[0]
    finally:
        con.close()
    assert copy.tables["marts.dim_member"] == adults


def _latest_pos_day(inbox: Path) -> str:
    return max(p.stem.rsplit("_", 1)[-1] for p in (inbox / "pos").glob("transactions_*.csv"))


def test_a_withdrawal_after_the_latest_pos_day_is_honoured_in_the_next_publish(fresh_mall, policy):
    """A member withdraws every marketing consent the day after the latest POS day: the
    analytics as-of date stays on that POS day, yet the marketing role file published
    next leaves the member out, and the quality check flags the file published before."""
    settings = fresh_mall
    steps.ingest(settings)
    assert steps.build(settings, quiet=True).success
    scopes = [s for s in policy["consent_scopes"] if s.startswith("marketing_")]
    flags = " or ".join(f"has_consent_{s}" for s in scopes)
    con = connect(settings)
    try:
        as_of = con.execute("select max(as_of_date) from marts.mart_member_360").fetchone()[0]
        member = con.execute(
            f"""
            select m.member_id from marts.mart_member_360 as m
            join marts.dim_member as d using (member_id)
            where ({flags}) and not coalesce(d.is_minor, false)
              and m.member_id in (select identifier_value from intermediate.int_member__identity_map
                                  where identifier_type = 'member_id' and golden_member_id = identifier_value)
              and m.member_id in (select member_id from marts.fct_transactions)
            order by m.member_id limit 1
            """
        ).fetchone()[0]
    finally:
        con.close()
    assert as_of.strftime("%Y%m%d") == _latest_pos_day(settings.inbox)
    steps.publish_roles(settings)
    assert member in _marketing_members(settings)
    assert all(r.passed for r in marketing_file_checks(settings))

    # the withdrawal arrives the day after the latest POS day
    withdrawn_on = as_of + timedelta(days=1)
    path = settings.inbox / "membership" / f"consents_{withdrawn_on:%Y%m%d}.csv"
    lines = ['"consent_event_id","member_id","scope","granted","event_at","channel","policy_version"']
    lines += [
        f'"CEWITHDRAW{i:03d}","{member}","{scope}",false,{withdrawn_on} 09:30:00,"app","v3.0"'
        for i, scope in enumerate(scopes)
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    steps.ingest(settings)
    assert steps.build(settings, quiet=True).success
    con = connect(settings)
    try:
        assert con.execute("select max(as_of_date) from marts.mart_member_360").fetchone()[0] == as_of
        # the member mart stays as of the analytics date: it still shows the consent
        # (what the marketing file used to be filtered on)
        assert con.execute(f"select {flags} from marts.mart_member_360 where member_id = ?", [member]).fetchone()[0]
        latest = con.execute(
            "select count(*) from masked.msk_membership__consents where member_id = ? and not is_granted "
            "and consent_event_id like 'CEWITHDRAW%'",
            [member],
        ).fetchone()[0]
    finally:
        con.close()
    assert latest == len(scopes), "the withdrawal file was not loaded"

    # the consent check on the file published before the withdrawal, then today's publish
    stale = [r for r in marketing_file_checks(settings) if not r.passed]
    steps.publish_roles(settings)
    assert member not in _marketing_members(settings), "a withdrawal after the as-of date was ignored"
    assert stale and all(r.dataset.startswith("roles/marketing.") for r in stale), "the stale file passed the check"
    assert all(r.passed for r in marketing_file_checks(settings))


def _marketing_members(settings) -> set[str]:
    con = open_role(role_file_path(settings, "marketing"))
    try:
        members = set()
        for (table,) in con.execute(
            "select table_name from information_schema.columns where column_name = 'member_id'"
        ).fetchall():
            members |= {m for (m,) in con.execute(f"select distinct member_id from marts.{table}").fetchall()}
        return members
    finally:
        con.close()
