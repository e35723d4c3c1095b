"""Omnichannel identity on the session's small mall: the digital exports load, WeChat and
device identifiers never leave staging in clear, an anonymous event is attributed once its
device logs in, and the merge audit covers every merged identifier."""

from __future__ import annotations

import pytest

from mallcrm.core.warehouse import connect

pytestmark = pytest.mark.integration

DOWNSTREAM = ("masked", "intermediate", "marts", "ml_features")


@pytest.fixture(scope="module")
def mall(built_mall):
    settings, report, ok = built_mall
    con = connect(settings)
    yield con, report, ok
    con.close()


def one(con, sql, params=None):
    return con.execute(sql, params or []).fetchone()


def test_the_digital_exports_load(mall):
    con, _, _ = mall  # the whole build's success is test_privacy_masking's; these tables are checked here
    files = con.execute(
        "select entity, count(*), sum(rows_loaded), sum(rows_quarantined) from raw_digital.ingested_files "
        "where status = 'loaded' group by entity"
    ).fetchall()
    by_entity = {entity: (n, loaded, quarantined) for entity, n, loaded, quarantined in files}
    assert set(by_entity) == {"wechat_identities", "app_events", "activity_signups"}
    for entity, (n, loaded, quarantined) in by_entity.items():
        assert n > 1 and loaded > 0 and quarantined == 0, entity
    staged = one(con, "select count(*) from staging.stg_ingest__files where source_system = 'digital'")[0]
    assert staged == sum(n for n, _, _ in by_entity.values())
    assert (
        one(con, "select count(*) from masked.msk_digital__app_events")[0]
        == one(con, "select count(distinct event_id) from raw_digital.app_events")[0]
    )


def test_openids_unionids_and_devices_never_appear_in_clear_downstream_of_staging(mall):
    con, _, _ = mall
    con.execute(
        """create or replace temp table digital_needles as
        select distinct v from (
            select openid as v from raw_digital.wechat_identities
            union all select unionid from raw_digital.wechat_identities
            union all select device_id from raw_digital.app_events
            union all select openid from raw_digital.app_events
        ) where v is not null"""
    )
    assert one(con, "select count(*) from digital_needles")[0] > 100
    # positive control: staging holds them in clear, so the search below would see them
    assert one(
        con, "select count(*) from staging.stg_digital__app_events where device_id in (select v from digital_needles)"
    )[0]
    columns = con.execute(
        "select table_schema, table_name, column_name from information_schema.columns "
        f"where table_schema in {DOWNSTREAM!r} and data_type = 'VARCHAR'"
    ).fetchall()
    assert len(columns) > 100
    leaks = [
        f"{schema}.{table}.{column}"
        for schema, table, column in columns
        if one(con, f'select count(*) from {schema}."{table}" where "{column}" in (select v from digital_needles)')[0]
    ]
    assert leaks == []
    # the tokens are the HMAC of the clear values, and they still join across tables
    assert one(
        con,
        "select count(*) from masked.msk_digital__app_events as e "
        "join masked.msk_digital__wechat_identities as w on e.openid_token = w.openid_token",
    )[0]


def test_an_anonymous_event_is_attributed_after_its_device_logs_in(mall):
    con, _, _ = mall
    later = con.execute(
        """select anonymous.event_id, login.member_id
        from raw_digital.app_events as anonymous
        join raw_digital.app_events as login
            on login.device_id = anonymous.device_id
            and login.event_type = 'login'
            and login.event_at > anonymous.event_at
        where anonymous.member_id is null
        order by anonymous.event_id"""
    ).fetchall()
    assert later, "the small mall has no device that browsed before logging in"
    for event_id, member_id in later[:50]:
        row = one(
            con,
            """select f.member_id, f.resolved_via, f.is_anonymous_event, f.is_attributed_later, m.golden_member_id
            from marts.fct_digital_events as f
            join intermediate.int_member__identity_map as m
                on m.identifier_type = 'member_id' and m.identifier_value = ?
            where f.event_id = ?""",
            [member_id, event_id],
        )
        assert row is not None, event_id
        resolved, via, anonymous, attributed, golden = row
        assert (resolved, anonymous, attributed) == (golden, True, True), event_id
        assert via in ("device", "openid"), event_id
    # devices that never logged in stay unattributed
    never = one(
        con,
        """select count(*) from marts.fct_digital_events where is_anonymous_event and member_id is null""",
    )[0]
    assert never > 0


def test_the_merge_audit_covers_every_merged_identifier(mall):
    con, _, _ = mall
    missing = one(
        con,
        """select count(*) from intermediate.int_member__identity_map as m
        where not (m.identifier_type = 'member_id' and m.identifier_value = m.golden_member_id)
          and m.identity_key not in (select merge_key from marts.mart_identity_merges)""",
    )[0]
    extra = one(
        con,
        """select count(*) from marts.mart_identity_merges
        where merge_key not in (select identity_key from intermediate.int_member__identity_map)""",
    )[0]
    assert (missing, extra) == (0, 0)
    devices, with_login, hops = one(
        con,
        """select count(*), sum(case when via_edge_types like '%device_login%' then 1 else 0 end), min(hops)
        from marts.mart_identity_merges where identifier_type = 'device_id_token'""",
    )
    assert devices > 0 and with_login == devices and hops >= 1
    # the WeChat chain member -> mini-program openid -> unionid -> official-account openid is followed
    assert (
        one(
            con,
            "select max(hops) from marts.mart_identity_merges where identifier_type = 'openid_token'",
        )[0]
        >= 3
    )
    # every edge joins identifiers of one golden member (the rounds were enough)
    crossing = one(
        con,
        """select count(*) from intermediate.int_member__identity_graph as g
        left join intermediate.int_member__identity_map as a
            on a.identifier_type = g.from_node_type and a.identifier_value = g.from_node_value
        left join intermediate.int_member__identity_map as b
            on b.identifier_type = g.to_node_type and b.identifier_value = g.to_node_value
        where coalesce(a.golden_member_id, '') <> coalesce(b.golden_member_id, '')""",
    )[0]
    assert crossing == 0
