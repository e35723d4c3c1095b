"""The real pipeline (simulator -> dlt -> DuckDB -> dbt) on a small generated mall."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from cli.summary import table_counts
from mallcrm.core.contract import load_contract
from mallcrm.core.dbt import run_dbt
from mallcrm.core.warehouse import connect
from pipeline import steps
from tests.conftest import generate_mall, mall_environment

pytestmark = pytest.mark.integration


def _counts(settings, schemas=None):
    counts = table_counts(settings)
    return {s: t for s, t in counts.items() if schemas is None or s in schemas}


def test_every_source_system_lands_raw_and_staged(built_mall):
    settings, report, ok = built_mall
    assert ok, "dbt build failed"
    counts = table_counts(settings)
    contract = load_contract()
    for export in contract.formats:
        assert counts[export.dataset].get(export.entity, 0) > 0, f"{export.dataset}.{export.entity} is empty"
        staging = f"stg_{export.system}__{export.entity}"
        assert counts["staging"].get(staging, 0) > 0, f"{staging} is empty"
    assert not report.refused and not report.unmatched


def test_loaded_rows_match_the_files_exactly(built_mall, small_mall_exports):
    settings, report, _ = built_mall
    _, generation = small_mall_exports
    con = connect(settings)
    for export in load_contract().formats:
        raw = con.execute(f"select count(*) from {export.dataset}.{export.entity}").fetchone()[0]
        expected = generation.totals[(export.system, export.entity)]
        assert raw == expected, f"{export.entity}: {raw} rows loaded, {expected} exported"
    for f in report.files:
        assert f["rows_in_file"] == f["rows_loaded"] + f["rows_quarantined"], f["source_file"]
    con.close()


def test_second_run_adds_nothing(built_mall):
    settings, _, _ = built_mall
    before = _counts(settings)
    again = steps.ingest(settings)
    assert again.files == []
    assert run_dbt(["build", "--select", "staging"], settings)
    assert _counts(settings) == before


def test_staging_is_deduplicated_on_keys(built_mall):
    settings, _, _ = built_mall
    con = connect(settings)
    members = con.execute("select count(*), count(distinct member_id) from staging.stg_membership__members").fetchone()
    assert members[0] == members[1]
    tx = con.execute("select count(*), count(distinct transaction_id) from staging.stg_pos__transactions").fetchone()
    assert tx[0] == tx[1]
    con.close()


def test_dirty_exports_are_quarantined_explained_and_nothing_lost(tmp_path):
    with mall_environment(tmp_path) as settings:
        generation = generate_mall(settings.inbox, dirty=True, days=20, members=200)
        report = steps.ingest(settings)
        con = connect(settings)
        files = {
            r[0]: r
            for r in con.execute(
                """
                select source_file, status, rows_in_file, rows_loaded, rows_quarantined, reason
                from (select * from raw_pos.ingested_files union all by name
                      select * from raw_membership.ingested_files union all by name
                      select * from raw_feedback.ingested_files)
                """
            ).fetchall()
        }
        quarantined = set(
            con.execute(
                """
                select source_file, source_line from raw_pos.quarantined_rows
                union all select source_file, source_line from raw_membership.quarantined_rows
                union all select source_file, source_line from raw_feedback.quarantined_rows
                """
            ).fetchall()
        )
        for d in generation.injected:
            file, line, expected = d["file"], d["line"], d["expected"]
            if expected == "quarantine":
                assert (file, line) in quarantined, d
            elif expected == "refused_file":
                assert files[file][1] == "refused" and files[file][5], d
            elif expected == "duplicate_file":
                assert files[file][1] == "duplicate", d
            elif expected == "late_file":
                assert file.startswith("../late/") and Path(file).name not in {Path(f).name for f in files}
        for name, status, rows_in_file, loaded, quarantined_n, _ in files.values():
            # a duplicate file stores nothing, so it counts nothing (no unstored quarantine)
            if status == "duplicate":
                assert (loaded, quarantined_n) == (0, 0), name
            else:
                assert rows_in_file == loaded + quarantined_n, name
        assert report.refused, "the drifted files must be reported as refused"
        con.close()

        # The late file arrives the next morning and is loaded, once.
        late = [d for d in generation.injected if d["expected"] == "late_file"]
        assert late
        arrived = []
        for d in late:
            held_back = (settings.inbox / d["file"]).resolve()
            relpath = held_back.relative_to(settings.inbox.parent / "late").as_posix()
            shutil.move(held_back, settings.inbox / relpath)
            arrived.append(relpath)
        later = steps.ingest(settings)
        assert sorted(f["source_file"] for f in later.files) == sorted(arrived)
        assert all(f["status"] == "loaded" for f in later.files)
        assert steps.ingest(settings).files == []


def test_dlt_leaves_no_copy_of_loaded_rows(built_mall):
    settings, _, _ = built_mall
    leftovers = [
        p
        for p in settings.dlt_dir.rglob("*")
        if p.is_file() and p.suffix in {".parquet", ".jsonl", ".gz", ".insert_values", ".csv"}
    ]
    assert leftovers == [], f"dlt kept loaded data on disk: {leftovers[:3]}"
