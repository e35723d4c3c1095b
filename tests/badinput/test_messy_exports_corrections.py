"""Messy real exports: corrections win, impossible amounts are quarantined.

- A correction is sent as a new file `<entity>_<YYYYMMDD>_v<N>.<ext>`. Staging keeps the
  newest copy of every record: the highest file version, then the latest load
  (dbt macro `newest_copy_first`), whatever order the files arrive in.
- A line whose quantity sign contradicts its receipt's type, and a refund that takes the
  refunds of a sale above its net amount, are moved to quarantine by the cross-row rules
  of ingestion/export_formats.yml (ingestion/cross_rules.py) with the rule and a reason;
  rows in file = loaded + quarantined stays exact, and a re-run changes nothing.

Every test ingests into a throw-away warehouse. Ingestion is `pipeline.steps.ingest`
followed by `apply_cross_rules` for the system (run_ingestion calls it after each
system's load once hooked; calling it again is a no-op).
"""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from ingestion.cross_rules import apply_cross_rules, load_cross_rules
from mallcrm.core.contract import load_contract
from mallcrm.core.warehouse import connect
from pipeline import steps
from tests.conftest import mall_environment, settings_for
from tests.unit.test_parsing import sale, write_csv

pytestmark = pytest.mark.integration

DAY = "20260301"  # the issue used 20261123; any past day (exports from the future are refused)
TX = f"pos/transactions_{DAY}.csv"
TX_V2 = f"pos/transactions_{DAY}_v2.csv"
LINES = f"pos/transaction_lines_{DAY}.csv"
LINE = {
    "transaction_id": "T1",
    "line_no": "1",
    "sku": "SKU1",
    "quantity": "1",
    "unit_price": "100.00",
    "discount_amount": "0.00",
    "line_amount": "100.00",
}
# Staging only, without the data tests (a test of an unrelated table would hold back
# models downstream of it). dbt unit tests need every raw table they read to exist, so
# they run only on the full mall (corrected_mall), not on the pos-only warehouses.
STAGING = ["--select", "staging", "--exclude", "test_type:data"]
STAGING_MODELS_ONLY = ["--select", "staging", "--exclude", "test_type:data", "test_type:unit"]


def _sale(transaction_id: str, amount: str, **over) -> dict:
    return sale(
        transaction_id=transaction_id,
        transaction_at="2026-03-01 10:00:00",
        gross_amount=amount,
        discount_amount="0.00",
        net_amount=amount,
        **over,
    )


def _refund(transaction_id: str, original: str, amount: str, at: str = "2026-03-02 10:00:00") -> dict:
    return sale(
        transaction_id=transaction_id,
        transaction_type="refund",
        original_transaction_id=original,
        transaction_at=at,
        gross_amount=amount,
        discount_amount="0.00",
        net_amount=amount,
    )


def _line(transaction_id: str, line_no: int, quantity: int, unit_price: str = "100.00") -> dict:
    amount = f"{quantity * float(unit_price):.2f}"
    return {**LINE, "transaction_id": transaction_id, "line_no": str(line_no), "quantity": str(quantity),
            "unit_price": unit_price, "line_amount": amount}  # fmt: skip


def ingest(settings, systems=("pos",)):
    report = steps.ingest(settings, systems=list(systems))
    for system in systems:
        apply_cross_rules(settings, system)
    return report


def query(settings, sql: str, params=None) -> list[tuple]:
    con = connect(settings)  # same configuration as dbt's in-process connection
    try:
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()


def build_staging(settings, unit_tests: bool = False) -> None:
    assert steps.build(settings, STAGING if unit_tests else STAGING_MODELS_ONLY, quiet=True).success


def files(settings, dataset: str = "raw_pos") -> dict[str, tuple]:
    return {
        r[0]: r[1:]
        for r in query(
            settings,
            f"select source_file, status, rows_in_file, rows_loaded, rows_quarantined from {dataset}.ingested_files",
        )
    }


