"""Audiences as code: spec checks, the generated dbt models, the holdout rule, the export rules."""

from __future__ import annotations

import copy
import hashlib
from pathlib import Path

import duckdb
import pytest

from activation import render
from activation.build import holdout_fraction_sql
from activation.export import ContactsNotAllowed, contact_column, fields_violations, file_fields, srm_p_value
from activation.gates import GATES, check_gates_declared
from activation.spec import SpecError, load_audiences, load_rules, parse_audience
from cli.audiences import uplift_lines
from privacy.policy import load_policy
from tests.conftest import settings_for

GOOD = """
name: {name}
label: 测试 Test
description: A test audience.
owner: CRM <crm@example.com>
channel: sms
purpose: marketing
cadence: weekly
holdout_share: 0.2
priority: 99
payload:
  favourite_category: varchar
definition: select member_id, favourite_category from {{{{ ref('mart_member_360') }}}}
"""


def _spec(tmp_path: Path, text: str, name: str = "test_audience") -> Path:
    path = tmp_path / f"{name}.yml"
    path.write_text(text.format(name=name), encoding="utf-8")
    return path


def test_the_shipped_audiences_load_and_their_models_are_generated():
    audiences = load_audiences()
    assert len(audiences) >= 8
    assert {a.name for a in audiences} >= {
        "birthday_this_month",
        "points_expiring_30d",
        "winback_high_value",
        "dormant_reactivation",
        "new_member_second_purchase",
        "near_vip_threshold",
        "product_recommendations",
        "category_cross_sell",
    }
    assert [a.priority for a in audiences] == sorted(a.priority for a in audiences)
    assert render.main(["--check"]) == 0, "run `python -m activation.render`"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("channel: sms", "channel: fax"), "channel 'fax' is not one of"),
        (("holdout_share: 0.2", "holdout_share: 0.9"), "holdout_share 0.9 must lie between"),
        (("cadence: weekly", "cadence: hourly"), "cadence 'hourly'"),
        (("purpose: marketing", "purpose: sales"), "purpose 'sales'"),
        (("favourite_category: varchar", "favourite_category: blob"), "payload"),
        (("favourite_category: varchar", "member_id: varchar"), "may not redefine"),
        (("owner: CRM <crm@example.com>\n", ""), "missing owner"),
    ],
)
def test_a_bad_audience_file_is_refused_naming_the_file_and_field(tmp_path, change, message):
    path = _spec(tmp_path, GOOD.replace(*change))
    with pytest.raises(SpecError, match=message) as error:
        parse_audience(path, load_rules())
    assert "test_audience.yml" in str(error.value)


def test_the_name_must_be_the_file_name(tmp_path):
    path = _spec(tmp_path, GOOD)
    path.rename(tmp_path / "other_name.yml")
    with pytest.raises(SpecError, match="equal the file name"):
        parse_audience(tmp_path / "other_name.yml", load_rules())


def test_the_definition_version_changes_with_what_decides_who_is_exported(tmp_path):
    rules = load_rules()
    base = parse_audience(_spec(tmp_path, GOOD), rules)
    reworded = parse_audience(_spec(tmp_path, GOOD.replace("A test audience.", "Reworded.")), rules)
    stricter = parse_audience(_spec(tmp_path, GOOD.replace("select member_id", "select distinct member_id")), rules)
    assert base.version == reworded.version  # documentation is not the definition
    assert base.version != stricter.version


def test_the_channels_consent_scopes_come_from_the_policy():
    rules = load_rules()
    policy = load_policy()
    for name, channel in rules.channels.items():
        assert set(channel.consent_scopes) <= set(policy["consent_scopes"]), name
    assert rules.channels["sms"].consent_scopes == ("marketing_sms",)
    assert rules.cap_messages == 2 and rules.cap_days == 7


