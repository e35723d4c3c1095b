"""Audience exports delivered into a real local PostgreSQL server with dlt.

The session's server listens on its own port (5491, apart from a developer's 5433) in a
folder of its own and is stopped at the end. Without Debian's PostgreSQL binaries these
tests fail, they do not skip: CI installs them (`make postgres-deps`)."""

from __future__ import annotations

import csv
import hashlib
import json
from dataclasses import replace
from pathlib import Path

import psycopg2
import pytest

from activation import delivery
from mallcrm.core.settings import Settings
from postgres import server

pytestmark = [pytest.mark.integration, pytest.mark.postgres]

FIELDS = ["run_id", "audience", "channel", "member_id", "top_products"]


@pytest.fixture
def pg(postgres_server, tmp_path) -> Settings:
    """The session's server with this test's own dlt folder."""
    return replace(postgres_server, dlt_dir=tmp_path / ".dlt")


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def write_export(folder: Path, audience: str, channel: str, run_date: str, member_ids: list[str]) -> dict:
    """One export's JSONL and CSV as the exporter writes them, and its manifest entry."""
    run_id = f"{audience}@{run_date}"
    rows = [
        {
            "run_id": run_id,
            "audience": audience,
            "channel": channel,
            "member_id": member,
            "top_products": None if i % 2 else json.dumps(["P001", "珍珠奶茶"], ensure_ascii=False),
        }
        for i, member in enumerate(member_ids)
    ]
    stem = f"{audience}__{channel}"
    jsonl, csv_path = folder / f"{stem}.jsonl", folder / f"{stem}.csv"
    jsonl.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    with open(csv_path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=FIELDS)
        writer.writeheader()
        writer.writerows(rows)
    return {
        "run_id": run_id,
        "audience": audience,
        "channel": channel,
        "campaign_id": "ACT0001",
        "definition_version": "3f2a9c1b0d4e",
        "rows": len(rows),
        "files": {"csv": csv_path.name, "jsonl": jsonl.name},
        "sha256": {"csv": _sha256(csv_path), "jsonl": _sha256(jsonl)},
        "fields": FIELDS,
    }


def write_manifest(folder: Path, run_date: str, exports: list[dict]) -> Path:
    path = folder / "manifest.json"
    path.write_text(json.dumps({"run_date": run_date, "exports": exports}, indent=2), encoding="utf-8")
    return path


def _columns(settings: Settings, table: str) -> list[str]:
    with psycopg2.connect(server.dsn(settings)) as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = %s AND table_name = %s",
            (delivery.DATASET, table),
        )
        return sorted(r[0] for r in cur.fetchall())


def _members(settings: Settings, run_id: str) -> list[tuple]:
    with psycopg2.connect(server.dsn(settings)) as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT member_id, top_products FROM mallcrm_activation.audience_members WHERE run_id = %s ORDER BY 1",
            (run_id,),
        )
        return cur.fetchall()


def test_the_server_binaries_are_installed():
    assert (server.server_binaries() / "pg_ctl").exists()


def test_up_twice_is_idempotent(postgres_server):
    first = server.status(postgres_server)
    assert first.running and first.pid
    again = server.up(postgres_server)
    assert again.running and again.pid == first.pid
    assert server.dsn(postgres_server).startswith("postgresql://mallcrm_delivery:")
    assert (postgres_server.postgres_path / "credentials.json").stat().st_mode & 0o077 == 0


def test_delivering_twice_never_duplicates(pg, tmp_path):
    members = [f"M{i:05d}" for i in range(7)]
    sms = write_export(tmp_path, "winback_high_value", "sms", "2026-10-10", members)
    email = write_export(tmp_path, "new_joiners", "email", "2026-10-10", members[:3])
    manifest = write_manifest(tmp_path, "2026-10-10", [sms, email])

    first = delivery.deliver(pg, manifest)
    assert first.ok and [e.rows for e in first.delivered] == [7, 3]
    second = delivery.deliver(pg, manifest)
    assert second.ok
    # a fresh pipeline folder (another machine, a lost .dlt) against the same tables
    third = delivery.deliver(replace(pg, dlt_dir=tmp_path / "other.dlt"), manifest)
    assert third.ok

    counts = delivery.delivered_counts(pg)
    assert counts["winback_high_value@2026-10-10"] == 7 and counts["new_joiners@2026-10-10"] == 3
    exports = {e["run_id"]: e for e in delivery.delivered_exports(pg) if e["run_id"] in counts}
    assert exports["winback_high_value@2026-10-10"]["rows"] == 7
    assert exports["winback_high_value@2026-10-10"]["sha256"] == sms["sha256"]["jsonl"]
    assert exports["new_joiners@2026-10-10"]["channel"] == "email"
    assert exports["new_joiners@2026-10-10"]["delivered_at"] == third.delivered_at
    assert _members(pg, "winback_high_value@2026-10-10")[:2] == [("M00000", '["P001", "珍珠奶茶"]'), ("M00001", None)]