def assert_accounted(settings, dataset: str = "raw_pos") -> None:
    """rows in file = loaded + quarantined, and the counts match the tables."""
    records = query(
        settings,
        f"select source_file, entity, rows_in_file, rows_loaded, rows_quarantined from {dataset}.ingested_files "
        "where status = 'loaded'",
    )
    for name, entity, n, loaded, quarantined in records:
        assert n == loaded + quarantined, name
        in_raw = query(settings, f"select count(*) from {dataset}.{entity} where _source_file = ?", [name])[0][0]
        in_q = query(settings, f"select count(*) from {dataset}.quarantined_rows where source_file = ?", [name])[0][0]
        assert (in_raw, in_q) == (loaded, quarantined), name


# ----------------------------------------------------------------------------- corrections


def _net_amount_in_staging(settings, transaction_id: str = "T1"):
    rows = query(
        settings,
        "select net_amount, _source_file from staging.stg_pos__transactions where transaction_id = ?",
        [transaction_id],
    )
    assert len(rows) == 1, rows
    return float(rows[0][0]), rows[0][1]


def test_a_v2_correction_wins_over_the_original(tmp_path):
    # The original (100.00), then its correction (80.00).
    with mall_environment(tmp_path / "in_order") as settings:
        write_csv(settings.inbox, TX, [_sale("T1", "100.00")])
        ingest(settings)
        write_csv(settings.inbox, TX_V2, [_sale("T1", "80.00")])
        ingest(settings)
        build_staging(settings)
        assert _net_amount_in_staging(settings) == (80.0, TX_V2)
        assert len(query(settings, "select * from raw_pos.transactions")) == 2  # raw keeps both copies

    # The correction first, then the original, then the original re-sent: v2 still wins.
    with mall_environment(tmp_path / "reverse") as settings:
        write_csv(settings.inbox, TX_V2, [_sale("T1", "80.00")])
        ingest(settings)
        write_csv(settings.inbox, TX, [_sale("T1", "100.00")])
        ingest(settings)
        write_csv(settings.inbox, f"pos/transactions_{DAY}_resend.csv", [_sale("T1", "100.00", cashier_id="C9")])
        ingest(settings)
        assert files(settings)[f"pos/transactions_{DAY}_resend.csv"][0] == "loaded"
        build_staging(settings)
        assert _net_amount_in_staging(settings) == (80.0, TX_V2)


# Every entity accepts corrections: a record is its primary key (export_formats.yml) and
# the newest copy wins. Per entity: the column changed in the correction (raw name), the
# staging model and its column, and how to pick a record that staging shows (the latest
# snapshot of reference data, the latest version of a complaint).
CORRECTABLE = {
    ("pos", "transactions"): ("cashier_id", "stg_pos__transactions", "cashier_id"),
    ("pos", "transaction_lines"): ("sku", "stg_pos__transaction_lines", "sku"),
    ("membership", "members"): ("registration_channel", "stg_membership__members_history", "registration_channel"),
    ("membership", "consents"): ("policy_version", "stg_membership__consents", "policy_version"),
    ("membership", "points_ledger"): ("transaction_id", "stg_membership__points_ledger", "transaction_id"),
    ("membership", "tier_changes"): ("reason", "stg_membership__tier_changes", "change_reason"),
    ("feedback", "surveys"): ("comment", "stg_feedback__surveys", "comment_text"),
    ("feedback", "complaints"): ("description", "stg_feedback__complaints", "complaint_text"),
    ("sensors", "people_counts"): ("count_in", "stg_sensors__people_counts", "people_in"),
    ("sensors", "wifi_dwell"): ("dwell_minutes", "stg_sensors__wifi_dwell", "dwell_minutes"),
    ("marketing", "campaigns"): ("campaign_name", "stg_marketing__campaigns", "campaign_name"),
    ("marketing", "assignments"): ("assigned_at", "stg_marketing__assignments", "assigned_at"),
    ("marketing", "coupon_events"): ("coupon_code", "stg_marketing__coupon_events", "coupon_code"),
    ("reference", "stores"): ("store_name", "stg_reference__stores", "store_name"),
    ("reference", "products"): ("brand", "stg_reference__products", "brand"),
    ("reference", "zones"): ("zone_name", "stg_reference__zones", "zone_name"),
    ("digital", "wechat_identities"): ("unionid", "stg_digital__wechat_identities", "unionid"),
    ("digital", "app_events"): ("page", "stg_digital__app_events", "page_name"),
    ("digital", "activity_signups"): ("zone_id", "stg_digital__activity_signups", "zone_id"),
}
INTEGER_COLUMNS = {"count_in", "dwell_minutes"}