def test_the_gates_the_code_enforces_are_the_policys():
    rules = load_rules()
    check_gates_declared(rules)
    assert list(rules.gates) == list(GATES)
    missing = copy.deepcopy(rules)
    object.__setattr__(missing, "gates", {k: v for k, v in rules.gates.items() if k != "minor"})
    with pytest.raises(RuntimeError, match="differ"):
        check_gates_declared(missing)


def test_the_holdout_fraction_in_sql_is_the_documented_hash():
    con = duckdb.connect()
    ids = [f"M{n:07d}" for n in range(2000)]
    con.execute("create table m as select unnest(?::varchar[]) as member_id", [ids])
    got = dict(con.execute(f"select member_id, {holdout_fraction_sql('winback_high_value')} from m").fetchall())
    for member_id in ids:
        expected = int(hashlib.md5(f"winback_high_value:{member_id}".encode()).hexdigest()[:12], 16) / 2**48
        assert got[member_id] == pytest.approx(expected, abs=1e-12)
    control = sum(v < 0.2 for v in got.values())
    assert srm_p_value(len(ids) - control, control, 0.2) > 0.001  # the hash splits as planned


def test_the_sample_ratio_check_flags_a_skewed_split():
    assert srm_p_value(800, 200, 0.2) > 0.5
    assert srm_p_value(900, 100, 0.2) < 0.001
    assert srm_p_value(0, 0, 0.2) == 1.0


def test_files_carry_only_the_envelope_the_channel_fields_and_the_payload(tmp_path):
    rules, policy = load_rules(), load_policy()
    audience = parse_audience(_spec(tmp_path, GOOD), rules)
    fields = file_fields(rules, audience)
    assert fields == ["run_id", "audience", "channel", "campaign_id", "member_id", "favourite_category"]
    assert fields_violations(rules, audience, fields, policy) == 0
    assert fields_violations(rules, audience, [*fields, "mobile"], policy) == 1
    # a payload column the marketing role may not receive (a name in clear)
    leaky = parse_audience(_spec(tmp_path, GOOD.replace("favourite_category: varchar", "full_name: varchar")), rules)
    assert fields_violations(rules, leaky, file_fields(rules, leaky), policy) == 1


def test_contacts_in_clear_only_where_the_policy_grants_the_marketing_role_clear(tmp_path):
    rules, policy = load_rules(), load_policy()
    audience = parse_audience(_spec(tmp_path, GOOD), rules)
    with pytest.raises(ContactsNotAllowed, match="not clear"):
        contact_column(rules, audience, policy)
    granted = copy.deepcopy(policy)
    granted["masking_profiles"]["mobile"]["marketing"] = ["token", "display_mask", "clear"]
    assert contact_column(rules, audience, granted) == ("raw_membership.members.mobile", "mobile")


def test_the_uplift_summary_reads_an_activation_with_an_empty_holdout(tmp_path):
    settings = settings_for(tmp_path)
    settings.warehouse.parent.mkdir(parents=True)
    con = duckdb.connect(str(settings.warehouse))
    con.execute("create schema marts")
    con.execute(
        "create table marts.mart_audience_runs as select * from (values "
        "('ACT-1', date '2026-10-10', true, 0.2, 0.1, 0.1, -0.05, 0.25, 0.04, false), "
        "('ACT-2', date '2026-10-10', true, 0.5, null, null, null, null, null, false)) as t(run_id, run_date, "
        "is_measured, treatment_conversion_rate, control_conversion_rate, conversion_uplift, "
        "conversion_uplift_ci_low, conversion_uplift_ci_high, conversion_p_value, has_sample_ratio_mismatch)"
    )
    con.close()
    lines = uplift_lines(settings)
    assert "20.0% vs  10.0%  uplift +10.0% [ -5.0%, +25.0%]  p=0.04" in lines[1]
    assert lines[2].split()[1:] == ["50.0%", "vs", "n/a", "uplift", "n/a", "[", "n/a,", "n/a]", "p=n/a"]
