"""The audit log: keyed (HMAC) chain, older sha256 entries, tamper detection, policy-change entries,
the signed head (truncation) and crash safety between the log append and the head update."""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import replace

import duckdb
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


def _entry_problems(problems):
    return [p for p in problems if p.kind == "entry"]


def _head_problems(problems):
    return [p for p in problems if p.kind == "head"]


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
    body = {k: v for k, v in entry.items() if k != "hash"}  # the whole entry, not a list of fields
    assert set(audit.KEYED_FIELDS) <= set(body)
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
    entry_problems = _entry_problems(problems)
    assert [p.seq for p in entry_problems] == [3, 4, 5] and all("altered" in p.message for p in entry_problems)
    assert ["differs from the signed head" in p.message for p in _head_problems(problems)] == [True]

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
    problems = _entry_problems(audit.verify(settings))
    assert [p.seq for p in problems] == [len(forged)] and "ends with an unkeyed entry" in problems[0].message


def test_older_sha256_logs_still_verify_and_are_sealed_by_the_next_entry(settings):
    settings = replace(settings, audit_key="audit-secret")
    legacy = _legacy_log(settings, 3)
    # as written by the older chain: intact, but not yet sealed under a real key
    problems = audit.verify(settings)
    assert [p.seq for p in problems] == [3, None] and all("audit-seal" in p.message for p in problems)
    assert "no signed head" in str(problems[1])  # written before heads existed
    sealed = audit.seal(settings)
    assert sealed["action"] == "audit_chain_keyed" and sealed["prev_hash"] == legacy[-1]["hash"]
    assert sealed["details"] == {"unkeyed_entries": 3, "older_keyed_entries": 0}
    assert audit.read_head(settings)[0]["count"] == 4  # sealing writes the signed head
    assert audit.seal(settings) is None  # already ends keyed
    audit.record(settings, "erasure", "R-9", {"rows_removed": 9})
    assert audit.verify(settings) == []
    summary = audit.chain_summary(settings)
    assert (summary["unkeyed"], summary["keyed"]) == (3, 3)  # + the policy_change entry
    # an older entry is still protected by its sha256 and the keyed entry after it
    entries = audit.read_entries(settings)
    entries[1]["details"]["rows_removed"] = 99
    _write_lines(settings, entries)
    problems = audit.verify(settings)  # the entry, and the seal over the exact bytes before it
    assert [p.seq for p in problems] == [2, 4] and "sealed changed" in problems[1].message
    # a change to an older entry its own hash does not cover (a field added) shows through the seal
    entries = [dict(e) for e in legacy] + audit.read_entries(settings)[3:]
    entries[0] = {**entries[0], "note": "added later"}
    _write_lines(settings, entries)
    problems = audit.verify(settings)
    assert [p.seq for p in problems] == [4] and "sealed changed" in problems[0].message


def test_older_hmac_entries_still_verify_and_the_next_entry_seals_them(settings):
    """Entries of the older keyed format (HMAC over KEYED_FIELDS only) verify as before."""
    settings = replace(settings, audit_key="audit-secret")
    key = audit.load_audit_key(settings)
    entries = _legacy_log(settings, 2)
    for entry in entries:  # re-chain them in the older keyed format
        entry.update(chain=audit.CHAIN_V1, key_fingerprint=key.fingerprint)
        if entry["seq"] > 1:
            entry["prev_hash"] = entries[entry["seq"] - 2]["hash"]
        entry["hash"] = hmac.new(
            b"audit-secret",
            json.dumps({k: entry.get(k) for k in audit.KEYED_FIELDS}, sort_keys=True).encode(),
            hashlib.sha256,
        ).hexdigest()
    _write_lines(settings, entries)
    problems = audit.verify(settings)
    assert _entry_problems(problems) == [] and "no signed head" in str(_head_problems(problems)[0])
    audit.record(settings, "erasure", "R-3", {"rows_removed": 3})
    assert audit.verify(settings) == []
    new = audit.read_entries(settings)
    assert [e["chain"] for e in new] == [audit.CHAIN_V1] * 2 + [audit.CHAIN] * 2
    assert audit.SEALED_PREFIX in new[2] and audit.SEALED_PREFIX not in new[3]
    # an older keyed entry after a current one is a downgrade
    _write_lines(settings, [*new, {**entries[1], "seq": 5, "prev_hash": new[-1]["hash"]}])
    problems = _entry_problems(audit.verify(settings))
    assert [p.seq for p in problems] == [5] and "downgraded" in problems[0].message


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


