"""privacy/policy.yml is complete, and every failure mode of check_policy() fires."""

from __future__ import annotations

import copy

import pytest

from privacy.policy import check_policy, contract_tables, load_manifest, load_policy


@pytest.fixture(scope="module")
def manifest() -> dict:
    return load_manifest()


@pytest.fixture(scope="module")
def raw_tables() -> dict:
    return contract_tables()


@pytest.fixture
def policy() -> dict:
    return copy.deepcopy(load_policy())


def problems(policy, raw_tables, manifest=None):
    return check_policy(policy, manifest=manifest, raw_tables=raw_tables, use_manifest=manifest is not None)


def test_the_real_policy_passes(policy, raw_tables, manifest):
    assert problems(policy, raw_tables, manifest) == []


def test_policy_declares_roles_classes_and_version(policy):
    assert policy["version"]
    assert set(policy["roles"]) == {"marketing", "store_operations", "management_bi", "data_science", "compliance"}
    assert policy["classes"]["sensitive"]["max_retention_days"] <= policy["classes"]["personal"]["max_retention_days"]
    assert {"PIPL", "GDPR", "CCPA"} <= set(policy["jurisdictions"])


def test_unclassified_contract_column_fails(policy, raw_tables):
    del policy["tables"]["raw_membership.members"]["columns"]["mobile"]
    assert any(
        "raw_membership.members.mobile: raw contract column is not classified" in p
        for p in problems(policy, raw_tables)
    )


def test_new_contract_column_fails(policy, raw_tables):
    raw_tables = copy.deepcopy(raw_tables)
    raw_tables["raw_membership.members"].append("id_card_no")
    assert any("members.id_card_no: raw contract column is not classified" in p for p in problems(policy, raw_tables))


def test_unclassified_lineage_or_bookkeeping_fails(policy, raw_tables):
    del policy["lineage_columns"]["_dlt_load_id"]
    del policy["bookkeeping_tables"]["quarantined_rows"]
    found = problems(policy, raw_tables)
    assert "lineage column _dlt_load_id is not classified" in found
    assert "bookkeeping table quarantined_rows is not classified" in found


def test_retention_above_class_maximum_fails(policy, raw_tables):
    device = policy["tables"]["raw_sensors.wifi_dwell"]["columns"]["device_hash"]
    device["retention"] = {"days": 3650, "anchor": "visit_date", "expiry": "delete"}
    assert any(
        "device_hash: retention 3650 days is above the sensitive maximum" in p for p in problems(policy, raw_tables)
    )


def test_personal_column_inheriting_a_long_table_retention_fails(policy, raw_tables):
    del policy["tables"]["raw_pos.transactions"]["columns"]["member_mobile"]["retention"]
    assert any(
        "member_mobile: retention 3650 days is above the personal maximum" in p for p in problems(policy, raw_tables)
    )


def test_sensitive_column_without_consent_scope_fails(policy, raw_tables):
    del policy["tables"]["raw_sensors.wifi_dwell"]["columns"]["device_hash"]["consent_scope"]
    assert "raw_sensors.wifi_dwell.device_hash: sensitive column without a consent_scope" in problems(
        policy, raw_tables
    )


def test_undeclared_role_fails(policy, raw_tables):
    policy["tables"]["raw_membership.members"]["columns"]["email"]["masking"] = {
        "default": "token",
        "tenant_partner": "clear",
    }
    assert any("email: role `tenant_partner` is used but not declared" in p for p in problems(policy, raw_tables))
    policy["masking_profiles"]["name"]["call_center"] = "clear"
    assert "masking profile name: role `call_center` is not declared" in problems(policy, raw_tables)


def test_unknown_class_and_missing_pii_type_fail(policy, raw_tables):
    cols = policy["tables"]["raw_membership.members"]["columns"]
    cols["gender"]["class"] = "secret"
    del cols["email"]["pii_type"]
    found = problems(policy, raw_tables)
    assert any("gender: class 'secret'" in p for p in found)
    assert "raw_membership.members.email: personal column without a pii_type" in found


def test_pii_tagged_in_dbt_but_unclassified_fails(policy, raw_tables, manifest):
    manifest = copy.deepcopy(manifest)
    node = next(n for n in manifest["nodes"].values() if n["name"] == "stg_pos__transactions")
    node["columns"]["cashier_id"] = {"name": "cashier_id", "meta": {"pii": True, "pii_type": "staff_id"}}
    source = next(
        s for s in manifest["sources"].values() if s["source_name"] == "raw_pos" and s["name"] == "transactions"
    )
    source["columns"]["terminal_id"] = {"name": "terminal_id", "meta": {"pii": True, "pii_type": "device_id"}}
    found = problems(policy, raw_tables, manifest)
    assert any("model stg_pos__transactions.cashier_id is tagged pii but" in p for p in found)
    assert "source raw_pos.transactions.terminal_id is tagged pii but classified `none`" in found


def test_pii_type_disagreement_fails(policy, raw_tables, manifest):
    policy["tables"]["raw_membership.members"]["columns"]["email"]["pii_type"] = "mobile"
    assert any("pii_type 'email' in dbt, 'mobile' in the policy" in p for p in problems(policy, raw_tables, manifest))


def test_masked_model_keeping_a_personal_column_fails(policy, raw_tables, manifest):
    manifest = copy.deepcopy(manifest)
    node = next(n for n in manifest["nodes"].values() if n["name"] == "msk_membership__members")
    node["columns"]["mobile"] = {"name": "mobile", "meta": {}}
    node["columns"]["email_plain"] = {"name": "email_plain", "meta": {"pii": True, "pii_type": "email"}}
    found = problems(policy, raw_tables, manifest)
    assert (
        "masked model msk_membership__members.mobile: personal column of stg_membership__members survives unmasked"
    ) in found
    assert "masked model msk_membership__members.email_plain is tagged pii (unmasked)" in found


def test_masked_method_not_granted_by_policy_fails(policy, raw_tables, manifest):
    # nobody but compliance may see device ids in clear, nor anyone a scrubbed one
    policy["masking_profiles"]["device_id"] = {"default": "drop", "compliance": "clear"}
    found = problems(policy, raw_tables, manifest)
    assert any("msk_sensors__wifi_dwell.device_token: masking 'token'" in p for p in found)


def test_masked_clear_passthrough_needs_a_clear_grant(policy, raw_tables, manifest):
    policy["masking_profiles"]["member_attribute"] = {"default": "drop", "compliance": "clear"}
    found = problems(policy, raw_tables, manifest)
    assert any("msk_membership__members.gender" in p and "passes in clear" in p for p in found)