def test_the_tables_hold_exactly_the_manifest_fields(pg, tmp_path):
    entry = write_export(tmp_path, "columns_check", "sms", "2026-10-11", ["M1", "M2"])
    assert delivery.deliver(pg, write_manifest(tmp_path, "2026-10-11", [entry])).ok
    own = [c for c in _columns(pg, "audience_members") if not c.startswith("_dlt")]
    assert sorted(own) == sorted([*FIELDS, "delivered_at"])
    exports = [c for c in _columns(pg, "audience_exports") if not c.startswith("_dlt")]
    assert sorted(exports) == sorted(delivery.EXPORTS_SCHEMA.names)
    with psycopg2.connect(server.dsn(pg)) as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT conrelid::regclass::text, pg_get_constraintdef(oid) FROM pg_constraint "
            "WHERE contype = 'p' AND connamespace = 'mallcrm_activation'::regnamespace ORDER BY 1"
        )
        assert cur.fetchall() == [
            ("mallcrm_activation.audience_exports", "PRIMARY KEY (run_id)"),
            ("mallcrm_activation.audience_members", "PRIMARY KEY (run_id, member_id)"),
        ]


def test_a_new_export_of_the_same_run_replaces_its_members(pg, tmp_path):
    first = write_export(tmp_path, "replaced", "sms", "2026-10-12", ["M1", "M2", "M3"])
    assert delivery.deliver(pg, write_manifest(tmp_path, "2026-10-12", [first])).ok
    second = write_export(tmp_path, "replaced", "sms", "2026-10-12", ["M2", "M4"])
    assert delivery.deliver(pg, write_manifest(tmp_path, "2026-10-12", [second])).ok
    assert [m for m, _ in _members(pg, "replaced@2026-10-12")] == ["M2", "M4"]
    assert delivery.delivered_counts(pg)["replaced@2026-10-12"] == 2


def test_a_tampered_file_is_refused_naming_it(pg, tmp_path):
    good = write_export(tmp_path, "untouched", "sms", "2026-10-13", ["M1", "M2"])
    bad = write_export(tmp_path, "tampered", "wechat", "2026-10-13", ["M1", "M2"])
    jsonl = tmp_path / bad["files"]["jsonl"]
    jsonl.write_text(jsonl.read_text(encoding="utf-8").replace("M2", "M9"), encoding="utf-8")

    report = delivery.deliver(pg, write_manifest(tmp_path, "2026-10-13", [good, bad]))
    assert not report.ok
    assert [e.run_id for e in report.delivered] == ["untouched@2026-10-13"]
    [refused] = report.refused
    assert refused.run_id == "tampered@2026-10-13"
    assert str(jsonl) in refused.reason and "sha256" in refused.reason
    counts = delivery.delivered_counts(pg)
    assert counts["untouched@2026-10-13"] == 2 and "tampered@2026-10-13" not in counts
    assert "tampered@2026-10-13" not in {e["run_id"] for e in delivery.delivered_exports(pg)}


def test_a_jsonl_that_disagrees_with_its_manifest_is_refused(pg, tmp_path):
    entry = write_export(tmp_path, "miscounted", "sms", "2026-10-14", ["M1", "M2"])
    entry["rows"] = 3
    report = delivery.deliver(pg, write_manifest(tmp_path, "2026-10-14", [entry]))
    [refused] = report.refused
    assert "has 2 rows, its manifest says 3" in refused.reason and entry["files"]["jsonl"] in refused.reason


def test_an_empty_audience_is_delivered_as_an_export_without_members(pg, tmp_path):
    entry = write_export(tmp_path, "nobody_left", "sms", "2026-10-15", [])
    report = delivery.deliver(pg, write_manifest(tmp_path, "2026-10-15", [entry]))
    assert report.ok and [e.rows for e in report.delivered] == [0]
    assert "nobody_left@2026-10-15" not in delivery.delivered_counts(pg)
    exports = {e["run_id"]: e for e in delivery.delivered_exports(pg)}
    assert exports["nobody_left@2026-10-15"]["rows"] == 0


def test_a_file_outside_the_manifest_folder_is_refused(pg, tmp_path):
    entry = write_export(tmp_path, "escaping", "sms", "2026-10-16", ["M1"])
    entry["files"]["csv"] = "../escaping__sms.csv"
    [refused] = delivery.deliver(pg, write_manifest(tmp_path, "2026-10-16", [entry])).refused
    assert "../escaping__sms.csv" in refused.reason