# -- the hash covers the canonical whole entry, and the stored line must be that canonical form


def _log_lines(settings) -> list[str]:
    return audit.log_path(settings).read_text(encoding="utf-8").splitlines()


def _write_raw(settings, lines: list[str]) -> None:
    audit.log_path(settings).write_text("".join(line + "\n" for line in lines), encoding="utf-8")


@pytest.fixture
def three(settings):
    """A log of 4 current-format entries (policy_change + 3 erasures) under a real key."""
    for n in range(3):
        audit.record(
            settings, "erasure", f"R-{n}", {"rows_removed": n, "tables": {"raw_pos.t": {"before": n, "after": 0}}}
        )
    assert audit.verify(settings) == [] and len(_log_lines(settings)) == 4
    return settings


@pytest.mark.parametrize(
    "edit",
    [
        lambda line: line.replace('": ', '":  ', 1),  # one more space
        lambda line: line.replace(", ", ",", 1),  # one space less
        lambda line: line + " ",  # trailing whitespace
        lambda line: "\t" + line,  # leading whitespace
        lambda line: json.dumps(dict(reversed(json.loads(line).items()))),  # another key order
        lambda line: line.replace('"R-1"', '"\\u0052-1"'),  # the same string, escaped
    ],
)
def test_a_whitespace_or_formatting_change_in_an_entry_is_detected(three, edit):
    lines = _log_lines(three)
    changed = edit(lines[2])
    assert changed != lines[2] and json.loads(changed) == json.loads(lines[2])  # parses to the same entry
    lines[2] = changed
    _write_raw(three, lines)
    problems = audit.verify(three)
    assert [p.seq for p in problems] == [3] and "canonical serialisation" in problems[0].message


def test_an_added_field_is_detected(three):
    entries = audit.read_entries(three)
    entries[2]["note"] = "approved by the DPO"  # a field no older format hashed
    _write_lines(three, entries)  # written in the canonical form: only the HMAC can tell
    problems = audit.verify(three)
    assert [p.seq for p in problems] == [3] and "altered" in problems[0].message


def test_a_removed_or_changed_field_is_detected_whichever_field(three):
    key = audit.load_audit_key(three)
    original = audit.read_entries(three)
    entry = original[2]
    body = json.dumps({k: v for k, v in entry.items() if k != "hash"}, sort_keys=True, ensure_ascii=False)
    assert entry["hash"] == hmac.new(key.secret, body.encode(), hashlib.sha256).hexdigest()
    for field in [k for k in entry if k not in ("hash", "chain", "key_fingerprint")]:
        for value in (None, "changed", {"x": 1}):
            entries = [dict(e) for e in original]
            entries[2][field] = value
            _write_lines(three, entries)
            problems = _entry_problems(audit.verify(three))
            assert 3 in [p.line for p in problems if "altered" in p.message], (field, value)
        entries = [dict(e) for e in original]
        del entries[2][field]
        _write_lines(three, entries)
        assert 3 in [p.line for p in audit.verify(three) if "altered" in p.message], field


def test_a_blank_line_or_a_missing_final_newline_is_detected(three):
    lines = _log_lines(three)
    _write_raw(three, [*lines[:2], "", *lines[2:]])
    assert ["blank line" in p.message for p in audit.verify(three)] == [True]
    audit.log_path(three).write_text("\n".join(lines), encoding="utf-8")
    assert ["no newline" in p.message for p in audit.verify(three)] == [True]


def test_a_line_separator_inside_a_value_does_not_split_the_entry(settings):
    audit.record(settings, "erasure", "R-\u2028-\x85", {"note": "é"})
    assert audit.read_entries(settings)[-1]["subject"] == "R-\u2028-\x85"
    assert audit.verify(settings) == []


