"""The export contract is consistent and docs/sources.md is generated from it."""

from ingestion.docs import render_sources_doc
from mallcrm.core.contract import load_contract
from mallcrm.core.settings import PROJECT_ROOT


def test_sources_doc_is_up_to_date():
    on_disk = (PROJECT_ROOT / "docs" / "sources.md").read_text(encoding="utf-8")
    assert on_disk == render_sources_doc(), "run `mallcrm docs sources` and commit docs/sources.md"


def test_every_system_has_its_raw_dataset_and_keys_are_columns():
    contract = load_contract()
    assert set(contract.systems) == {"pos", "membership", "feedback", "sensors", "marketing", "reference", "digital"}
    for export in contract.formats:
        assert export.dataset == f"raw_{export.system}"
        assert set(export.primary_key) <= set(export.column_names), export.entity
        for key in export.primary_key:
            assert export.column(key).required, f"{export.entity}.{key} is a key but not required"
