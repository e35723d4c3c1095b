"""Unit tests: the committed Soda contracts are what the generator writes, and the
personal-data pattern catches clear identifiers but not tokens or display masks."""

from __future__ import annotations

import duckdb
import pytest
import yaml

from quality.generate import (
    CONTRACTS_DIR,
    MODEL_LAYERS,
    NO_CONTRACT,
    PII_REGEX,
    build_contracts,
    contract_files,
    load_manifest,
    main,
)


def test_committed_contracts_are_up_to_date():
    assert main(["--check"]) == 0, "run `python -m quality.generate` and commit quality/contracts/"


def test_every_layer_has_contracts_and_raw_covers_every_export():
    from mallcrm.core.contract import load_contract

    contracts = build_contracts()
    for fmt in load_contract().formats:
        assert f"{fmt.dataset}.{fmt.entity}" in contracts["raw"]
    assert {"staging", "masked", "marts"} <= {layer for layer, items in contracts.items() if items}
    raw = contracts["raw"]["raw_pos.transactions"]
    kinds = [next(iter(c)) for c in raw["checks"]]
    assert "duplicate" in kinds and "failed_rows" in kinds
    # retention comes from privacy/policy.yml, as a warning (the privacy purge fixes it)
    retention = [
        c["failed_rows"] for c in raw["checks"] if "retention" in (c.get("failed_rows") or {}).get("qualifier", "")
    ]
    assert retention and all(r["threshold"]["level"] == "warn" for r in retention)


def test_every_raw_staging_masked_and_mart_relation_has_a_contract_file():
    """The README's claim: every raw, staging, masked and mart table has a Soda contract."""
    manifest = load_manifest()
    expected = {}
    for node in manifest["nodes"].values():
        if node["resource_type"] == "model" and node["schema"] in MODEL_LAYERS:
            if node["config"].get("materialized") != "ephemeral":
                expected[f"{node['schema']}.{node['alias'] or node['name']}"] = node["schema"]
    for source in manifest["sources"].values():
        if source["schema"].startswith("raw_") and source["name"] not in NO_CONTRACT:
            expected[f"{source['schema']}.{source['identifier'] or source['name']}"] = "raw"
    assert len([d for d, layer in expected.items() if layer == "staging"]) >= 19
    missing = sorted(d for d, layer in expected.items() if not (CONTRACTS_DIR / layer / f"{d}.yml").exists())
    assert not missing, f"relations without a contract (run `python -m quality.generate`): {missing}"
    from mallcrm.core.contract import load_contract

    for fmt in load_contract().formats:  # raw tables of the export contract, whether or not dbt reads them
        assert (CONTRACTS_DIR / "raw" / f"{fmt.dataset}.{fmt.entity}.yml").exists()


def test_contract_files_are_valid_soda_yaml():
    files = contract_files(build_contracts())
    for path, text in files.items():
        contract = yaml.safe_load(text)
        assert contract["dataset"].startswith("mallcrm/mallcrm/"), path
        assert contract["columns"], path
        qualifiers = [(next(iter(c)), next(iter(c.values())).get("qualifier")) for c in contract.get("checks", [])]
        assert len(qualifiers) == len(set(qualifiers)), f"{path}: two checks of one type need distinct qualifiers"
        assert contract.get("checks"), f"{path}: a contract without checks is an error in quality.runner"
    assert (CONTRACTS_DIR / "raw" / "raw_pos.transactions.yml") in files


@pytest.mark.parametrize(
    "value, personal",
    [
        ("13812345678", True),
        ("call me on 13812345678 please", True),
        ("zhang.wei@qq.com", True),
        ("11010519491231002X", True),
        ("138****5678", False),
        ("z***@qq.com", False),
        ("M0000123", False),
        ("a" * 20 + "13812345678" + "b" * 33, False),  # inside a hex token
        ("2026-05-20", False),
        ("card 8860012345678901", True),  # the mall's card number
        ("+85251234567", True),
        ("order 202601151381234567890", False),  # a mobile-like run inside a longer number
    ],
)
def test_personal_data_pattern(value, personal):
    found = duckdb.connect().execute("select regexp_matches(?, ?)", [value, PII_REGEX]).fetchall()[0][0]
    assert found is personal
