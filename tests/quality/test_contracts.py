"""Unit tests: the committed Soda contracts are what the generator writes, and the
personal-data pattern catches clear identifiers but not tokens or display masks."""

from __future__ import annotations

import duckdb
import pytest
import yaml

from quality.generate import CONTRACTS_DIR, PII_REGEX, build_contracts, contract_files, main


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


def test_contract_files_are_valid_soda_yaml():
    files = contract_files(build_contracts())
    for path, text in files.items():
        contract = yaml.safe_load(text)
        assert contract["dataset"].startswith("mallcrm/mallcrm/"), path
        assert contract["columns"], path
        qualifiers = [(next(iter(c)), next(iter(c.values())).get("qualifier")) for c in contract.get("checks", [])]
        assert len(qualifiers) == len(set(qualifiers)), f"{path}: two checks of one type need distinct qualifiers"
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
    ],
)
def test_personal_data_pattern(value, personal):
    found = duckdb.connect().execute("select regexp_matches(?, ?)", [value, PII_REGEX]).fetchall()[0][0]
    assert found is personal
