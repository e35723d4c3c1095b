"""The audit log: hash chain, tamper detection, policy-change entries."""

from __future__ import annotations

import json

import pytest

from mallcrm.settings import load_settings
from privacy import audit


@pytest.fixture
def settings(tmp_path, monkeypatch):
    monkeypatch.setenv("MALLCRM_WAREHOUSE", str(tmp_path / "wh" / "mallcrm.duckdb"))
    monkeypatch.delenv("MALLCRM_PRIVACY_DIR", raising=False)
    return load_settings()


def _write_lines(settings, lines):
    audit.log_path(settings).write_text("".join(json.dumps(e, sort_keys=True) + "\n" for e in lines))


def test_entries_chain_and_verify(settings):
    audit.record(settings, "retention_purge", "as of 2026-01-01", {"tables": {"raw_pos.transactions": {"before": 3}}})
    audit.record(settings, "erasure", "R-1", {"rows_removed": 7})
    entries = audit.read_entries(settings)
    # the first record also records the policy it ran under
    assert [e["action"] for e in entries] == ["policy_change", "retention_purge", "erasure"]
    assert entries[0]["prev_hash"] == audit.GENESIS
    assert all(b["prev_hash"] == a["hash"] for a, b in zip(entries, entries[1:], strict=False))
    assert entries[2]["policy_sha256"] == audit.policy_fingerprint()[1]
    assert audit.verify(settings) == []


def test_changing_one_count_is_detected_and_named(settings):
    for n in range(4):
        audit.record(settings, "erasure", f"R-{n}", {"rows_removed": n})
    entries = audit.read_entries(settings)
    entries[2]["details"]["rows_removed"] = 99  # entry seq 3
    _write_lines(settings, entries)
    problems = audit.verify(settings)
    assert len(problems) == 1 and problems[0].seq == 3 and "altered" in problems[0].message


def test_rehashing_a_changed_entry_breaks_the_next_link(settings):
    for n in range(3):
        audit.record(settings, "erasure", f"R-{n}", {"rows_removed": n})
    entries = audit.read_entries(settings)
    entries[1]["details"]["rows_removed"] = 99
    entries[1]["hash"] = audit.entry_hash(entries[1])  # a forger recomputes the hash
    _write_lines(settings, entries)
    problems = audit.verify(settings)
    assert [p.seq for p in problems] == [3] and "prev_hash" in problems[0].message


def test_deleting_an_entry_is_detected(settings):
    for n in range(3):
        audit.record(settings, "erasure", f"R-{n}", {})
    entries = audit.read_entries(settings)
    _write_lines(settings, entries[:1] + entries[2:])
    assert audit.verify(settings)


def test_policy_change_is_recorded_with_a_diff(settings, tmp_path, monkeypatch):
    audit.record(settings, "erasure", "R-1", {})
    changed = tmp_path / "policy.yml"
    text = audit.POLICY_FILE.read_text(encoding="utf-8").replace('version: "1.0.0"', 'version: "1.0.1"')
    changed.write_text(text.replace("max_retention_days: 365", "max_retention_days: 300"), encoding="utf-8")
    monkeypatch.setattr(audit, "POLICY_FILE", changed)
    audit.record(settings, "erasure", "R-2", {})
    audit.record(settings, "erasure", "R-3", {})  # no second change entry: the policy did not change again
    changes = [e for e in audit.read_entries(settings) if e["action"] == "policy_change"]
    assert len(changes) == 2
    diff = changes[1]["details"]["diff"]
    assert "version" in diff["changed"] and "classes.sensitive.max_retention_days" in diff["changed"]
    assert changes[1]["details"]["old_version"] == "1.0.0" and changes[1]["details"]["new_version"] == "1.0.1"
    assert audit.verify(settings) == []
