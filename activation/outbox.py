"""The outbox keeps the mall's copy of every export; erasure and retention reach it too.

- `redact_erased(settings)`: after an erasure removed a member from the ledger
  (`activation.assignments`, like every member_id row), the member's lines leave the
  export files of the outbox as well: each file is rewritten without the members its run
  no longer holds, and the manifest gets the new row counts and checksums. Idempotent:
  a file already in line with the ledger is not touched. Called by every processing of
  data-subject requests (pipeline.steps.process_requests).
- `purge_expired(settings, as_of)`: export folders older than the policy's
  `activation.outbox_retention_days` are deleted (pipeline.steps.purge, daily in Dagster).

Both record what they did in the audit chain (counts and folders, never member ids).
"""

from __future__ import annotations

import json
import shutil
from datetime import date, timedelta
from pathlib import Path

from activation.export import copy_atomically
from mallcrm.core.files import write_atomically
from mallcrm.core.settings import Settings
from mallcrm.core.warehouse import connect, relation_exists
from privacy import audit
from privacy.policy import load_policy

READERS = {
    "csv": "read_csv('{path}', header = true, all_varchar = true)",
    "jsonl": "read_json('{path}', format = 'newline_delimited')",
}
WRITERS = {"csv": "format csv, header true", "jsonl": "format json"}


def _manifests(settings: Settings) -> list[Path]:
    return sorted((settings.outbox / "audiences").glob("*/manifest.json"))


def redact_erased(settings: Settings) -> int:
    """Remove from the outbox's files every member their run no longer holds; returns lines removed."""
    removed_total = 0
    con = connect(settings)
    try:
        if not relation_exists(con, "activation.assignments"):
            return 0
        for manifest_path in _manifests(settings):
            manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
            changed = False
            for entry in manifest["exports"]:
                for kind, name in entry["files"].items():
                    path = manifest_path.parent / name
                    if not path.exists() or path.stat().st_size == 0:
                        continue
                    reader = READERS["jsonl" if kind == "jsonl" else "csv"].format(path=path)
                    keep = (
                        f"select f.* from {reader} as f where f.member_id in "
                        f"(select member_id from activation.assignments where run_id = '{entry['run_id']}')"
                    )
                    total = con.execute(f"select count(*) from {reader}").fetchall()[0][0]
                    kept = con.execute(f"select count(*) from ({keep})").fetchall()[0][0]
                    if kept == total:
                        continue
                    entry["sha256"][kind] = copy_atomically(
                        con, keep, path, WRITERS["jsonl" if kind == "jsonl" else "csv"]
                    )
                    removed_total += total - kept
                    if kind == "jsonl":
                        entry["rows"] = kept
                    if kind == "holdout":
                        entry["held_out"] = kept
                    changed = True
            if changed:
                write_atomically(manifest_path, json.dumps(manifest, ensure_ascii=False, indent=2) + "\n", mode=0o640)
    finally:
        con.close()
    if removed_total:
        audit.record(settings, "audience_exports_redacted", str(settings.outbox), {"lines_removed": removed_total})
    return removed_total


def retention_days(policy: dict | None = None) -> int:
    return int(((policy or load_policy()).get("activation") or {}).get("outbox_retention_days", 30))


def export_folders(settings: Settings) -> list[Path]:
    """The outbox's export folders, one per run date."""
    root = settings.outbox / "audiences"
    return sorted(p for p in root.glob("*") if p.is_dir() and _is_date(p.name))


def purge_expired(settings: Settings, as_of: date | None = None, dry_run: bool = False) -> list[str]:
    """Delete the export folders older than the retention; returns their run dates."""
    cutoff = (as_of or date.today()) - timedelta(days=retention_days())
    root = settings.outbox / "audiences"
    expired = [p for p in export_folders(settings) if date.fromisoformat(p.name) < cutoff]
    if dry_run or not expired:
        return [p.name for p in expired]
    for folder in expired:
        shutil.rmtree(folder)
    audit.record(
        settings,
        "audience_exports_purged",
        str(root),
        {"folders": [p.name for p in expired], "before": cutoff.isoformat()},
    )
    return [p.name for p in expired]


def _is_date(name: str) -> bool:
    try:
        date.fromisoformat(name)
    except ValueError:
        return False
    return True