def _marker(column: str, version: int, day: str) -> str | int:
    if column in INTEGER_COLUMNS:
        return 90000 + version
    if column == "assigned_at":
        return f"{day[:4]}-{day[4:6]}-{day[6:]} 00:{version:02d}:{version:02d}"
    return f"CORR{version}"


def _read_rows(path: Path, fmt: str) -> list[dict]:
    if fmt == "csv":
        with open(path, encoding="utf-8", newline="") as fh:
            return list(csv.DictReader(fh))
    if fmt == "jsonl":
        return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return pq.read_table(path).to_pylist()


def _pick(inbox: Path, system: str, entity: str) -> tuple[Path, int]:
    """A file of the entity and the index of a record in it that staging keeps."""
    export = load_contract().get(system, entity)
    paths = sorted((inbox / system).glob(f"{entity}_*.{export.extension}"))
    if system == "reference":
        paths = paths[-1:]  # only the latest snapshot is current in staging
    candidates = [(p, i, row) for p in paths for i, row in enumerate(_read_rows(p, export.format))]
    assert candidates, f"no {entity} rows in the small mall"
    keys = [c for c in export.primary_key if c != "updated_at"]
    if entity != "members" and len(keys) < len(export.primary_key):
        # a record exported again when it changes (complaints, sign-ups, WeChat bindings):
        # staging shows its latest version only
        latest: dict[tuple, str] = {}
        for _, _, row in candidates:
            key = tuple(row[c] for c in keys)
            latest[key] = max(latest.get(key, ""), row["updated_at"])
        candidates = [c for c in candidates if c[2]["updated_at"] == latest[tuple(c[2][k] for k in keys)]]
    path, index, _ = candidates[0]
    return path, index


def _write_version(path: Path, fmt: str, index: int, column: str, version: int) -> Path:
    """The record at `index` of `path`, with `column` changed, as the file's version `version`."""
    day = path.stem.split("_")[-1]
    target = path.with_name(f"{path.stem}_v{version}{path.suffix}")
    if fmt == "parquet":
        table = pq.read_table(path).slice(index, 1)
        i = table.schema.get_field_index(column)
        table = table.set_column(i, column, pa.array([_marker(column, version, day)], table.column(column).type))
        pq.write_table(table, target)
        return target
    row = dict(_read_rows(path, fmt)[index])
    row[column] = _marker(column, version, day)
    if fmt == "jsonl":
        target.write_text(json.dumps(row, ensure_ascii=False) + "\n", encoding="utf-8")
    else:
        with open(path, encoding="utf-8", newline="") as fh:
            header = next(csv.reader(fh))
        with open(target, "w", encoding="utf-8", newline="") as fh:
            writer = csv.writer(fh, lineterminator="\n")
            writer.writerow(header)
            writer.writerow([row[c] for c in header])
    return target


def _staging_counts(settings) -> dict[str, int]:
    return {
        model: query(settings, f"select count(*) from staging.{model}")[0][0] for _, model, _ in CORRECTABLE.values()
    }


