"""The audit log: keyed (HMAC) chain, older sha256 entries, tamper detection, policy-change entries."""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import replace

import pytest

from privacy import audit
from tests.conftest import TEST_AUDIT_KEY, cli_env, settings_for


@pytest.fixture
def settings(tmp_path):
    s = settings_for(tmp_path)
    assert s.audit_key == TEST_AUDIT_KEY and s.privacy_dir is None
    return s


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
    entries[1]["hash"] = audit.entry_hash(entries[1], audit.load_audit_key(settings))  # a forger recomputes the hash
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


def _legacy_log(settings, n: int) -> list[dict]:
    """A log written by the older sha256 chain (no `chain`, no key)."""
    entries, prev = [], audit.GENESIS
    for seq in range(1, n + 1):
        entry = {
            "seq": seq,
            "at": f"2026-11-0{seq}T00:00:00+00:00",
            "action": "erasure",
            "subject": f"R-{seq}",
            "details": {"rows_removed": seq},
            "policy_version": "1.0.0",
            "policy_sha256": "0" * 64,
            "prev_hash": prev,
        }
        entry["hash"] = prev = hashlib.sha256(
            json.dumps(entry, sort_keys=True, ensure_ascii=False, default=str).encode()
        ).hexdigest()
        entries.append(entry)
    audit.log_path(settings).parent.mkdir(parents=True, exist_ok=True)
    _write_lines(settings, entries)
    return entries


def test_entries_are_hmac_keyed_with_the_audit_key(settings):
    settings = replace(settings, audit_key="audit-secret")
    audit.record(settings, "erasure", "R-1", {"rows_removed": 1})
    entry = audit.read_entries(settings)[-1]
    key = audit.load_audit_key(settings)
    assert entry["chain"] == audit.CHAIN and entry["key_fingerprint"] == key.fingerprint
    body = {k: entry[k] for k in audit.KEYED_FIELDS}
    canonical = json.dumps(body, sort_keys=True, ensure_ascii=False, default=str).encode()
    assert entry["hash"] == hmac.new(b"audit-secret", canonical, hashlib.sha256).hexdigest()
    assert audit.verify(settings) == []
    # the same log checked with another key cannot be verified, and says so
    problems = audit.verify(replace(settings, audit_key="another-secret"))
    assert problems and all("cannot be verified" in p.message for p in problems)


def test_a_forger_without_the_key_cannot_rewrite_the_chain(settings):
    settings = replace(settings, audit_key="audit-secret")
    for n in range(4):
        audit.record(settings, "erasure", f"R-{n}", {"rows_removed": n})
    original = audit.read_entries(settings)

    # 1. change one count and recompute every hash from there with a guessed key (the demo key)
    forged = [dict(e) for e in original]
    forged[2]["details"] = {"rows_removed": 99}
    guessed = audit.load_audit_key(replace(settings, audit_key=""))
    assert guessed.is_demo
    for i in range(2, len(forged)):
        forged[i]["prev_hash"] = forged[i - 1]["hash"]
        forged[i]["hash"] = audit.entry_hash(forged[i], guessed)
    _write_lines(settings, forged)
    problems = audit.verify(settings)  # every re-hashed entry (the policy_change entry is seq 1)
    assert [p.seq for p in problems] == [3, 4, 5] and all("altered" in p.message for p in problems)

    # 2. rewrite from entry 3 on in the older, unkeyed sha256 format
    forged = [dict(e) for e in original]
    for i in range(2, len(forged)):
        for k in ("chain", "key_fingerprint"):
            forged[i].pop(k)
        forged[i]["prev_hash"] = forged[i - 1]["hash"]
        forged[i]["hash"] = audit.entry_hash(forged[i], guessed)  # unkeyed: plain sha256
    _write_lines(settings, forged)
    problems = audit.verify(settings)
    assert problems[0].seq == 3 and "downgraded" in problems[0].message

    # 3. rewrite the whole file in the older format: the log no longer ends keyed
    forged = [{k: v for k, v in e.items() if k not in ("chain", "key_fingerprint")} for e in original]
    for i, entry in enumerate(forged):
        entry["prev_hash"] = forged[i - 1]["hash"] if i else audit.GENESIS
        entry["hash"] = audit.entry_hash(entry, guessed)
    _write_lines(settings, forged)
    problems = audit.verify(settings)
    assert [p.seq for p in problems] == [len(forged)] and "ends with an unkeyed entry" in problems[0].message


def test_older_sha256_logs_still_verify_and_are_sealed_by_the_next_entry(settings):
    settings = replace(settings, audit_key="audit-secret")
    legacy = _legacy_log(settings, 3)
    # as written by the older chain: intact, but not yet sealed under a real key
    problems = audit.verify(settings)
    assert [p.seq for p in problems] == [3] and "audit-seal" in problems[0].message
    sealed = audit.seal(settings)
    assert sealed["action"] == "audit_chain_keyed" and sealed["prev_hash"] == legacy[-1]["hash"]
    assert audit.seal(settings) is None  # already ends keyed
    audit.record(settings, "erasure", "R-9", {"rows_removed": 9})
    assert audit.verify(settings) == []
    summary = audit.chain_summary(settings)
    assert (summary["unkeyed"], summary["keyed"]) == (3, 3)  # + the policy_change entry
    # an older entry is still protected by its sha256 and the keyed entry after it
    entries = audit.read_entries(settings)
    entries[1]["details"]["rows_removed"] = 99
    _write_lines(settings, entries)
    assert [p.seq for p in audit.verify(settings)] == [2]


def test_audit_verify_command_names_the_entry_and_warns_about_the_demo_key(settings):
    from click.testing import CliRunner

    from cli import main

    settings = replace(settings, audit_key="")
    for n in range(3):
        audit.record(settings, "erasure", f"R-{n}", {"rows_removed": n})
    ok = CliRunner().invoke(main, ["privacy", "audit-verify"], env=cli_env(settings))
    assert ok.exit_code == 0 and "intact: 4 entries" in ok.output and "DEMO" in ok.output, ok.output
    entries = audit.read_entries(settings)
    entries[2]["subject"] = "R-X"
    _write_lines(settings, entries)
    bad = CliRunner().invoke(main, ["privacy", "audit-verify"], env=cli_env(settings))
    assert bad.exit_code == 1 and "TAMPERED entry 3 " in bad.output and "altered" in bad.output
