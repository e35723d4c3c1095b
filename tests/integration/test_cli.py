"""The command line as an operator meets it: clear words and exit codes."""

from __future__ import annotations

import csv

import pytest
from click.testing import CliRunner

from cli import main
from mallcrm.core.contract import load_contract
from tests.conftest import cli_env, mall_environment

pytestmark = pytest.mark.integration


def _members_file(path, extra_column: str | None = None) -> None:
    columns = load_contract().get("membership", "members").column_names + ([extra_column] if extra_column else [])
    row = {c: "" for c in columns}
    row.update(
        member_id="M0000001",
        card_no="6200000000000001",
        name="王小明",
        mobile="13800001111",
        country_code="CN",
        registration_channel="app",
        registered_at="2025-01-01 10:00:00",
        tier="basic",
        status="active",
        updated_at="2025-01-01 10:00:00",
    )
    if extra_column:
        row[extra_column] = "110101199003071234"
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=columns, lineterminator="\n")
        writer.writeheader()
        writer.writerow(row)


def test_ingest_refuses_an_unannounced_member_column_loudly(tmp_path):
    with mall_environment(tmp_path) as settings:
        _members_file(settings.inbox / "membership" / "members_20250101.csv")
        _members_file(settings.inbox / "membership" / "members_20250102.csv", extra_column="id_card_no")
        result = CliRunner().invoke(main, ["ingest"], env=cli_env(settings))
        assert result.exit_code == 3, result.output
        assert "REFUSED 1 file(s)" in result.output
        assert "membership/members_20250102.csv" in result.output and "id_card_no" in result.output
        assert "1 rows loaded, 1 quarantined" in result.output

        again = CliRunner().invoke(main, ["ingest"], env=cli_env(settings))
        assert again.exit_code == 0 and "ingested 0 new file(s)" in again.output


def test_status_lists_every_table_with_its_rows(built_mall):
    import json

    settings, _, _ = built_mall
    result = CliRunner().invoke(main, ["status", "--json"], env=cli_env(settings))
    assert result.exit_code == 0
    counts = json.loads(result.output)
    assert counts["raw_pos"]["transactions"] > 0 and counts["marts"]["mart_member_360"] > 0

    listing = CliRunner().invoke(main, ["status"], env=cli_env(settings))
    assert listing.exit_code == 0
    rows = f"{counts['marts']['mart_member_360']:,}"
    assert any(line.split() == ["mart_member_360", rows] for line in listing.output.splitlines())


def test_the_demo_summary_counts_tables_and_rows_per_layer(built_mall):
    from cli.summary import layer_totals, table_counts

    settings, _, _ = built_mall
    counts = table_counts(settings)
    totals = layer_totals(counts)
    raw = [schema for schema in counts if schema.startswith("raw_")]
    assert list(totals)[:3] == ["raw", "staging", "masked"]
    assert totals["raw"] == (sum(len(counts[s]) for s in raw), sum(sum(counts[s].values()) for s in raw))
    assert totals["marts"] == (len(counts["marts"]), sum(counts["marts"].values()))