@pytest.fixture(scope="module")
def corrected_mall(tmp_path_factory, small_mall_exports):
    """The small mall loaded and staged; then for every entity one record corrected twice:
    `_v10` arrives first, `_v2` after it (a lower version loaded later must still lose, and
    versions compare as numbers, not as text)."""
    root = tmp_path_factory.mktemp("corrected_mall")
    shutil.copytree(small_mall_exports[0], root / "inbox")
    settings = settings_for(root)
    ingest(settings, load_contract().systems)
    build_staging(settings, unit_tests=True)
    before = _staging_counts(settings)
    picked = {}
    for system, entity in CORRECTABLE:
        picked[(system, entity)] = _pick(settings.inbox, system, entity)
    for version in (10, 2):
        for (system, entity), (column, _, _) in CORRECTABLE.items():
            path, index = picked[(system, entity)]
            _write_version(path, load_contract().get(system, entity).format, index, column, version)
        ingest(settings, load_contract().systems)
    build_staging(settings)
    return settings, before, picked


def test_every_contract_entity_is_listed_as_correctable():
    assert set(CORRECTABLE) == {(f.system, f.entity) for f in load_contract().formats}


@pytest.mark.parametrize("key", list(CORRECTABLE), ids=[f"{s}-{e}" for s, e in CORRECTABLE])
def test_the_newest_version_wins_on_every_entity(corrected_mall, key):
    settings, before, picked = corrected_mall
    system, entity = key
    column, model, staged = CORRECTABLE[key]
    path, _ = picked[key]
    day = path.stem.split("_")[-1]
    loaded = files(settings, f"raw_{system}")
    for version in (2, 10):
        name = f"{system}/{path.stem}_v{version}{path.suffix}"
        assert loaded[name][:3] == ("loaded", 1, 1), (name, loaded.get(name))

    def with_marker(version: int) -> list[tuple]:
        return query(
            settings,
            f"select _source_file from staging.{model} where cast({staged} as varchar) = ?",
            [str(_marker(column, version, day))],
        )

    assert with_marker(10) == [(f"{system}/{path.stem}_v10{path.suffix}",)]  # the newest version ...
    assert with_marker(2) == []  # ... replaced the original and the older correction
    assert query(settings, f"select count(*) from staging.{model}")[0][0] == before[model]  # one row per record


# ----------------------------------------------------------------------------- amounts


def test_cross_rules_are_declared():
    names = {(r.system, r.name) for r in load_cross_rules()}
    assert {
        ("pos", "refund_within_original_sale"),
        ("pos", "line_quantity_sign_matches_receipt"),
        ("pos", "line_of_quarantined_receipt"),
    } <= names


def _quarantined(settings) -> dict[tuple[str, int], tuple[str, str]]:
    rows = query(settings, "select source_file, source_line, rule, reason from raw_pos.quarantined_rows")
    return {(f, line): (rule, reason) for f, line, rule, reason in rows}


def test_sale_with_negative_quantity_is_quarantined(tmp_path):
    with mall_environment(tmp_path) as settings:
        write_csv(settings.inbox, TX, [_sale("T1", "100.00"), _refund("T2", "T1", "-50.00", at="2026-03-01 12:00:00")])
        write_csv(
            settings.inbox, LINES, [_line("T1", 1, 2, "50.00"), _line("T1", 2, -1, "10.00"), _line("T2", 1, 1, "50.00")]
        )
        ingest(settings)
        lines = query(settings, "select transaction_id, line_no from raw_pos.transaction_lines order by 1, 2")
        assert lines == [("T1", 1)]
        bad = _quarantined(settings)
        rule, reason = bad[(LINES, 3)]
        assert rule == "cross:line_quantity_sign_matches_receipt"
        assert f"{LINES} line 3" in reason and "quantity -1" in reason and "sale receipt T1" in reason
        assert bad[(LINES, 4)][0] == "cross:line_quantity_sign_matches_receipt"  # a refund line must be negative
        assert files(settings)[LINES] == ("loaded", 3, 1, 2)
        assert_accounted(settings)
        ingest(settings)  # a re-run neither duplicates nor drops
        assert files(settings)[LINES] == ("loaded", 3, 1, 2) and len(_quarantined(settings)) == 2
        assert apply_cross_rules(settings, "pos") == {}


