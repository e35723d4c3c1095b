"""The masked layer on a real small mall: nothing personal leaks, tokens join, HMAC is HMAC."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from mallcrm.core.warehouse import connect
from privacy.scan import scan
from privacy.tokens import normalize
from tests.conftest import TEST_HMAC_KEY, TEST_HMAC_KEY_VERSION

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def masked_mall(built_mall):
    """The session's small mall (built with the test key set in tests/conftest.py)."""
    settings, _, ok = built_mall
    con = connect(settings)
    yield con, ok
    con.close()


def rows(con, sql, params=None):
    return con.execute(sql, params or []).fetchall()


def test_build_succeeds_with_every_masked_model(masked_mall):
    con, ok = masked_mall
    assert ok, "dbt build of the masked layer failed"
    staging = {
        r[0] for r in rows(con, "select table_name from information_schema.tables where table_schema = 'staging'")
    }
    masked = {r[0] for r in rows(con, "select table_name from information_schema.tables where table_schema = 'masked'")}
    for name in staging - {"stg_ingest__files", "stg_ingest__quarantined_rows"}:
        assert "msk_" + name[len("stg_") :] in masked
    assert rows(con, "select count(*) from masked.msk_membership__members")[0][0] > 0


def test_scanner_finds_personal_data_in_staging(masked_mall):
    """Positive control: the scan below would see raw values if they were there."""
    con, _ = masked_mall
    kinds = {f.kind for f in scan(con, ("staging",))}
    assert {"cn_mobile", "email", "card_number", "raw_member_value"} <= kinds


def test_no_personal_data_in_masked_intermediate_or_marts(masked_mall):
    con, _ = masked_mall
    needles = [r[0] for r in rows(con, "select distinct name from raw_membership.members")]
    assert len(needles) > 100
    findings = scan(con, ("masked", "intermediate", "marts"))
    assert findings == [], "\n".join(map(str, findings))


def test_pos_tokens_join_member_tokens(masked_mall):
    con, _ = masked_mall
    by_card = rows(
        con,
        """
        select count(*), count(*) filter (where m.member_id = k.member_id)
        from staging.stg_pos__transactions t
        join staging.stg_membership__members m on t.member_card_no = m.card_no
        join masked.msk_pos__transactions mt using (transaction_id)
        left join masked.msk_membership__members k on mt.member_card_no_token = k.card_no_token
    """,
    )[0]
    assert by_card[0] > 0 and by_card[0] == by_card[1]
    by_mobile = rows(
        con,
        """
        select count(*), count(*) filter (where m.member_id = k.member_id)
        from staging.stg_pos__transactions t
        join staging.stg_membership__members m on t.member_mobile = m.mobile
        join masked.msk_pos__transactions mt using (transaction_id)
        left join masked.msk_membership__members k on mt.member_mobile_token = k.mobile_token
    """,
    )[0]
    assert by_mobile[0] > 0 and by_mobile[0] == by_mobile[1]


def test_tokens_are_python_hmac_sha256_with_the_configured_key(masked_mall):
    con, _ = masked_mall
    sample = rows(
        con,
        """
        select s.card_no, s.mobile, s.email, m.card_no_token, m.mobile_token, m.email_token,
               m.pii_key_version
        from staging.stg_membership__members s
        join masked.msk_membership__members m using (member_id)
        order by member_id limit 50
    """,
    )
    key = TEST_HMAC_KEY.encode()

    def expected(value, pii_type):
        norm = normalize(value, pii_type)
        return None if norm is None else hmac.new(key, norm.encode(), hashlib.sha256).hexdigest()

    for card, mobile, email, card_t, mobile_t, email_t, version in sample:
        assert card_t == expected(card, "card_no")
        assert mobile_t == expected(mobile, "mobile")
        assert email_t == expected(email, "email")
        assert version == TEST_HMAC_KEY_VERSION
    assert rows(con, "select key_version, is_demo_key from masked.key_versions") == [(TEST_HMAC_KEY_VERSION, False)]


def test_masks_and_generalizations(masked_mall):
    con, _ = masked_mall
    bad = rows(
        con,
        """
        select s.full_name, m.full_name_masked, m.mobile_masked, m.email_masked, m.age_band
        from staging.stg_membership__members s
        join masked.msk_membership__members m using (member_id)
        where m.full_name_masked = s.full_name
           or m.mobile_masked not like '%****%'
           or (s.email is not null and m.email_masked not like '%***@%')
           or (s.birth_date is not null and (m.birth_month <> month(s.birth_date)
               or m.age_band is null or m.is_minor is null))
           or (m.is_minor and m.age_band <> '<14')
    """,
    )
    assert bad == []
    leaked = rows(
        con,
        """
        select s.comment_text, m.comment_text_scrubbed
        from staging.stg_feedback__surveys s
        join masked.msk_feedback__surveys m using (response_id)
        where regexp_matches(s.comment_text, '1[3-9][0-9]{9}')
          and not contains(m.comment_text_scrubbed, '[电话]')
    """,
    )
    assert leaked == []
