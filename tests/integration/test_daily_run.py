"""The daily run (`dbt build --selector daily`) equals a full build, and a key rotation
re-keys the incremental masked tables on the next run.

The session's small mall is ingested without its last day, with each row's `_loaded_at`
back-dated to the morning after its file's day (as bench/ does: otherwise the whole
history is "recent" and an incremental run would reprocess everything). After a full build
the last day arrives and the daily selector runs; every model it updates incrementally is
then compared, row for row, with a fresh full refresh of the same model.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import replace

import pytest

from mallcrm.core.dbt import TARGET_DIR, run_dbt
from mallcrm.core.warehouse import connect
from pipeline import steps
from tests.conftest import TEST_HMAC_KEY_VERSION, mall_environment

pytestmark = pytest.mark.integration

# Tokenized masked models that are incremental (schema masked).
INCREMENTAL_MASKED_MODELS = ("msk_sensors__wifi_dwell", "msk_pos__transactions")


def incremental_models() -> dict[str, str]:
    """Every incremental model of the project (name -> schema), from dbt's manifest: each
    one is compared with its full rebuild, so a new incremental model is covered too."""
    manifest = json.loads((TARGET_DIR / "manifest.json").read_text())
    return {
        node["name"]: node["schema"]
        for node in manifest["nodes"].values()
        if node["resource_type"] == "model" and node["config"]["materialized"] == "incremental"
    }


FULL_BUILD_WITHOUT_TESTS = ["build", "--full-refresh", "--exclude-resource-type", "test", "unit_test"]

BACKDATE_SQL = """
    update "{schema}"."{table}"
    set _loaded_at = cast(strptime(regexp_extract(_source_file, '_(\\d{{8}})\\.', 1), '%Y%m%d')
                          + interval 1 day + interval 6 hour as timestamptz)
    where regexp_matches(_source_file, '_\\d{{8}}\\.')
"""


def _backdate_history(settings) -> None:
    con = connect(settings)
    tables = con.execute(
        "select table_schema, table_name from information_schema.columns "
        "where table_schema like 'raw\\_%' escape '\\' and column_name = '_loaded_at'"
    ).fetchall()
    for schema, table in tables:
        con.execute(BACKDATE_SQL.format(schema=schema, table=table))
    con.close()


def _snapshot(settings, label: str, compared: dict[str, str]) -> None:
    """Copy the compared tables into schema `label` (the state to check against)."""
    con = connect(settings)
    con.execute(f"create schema if not exists {label}")
    for model, schema in compared.items():
        con.execute(f"create or replace table {label}.{model} as select * from {schema}.{model}")
    con.close()


def _differences(settings, label: str, compared: dict[str, str]) -> dict[str, int]:
    """Rows in one but not the other, per model, between `label` and the current tables."""
    con = connect(settings)
    out = {}
    for model, schema in compared.items():
        a, b = f"{label}.{model}", f"{schema}.{model}"
        out[model] = con.execute(
            f"select (select count(*) from (select * from {a} except all select * from {b}))"
            f" + (select count(*) from (select * from {b} except all select * from {a}))"
        ).fetchone()[0]
    con.close()
    return out


@pytest.fixture(scope="module")
def daily_mall(tmp_path_factory, small_mall_exports):
    """The small mall built in full without its last day, then the last day ingested and
    the daily selector run: (settings, rows of the held day's Wi-Fi file)."""
    root = tmp_path_factory.mktemp("daily_mall")
    inbox, held = root / "inbox", root / "held"
    shutil.copytree(small_mall_exports[0], inbox)
    days = {p.stem.rsplit("_", 1)[-1] for p in inbox.rglob("*_*.*")}
    last = max(d for d in days if d.isdigit() and len(d) == 8)
    for path in sorted(inbox.rglob(f"*_{last}.*")):
        target = held / path.relative_to(inbox)
        target.parent.mkdir(parents=True, exist_ok=True)
        path.rename(target)
    with mall_environment(root) as settings:
        steps.ingest(settings)
        _backdate_history(settings)
        assert run_dbt(FULL_BUILD_WITHOUT_TESTS, settings, quiet=True)
        for path in sorted(held.rglob("*")):
            if path.is_file():
                target = inbox / path.relative_to(held)
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.move(path, target)
        report = steps.ingest(settings)
        assert report.totals()["rows_loaded"] > 0
        assert run_dbt(["build", "--selector", "daily"], settings, quiet=True)
        yield settings, last


def test_daily_run_equals_a_full_build(daily_mall):
    settings, last = daily_mall
    con = connect(settings)
    day = f"{last[:4]}-{last[4:6]}-{last[6:]}"
    new_rows, older = con.execute(
        "select count(*) filter (where business_date = ?), count(*) filter (where business_date < ?) "
        "from masked.msk_sensors__wifi_dwell",
        [day, day],
    ).fetchone()
    con.close()
    assert new_rows > 0 and older > new_rows  # the day arrived, the history stayed

    compared = incremental_models()
    # staging, masked, member base and snapshots, facts: the daily run's incremental models
    expected = {"stg_pos__transaction_lines", "msk_pos__transactions", "int_member__rfm_snapshots", "fct_sales_lines"}
    assert expected <= set(compared)
    _snapshot(settings, "after_daily", compared)
    assert run_dbt(["run", "--full-refresh", "--select", *compared], settings, quiet=True)
    assert _differences(settings, "after_daily", compared) == dict.fromkeys(compared, 0)


def test_key_rotation_rekeys_incremental_masked_tables(daily_mall):
    from dbt.adapters.duckdb.connections import DuckDBConnectionManager

    settings, _ = daily_mall
    con = connect(settings)
    before = con.execute("select wifi_dwell_id, device_token from masked.msk_sensors__wifi_dwell").fetchall()
    con.close()

    rotated = replace(settings, hmac_key="rotated-key-for-the-rotation-test-0123456789", hmac_key_version="it-2")
    DuckDBConnectionManager.close_all_connections()  # a new process would open a new connection
    try:
        # an ordinary incremental run (no --full-refresh) after the rotation
        assert run_dbt(["run", "--select", *INCREMENTAL_MASKED_MODELS], rotated, quiet=True)
        con = connect(settings)
        versions = con.execute("select distinct pii_key_version from masked.msk_sensors__wifi_dwell").fetchall()
        after = dict(con.execute("select wifi_dwell_id, device_token from masked.msk_sensors__wifi_dwell").fetchall())
        con.close()
        assert versions == [("it-2",)]
        assert len(after) == len(before) and all(after[i] != token for i, token in before)

        masked = {model: "masked" for model in INCREMENTAL_MASKED_MODELS}
        _snapshot(settings, "after_rotation", masked)
        assert run_dbt(["run", "--full-refresh", "--select", *INCREMENTAL_MASKED_MODELS], rotated, quiet=True)
        diff = _differences(settings, "after_rotation", masked)
        assert {m: diff[m] for m in INCREMENTAL_MASKED_MODELS} == dict.fromkeys(INCREMENTAL_MASKED_MODELS, 0)
    finally:
        DuckDBConnectionManager.close_all_connections()
    # the next dbt run under the session's settings tokenizes with the session's key again
    assert run_dbt(["run", "--select", INCREMENTAL_MASKED_MODELS[0]], settings, quiet=True)
    con = connect(settings)
    versions = con.execute("select distinct pii_key_version from masked.msk_sensors__wifi_dwell").fetchall()
    con.close()
    assert versions == [(TEST_HMAC_KEY_VERSION,)]