def test_refund_exceeding_its_sale_is_quarantined(tmp_path):
    refunds = "pos/transactions_20260302.csv"
    refund_lines = "pos/transaction_lines_20260302.csv"
    with mall_environment(tmp_path) as settings:
        write_csv(settings.inbox, TX, [_sale("T1", "100.00")])
        write_csv(settings.inbox, LINES, [_line("T1", 1, 1)])
        write_csv(
            settings.inbox,
            refunds,
            [
                _refund("T2", "T1", "-30.00"),  # legitimate partial refund: stays
                _refund("T3", "T1", "-50000.00"),  # -50,000 against a sale of 100
                _refund("T4", "T9", "-20.00"),  # its sale has not arrived: not judged yet
            ],
        )
        write_csv(
            settings.inbox,
            refund_lines,
            [_line("T2", 1, -1, "30.00"), _line("T3", 1, -1, "50000.00"), _line("T4", 1, -1, "20.00")],
        )
        ingest(settings)
        ids = [r[0] for r in query(settings, "select transaction_id from raw_pos.transactions order by 1")]
        assert ids == ["T1", "T2", "T4"]
        bad = _quarantined(settings)
        rule, reason = bad[(refunds, 3)]
        assert rule == "cross:refund_within_original_sale"
        assert "T3" in reason and "50000.00" in reason and "100.00" in reason and "T1" in reason
        assert bad[(refund_lines, 3)][0] == "cross:line_of_quarantined_receipt"  # its lines follow it
        assert files(settings)[refunds] == ("loaded", 3, 2, 1)
        assert files(settings)[refund_lines] == ("loaded", 3, 2, 1)
        assert_accounted(settings)

        # T4's sale arrives late, smaller than the refund: T4 is judged now.
        write_csv(settings.inbox, "pos/transactions_20260303.csv", [_sale("T9", "10.00")])
        ingest(settings)
        assert _quarantined(settings)[(refunds, 4)][0] == "cross:refund_within_original_sale"
        assert files(settings)[refunds] == ("loaded", 3, 1, 2)
        assert _quarantined(settings)[(refund_lines, 4)][0] == "cross:line_of_quarantined_receipt"
        assert files(settings)[refund_lines] == ("loaded", 3, 1, 2)
        assert_accounted(settings)
        ingest(settings)  # a re-run neither duplicates nor drops
        assert len(_quarantined(settings)) == 4 and files(settings)[refunds] == ("loaded", 3, 1, 2)

        build_staging(settings)
        staged = query(settings, "select transaction_id from staging.stg_pos__transactions order by 1")
        assert [r[0] for r in staged] == ["T1", "T2", "T9"]


def test_quality_gates_block_impossible_amounts_that_reach_raw(tmp_path, monkeypatch):
    """Defence in depth: if offending rows reach raw (cross rules not applied), the blocking
    Soda checks of quality/rules.yml fail, naming the check; once applied, they pass."""
    from quality.runner import run_checks

    # run_ingestion applies the cross rules once hooked (ingestion/pipeline.py): keep them out here
    monkeypatch.setattr("ingestion.pipeline.apply_cross_rules", lambda *a, **k: {}, raising=False)
    datasets = ["raw_pos.transactions", "raw_pos.transaction_lines"]
    names = {"refunds do not exceed their original sale", "line quantity sign matches its receipt type"}
    with mall_environment(tmp_path) as settings:
        write_csv(
            settings.inbox, TX, [_sale("T1", "100.00"), _refund("T2", "T1", "-50000.00", at="2026-03-01 12:00:00")]
        )
        write_csv(settings.inbox, LINES, [_line("T1", 1, -1), _line("T2", 1, -1, "50000.00")])
        steps.ingest(settings, systems=["pos"])
        failed = {r.check for r in run_checks(settings, ["raw"], datasets) if r.outcome == "failed"}
        assert names <= failed, failed
        apply_cross_rules(settings, "pos")
        failed = {r.check for r in run_checks(settings, ["raw"], datasets) if r.outcome == "failed"}
        assert not names & failed, failed


