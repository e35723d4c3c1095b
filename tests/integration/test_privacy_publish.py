"""Role-scoped publish files (privacy/publish.py) on the small built mall.

The expectations are derived here from privacy/policy.yml (read with the policy's own
loader) through a mapping written out in this file, not from the code under test.
"""

from __future__ import annotations

import duckdb
import pytest

from mallcrm.core.warehouse import connect
from privacy.policy import PRIVILEGED_ROLES, load_policy
from privacy.publish import publish_role_files
from privacy.scan import raw_needles, scan

pytestmark = pytest.mark.integration

MEMBERS = "raw_membership.members"
# mart column -> (raw table, raw column, masking method that produced it)
SOURCES = {
    "member_id": (MEMBERS, "member_id", "clear"),
    "survivor_member_id": (MEMBERS, "member_id", "clear"),
    "source_member_id": (MEMBERS, "member_id", "clear"),
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
    return out


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


def test_one_file_per_declared_role_with_only_marts(built_mall, published, policy, warehouse_columns):
    settings = built_mall[0]
    assert set(published) == set(policy["roles"])
    roles_dir = settings.warehouse_dir / "roles"
    assert sorted(p.name for p in roles_dir.iterdir()) == sorted(f"{r}.duckdb" for r in policy["roles"])
    for role, role_file in published.items():
        assert role_file.path == roles_dir / f"{role}.duckdb"
        con = open_role(role_file.path)
        try:
            schemas = {
                s
                for (s,) in con.execute(
                    "select distinct table_schema from information_schema.tables "
                    "where table_catalog = current_database()"
                ).fetchall()
            }
            assert schemas == {"marts"}, role
            tables = columns_by_table(con)
            assert set(role_file.tables) == {f"marts.{t}" for t in tables}
            assert set(tables) <= set(warehouse_columns)
            for name, rows in role_file.tables.items():
                assert con.execute(f"select count(*) from {name}").fetchone()[0] == rows
        finally:
            con.close()
    # compliance gets every mart
    assert set(published["compliance"].tables) == {f"marts.{t}" for t in warehouse_columns}


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
    assert derived <= set(SOURCES)


@pytest.mark.parametrize("role", ["marketing", "store_operations", "management_bi", "data_science", "compliance"])
def test_role_file_lacks_what_the_role_must_not_see(published, policy, warehouse_columns, role):
    assert role in policy["roles"]
    forbidden = forbidden_columns(policy, role)
    if role in PRIVILEGED_ROLES:
        assert forbidden == set()
    else:
        # the check is not vacuous: the marts hold columns this role must not get
        assert forbidden & set().union(*warehouse_columns.values()), role
    con = open_role(published[role].path)
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
    assert not {"mobile_token", "birth_month", "age_band"} & dim_member_columns("store_operations")
    assert "full_name_masked" not in dim_member_columns("data_science")
    assert {"age_band", "birth_month", "is_minor", "mobile_token"} <= dim_member_columns("data_science")


def test_marketing_rows_are_exactly_the_consenting_members(built_mall, published, policy):
    marketing_scopes = [s for s in policy["consent_scopes"] if s.startswith("marketing_")]
    con = connect(built_mall[0])
    try:
        # independent of the mart: latest consent event per golden member and scope, up to
        # the as-of date, from the masked consents
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
                where c.business_date <= (select max(as_of_date) from marts.mart_member_360)
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
    for role, role_file in published.items():
        con = open_role(role_file.path)
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
    for role, role_file in published.items():
        con = open_role(role_file.path)
        try:
            findings = scan(con, ("marts",), needles)
        finally:
            con.close()
        assert findings == [], f"{role}: " + "; ".join(map(str, findings[:5]))


def test_republish_replaces_files_atomically(built_mall, published):
    settings = built_mall[0]
    again = publish_role_files(settings)
    assert {r: f.tables for r, f in again.items()} == {r: f.tables for r, f in published.items()}
    leftovers = [p.name for p in (settings.warehouse_dir / "roles").iterdir() if not p.name.endswith(".duckdb")]
    assert leftovers == []