# -- truncation: the signed head


def test_deleting_the_last_line_is_detected(three):
    _write_raw(three, _log_lines(three)[:-1])
    problems = audit.verify(three)
    assert [p.kind for p in problems] == ["head"]
    assert "has 3 entries but the signed head records 4" in problems[0].message and "truncated" in str(problems[0])


def test_deleting_the_last_three_lines_is_detected(three):
    _write_raw(three, _log_lines(three)[:-3])
    problems = audit.verify(three)
    assert len(problems) == 1 and "the last 3 were deleted (truncated)" in problems[0].message


@pytest.mark.parametrize("how", ["empty", "remove"])
def test_emptying_or_removing_the_log_is_detected(three, how):
    log = audit.log_path(three)
    log.write_text("") if how == "empty" else log.unlink()
    problems = audit.verify(three)
    assert len(problems) == 1 and "the log is empty or missing but the signed head records 4" in problems[0].message


def test_the_head_is_signed_and_apart_from_the_log(three):
    head_file = audit.head_path(three)
    assert head_file.parent == audit.log_path(three).parent and head_file != audit.log_path(three)
    head, why = audit.read_head(three)
    assert why is None and head["count"] == 4 and head["head_hash"] == audit.read_entries(three)[-1]["hash"]
    body = json.dumps({k: v for k, v in head.items() if k != "hmac"}, sort_keys=True, ensure_ascii=False)
    assert head["hmac"] == hmac.new(TEST_AUDIT_KEY.encode(), body.encode(), hashlib.sha256).hexdigest()
    assert not list(head_file.parent.glob(".audit_head.json.*"))  # no temp file left behind


@pytest.mark.parametrize(
    "edit",
    [
        lambda head: {**head, "count": head["count"] - 1},
        lambda head: {**head, "head_hash": "0" * 64},
        lambda head: {**head, "updated_at": "2020-01-01T00:00:00+00:00"},
        lambda head: {**head, "extra": 1},
    ],
)
def test_a_changed_head_file_is_detected(three, edit):
    head_file = audit.head_path(three)
    head_file.write_text(json.dumps(edit(json.loads(head_file.read_text()))))
    problems = audit.verify(three)
    assert [p.kind for p in problems] == ["head"] and "HMAC does not match" in problems[0].message


def test_a_removed_head_is_detected_and_an_append_does_not_launder_it(three):
    audit.head_path(three).unlink()
    problems = audit.verify(three)
    assert len(problems) == 1 and "is missing (removed?)" in problems[0].message
    _write_raw(three, _log_lines(three)[:-2])  # ... which hides this truncation
    audit.record(three, "erasure", "R-9", {})
    assert not audit.head_path(three).exists()  # the append left the evidence as it was
    assert ["is missing" in p.message for p in audit.verify(three)] == [True]
    # after investigating, the operator re-anchors: the reset is itself recorded in the chain
    reset = audit.seal(three, reanchor=True)
    assert reset["action"] == "audit_head_reset" and reset["details"]["previous_head"] == "missing"
    assert reset["details"]["log_entries"] == 3 and "is missing" in reset["details"]["problems"][0]
    assert audit.verify(three) == [] and audit.seal(three, reanchor=True) is None


def test_an_older_copy_of_the_head_with_a_truncated_log_is_caught_by_the_report_anchor(three):
    old_head = audit.head_path(three).read_bytes()
    anchor = audit.read_head(three)[0]
    audit.record(three, "erasure", "R-3", {})
    audit.record(three, "erasure", "R-4", {})
    assert audit.check_anchor(three, anchor["count"], anchor["head_hash"]) == []
    audit.head_path(three).write_bytes(old_head)  # an older head, replayed
    assert "head was not updated by the last 2 appends" in str(audit.verify(three))
    _write_raw(three, _log_lines(three)[:-2])  # ... and the log cut back to it: locally consistent
    assert audit.verify(three) == []
    later = audit.read_head(three)[0]
    # a reviewer holding the report written after R-4 (count 6) still sees the truncation
    assert audit.check_anchor(three, later["count"] + 2, "f" * 64)
    assert audit.check_anchor(three, anchor["count"], anchor["head_hash"]) == []