def test_amount_row_rules(tmp_path):
    """Row rules on amount signs: quarantined at parsing, with the rule's name."""
    from tests.unit.test_parsing import parse

    day = {"transaction_at": "2026-01-01 10:00:00"}  # parsed as loaded on 2026-01-02
    rows = [
        sale(),
        sale(transaction_id="T2", gross_amount="-100.00", discount_amount="-200.00"),  # net >= 0, gross < 0
        _refund("T3", "T1", "-10.00") | day | {"gross_amount": "10.00", "discount_amount": "20.00"},  # gross > 0
        _refund("T4", "T4", "-10.00") | day,  # a refund of itself
    ]
    parsed = parse(tmp_path, write_csv(tmp_path, "pos/transactions_20260101.csv", rows))
    rules = {r["source_line"]: r["rule"] for r in parsed.quarantine.to_pylist()}
    assert rules == {
        3: "rule:sale_gross_not_negative",
        4: "rule:refund_gross_not_positive",
        5: "rule:refund_not_of_itself",
    }
    assert parsed.rows_loaded + parsed.rows_quarantined == parsed.rows_in_file

    lines = [_line("T1", 1, 2, "50.00"), _line("T1", 2, 1) | {"line_amount": "-100.00"}]
    parsed = parse(tmp_path, write_csv(tmp_path, "pos/transaction_lines_20260101.csv", lines))
    assert [(r["source_line"], r["rule"]) for r in parsed.quarantine.to_pylist()] == [
        (3, "rule:amount_sign_matches_quantity")
    ]


def test_ingest_applies_the_cross_rules_and_reports_exact_counts(tmp_path):
    """Through `mallcrm ingest` alone (no explicit call): the report and ingested_files agree."""
    with mall_environment(tmp_path) as settings:
        write_csv(
            settings.inbox, TX, [_sale("T1", "100.00"), _refund("T2", "T1", "-50000.00", at="2026-03-01 12:00:00")]
        )
        report = steps.ingest(settings, systems=["pos"])
        record = next(f for f in report.files if f["source_file"] == TX)
        assert (record["rows_in_file"], record["rows_loaded"], record["rows_quarantined"]) == (2, 1, 1)
        assert files(settings)[TX] == ("loaded", 2, 1, 1)
        assert _quarantined(settings)[(TX, 3)][0] == "cross:refund_within_original_sale"


def test_cross_rules_judge_each_load_once_and_a_killed_judgement_again(tmp_path):
    """The rules run when a load arrived since the last judgement (recorded in the same
    transaction as the moves): a run with nothing new skips them; a run killed between
    the load and the judgement leaves its load to be judged by the next run."""
    with mall_environment(tmp_path) as settings:
        write_csv(settings.inbox, TX, [_sale("T1", "100.00"), _refund("T2", "T1", "-40.00")])
        steps.ingest(settings, systems=["pos"])
        assert apply_cross_rules(settings, "pos") == {}  # judged already: nothing new
        con = connect(settings)
        try:  # as if a later load's judgement was killed: its bad row reached raw
            con.execute(
                "insert into raw_pos.transactions by name select * replace "
                "(cast(-90.00 as decimal(12,2)) as net_amount, cast(-90.00 as decimal(12,2)) as gross_amount, "
                "'T3' as transaction_id, _source_line + 1 as _source_line) "
                "from raw_pos.transactions where transaction_id = 'T2'"
            )
            con.execute("delete from raw_pos.cross_rules_judged")
        finally:
            con.close()
        assert apply_cross_rules(settings, "pos") == {"cross:refund_within_original_sale": 1}
        assert apply_cross_rules(settings, "pos") == {}