# -- crash safety: the log append and the head update are two writes


def _crash_before_the_head_update(monkeypatch):
    def crash(*args, **kwargs):
        raise KeyboardInterrupt("power cut between the log append and the head update")

    monkeypatch.setattr(audit, "_write_head", crash)


def test_a_crash_between_append_and_head_update_still_verifies(three, monkeypatch):
    with monkeypatch.context() as m:
        _crash_before_the_head_update(m)
        with pytest.raises(KeyboardInterrupt):
            audit.record(three, "erasure", "R-crash", {"rows_removed": 1})
    assert len(audit.read_entries(three)) == 5 and audit.read_head(three)[0]["count"] == 4
    assert audit.verify(three) == []  # the head lags by exactly one entry that verifies
    assert audit.chain_summary(three)["head_lag"] == 1
    audit.record(three, "erasure", "R-next", {})  # the next append repairs the head
    assert audit.read_head(three)[0]["count"] == 6 and audit.chain_summary(three)["head_lag"] == 0
    assert audit.verify(three) == []


def test_a_lagging_entry_that_does_not_verify_is_reported(three, monkeypatch):
    with monkeypatch.context() as m:
        _crash_before_the_head_update(m)
        with pytest.raises(KeyboardInterrupt):
            audit.record(three, "erasure", "R-crash", {"rows_removed": 1})
    lines = _log_lines(three)
    lines[-1] = lines[-1].replace('"rows_removed": 1', '"rows_removed": 2')
    _write_raw(three, lines)
    problems = audit.verify(three)
    assert [p.seq for p in _entry_problems(problems)] == [5] and "does not verify" in str(_head_problems(problems))


def test_a_head_lagging_by_two_entries_is_reported(three):
    old_head = audit.head_path(three).read_bytes()
    for n in range(2):
        audit.record(three, "erasure", f"R-{n + 5}", {})
    audit.head_path(three).write_bytes(old_head)
    problems = audit.verify(three)
    assert [p.kind for p in problems] == ["head"] and "not updated by the last 2 appends" in problems[0].message


def test_the_cli_names_a_truncation(three):
    from click.testing import CliRunner

    from cli import main

    _write_raw(three, _log_lines(three)[:-1])
    bad = CliRunner().invoke(main, ["privacy", "audit-verify"], env=cli_env(three))
    assert bad.exit_code == 1 and "TAMPERED audit head: " in bad.output and "truncated" in bad.output, bad.output


# -- the compliance report prints the signed head


def test_the_report_shows_the_signed_head(three):
    from privacy import report

    head = audit.read_head(three)[0]
    markdown = report.audit_chain_markdown(three)
    assert f"| {head['count']} | `{head['head_hash']}` | `{head['hmac']}` | {head['key_fingerprint']} |" in markdown
    assert "Verified intact: 4 entries" in markdown and "check_anchor" in markdown
    html = report._md_to_html(markdown)
    assert f"<code>{head['hmac']}</code>" in html

    _write_raw(three, _log_lines(three)[:-1])
    assert "**BROKEN**" in report.audit_chain_markdown(three) and "truncated" in report.audit_chain_markdown(three)
    audit.head_path(three).unlink()
    assert "**NO VALID SIGNED HEAD**" in report.audit_chain_markdown(three)


def test_the_rendered_report_holds_the_audit_section(three, monkeypatch):
    from privacy import report

    monkeypatch.setattr(report, "_mart_tables", lambda con: {})
    monkeypatch.setattr(report, "expired_counts", lambda con, policy, today: {})
    three.warehouse.parent.mkdir(parents=True, exist_ok=True)
    duckdb.connect(str(three.warehouse)).close()  # an empty warehouse: connect() refuses a missing one
    markdown = report.render(three)
    head = audit.read_head(three)[0]
    assert "## Audit chain" in markdown and f"`{head['hmac']}`" in markdown
