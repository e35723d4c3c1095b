"""Append-only, keyed (HMAC) chained audit log of purges, requests, publishes and policy changes.

    from privacy.audit import record, verify
    record(settings, "retention_purge", "raw_pos.transactions", {"before": 10, "after": 7})
    problems = verify(settings)        # [] when the chain is intact

One JSON object per line in `<privacy dir>/audit_log.jsonl`, outside the warehouse file
so that erasure and compaction (which rewrite that file) never touch it. Each entry:

    seq, at (UTC), action, subject, details (counts before/after ...), policy_version,
    policy_sha256, prev_hash, chain = "hmac-sha256", key_fingerprint,
    hash = HMAC-SHA256(audit key, canonical JSON of all other fields)

Changing, deleting or reordering one line breaks its own hash or the next entry's
prev_hash; `mallcrm privacy audit-verify` names the first broken entry. Entries hold
counts, table names, request ids and keyed tokens, never a personal value.

Why keyed: with a plain sha256 chain, whoever can rewrite the whole file can recompute
every hash. The HMAC needs `MALLCRM_AUDIT_KEY`, a secret of its own (not the masking key,
which rotates: old entries must stay verifiable, and `key_fingerprint` says which key made
each entry). Without it a public DEMO audit key is used and `audit-verify` says so: that
chain proves no more than sha256. Versioned entries: entries without `chain` were written
by the sha256 chain and still verify as such; an unkeyed entry after a keyed one is
reported (a downgrade), and so is a keyed entry under another key fingerprint. Under a
real key the log must end with a keyed entry, which seals the older entries before it: a
forger who rewrites the whole file in the older format is caught that way (any recorded
action seals a log; `mallcrm privacy audit-seal` does it on its own right after upgrading).

Policy changes: every `record()` first compares the sha256 of privacy/policy.yml with
the last recorded one and, when it differs, writes a `policy_change` entry naming the
columns and keys that changed (a copy of each recorded policy is kept in
`<privacy dir>/policy_snapshots/<sha256>.yml` to diff against).
"""

from __future__ import annotations

import fcntl
import hashlib
import hmac
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from mallcrm.core.settings import Settings
from privacy.policy import POLICY_FILE
from privacy.tokens import TokenKey

GENESIS = "0" * 64
FIELDS = ("seq", "at", "action", "subject", "details", "policy_version", "policy_sha256", "prev_hash")
CHAIN = "hmac-sha256"  # entries without `chain` are the older sha256 chain
KEYED_FIELDS = (*FIELDS, "chain", "key_fingerprint")
KEY_ENV = "MALLCRM_AUDIT_KEY"
# Public on purpose: a chain keyed with it can be recomputed by anyone. Demo only.
DEMO_KEY = "mallcrm-DEMO-AUDIT-KEY-not-secret-do-not-use-in-production"


def load_audit_key(settings: Settings) -> TokenKey:
    if settings.audit_key:
        return TokenKey(settings.audit_key.encode("utf-8"), "audit", False)
    return TokenKey(DEMO_KEY.encode("utf-8"), "audit", True)


def log_path(settings: Settings) -> Path:
    return settings.privacy_path / "audit_log.jsonl"


def _canonical(entry: dict[str, Any], fields: tuple[str, ...]) -> bytes:
    body = {k: entry.get(k) for k in fields}
    return json.dumps(body, sort_keys=True, ensure_ascii=False, default=str).encode()


def entry_hash(entry: dict[str, Any], key: TokenKey) -> str:
    """HMAC under the audit key for keyed entries; sha256 for entries of the older chain."""
    if entry.get("chain") == CHAIN:
        return hmac.new(key.secret, _canonical(entry, KEYED_FIELDS), hashlib.sha256).hexdigest()
    return hashlib.sha256(_canonical(entry, FIELDS)).hexdigest()


def policy_fingerprint(path: Path | None = None) -> tuple[str, str]:
    """(version, sha256) of the policy file as it is now."""
    data = (path or POLICY_FILE).read_bytes()
    version = str((yaml.safe_load(data) or {}).get("version", "?"))
    return version, hashlib.sha256(data).hexdigest()


def read_entries(settings: Settings) -> list[dict[str, Any]]:
    path = log_path(settings)
    if not path.exists():
        return []
    out = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if line.strip():
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError as exc:
                out.append({"seq": None, "_line": n, "_error": str(exc)})
    return out


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_suffix(".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _append(settings: Settings, entries: list[dict], action: str, subject: str, details: dict) -> dict:
    version, sha = policy_fingerprint()
    key = load_audit_key(settings)
    last = entries[-1] if entries else None
    entry = {
        "seq": (last["seq"] + 1) if last and isinstance(last.get("seq"), int) else 1,
        "at": datetime.now(UTC).isoformat(timespec="microseconds"),
        "action": action,
        "subject": subject,
        "details": details,
        "policy_version": version,
        "policy_sha256": sha,
        "prev_hash": last["hash"] if last else GENESIS,
        "chain": CHAIN,
        "key_fingerprint": key.fingerprint,
    }
    entry["hash"] = entry_hash(entry, key)
    with open(log_path(settings), "a", encoding="utf-8") as fh:
        fh.write(json.dumps(entry, sort_keys=True, ensure_ascii=False, default=str) + "\n")
        fh.flush()
    entries.append(entry)
    return entry


def _flatten(value: Any, prefix: str = "") -> dict[str, str]:
    if isinstance(value, dict):
        out: dict[str, str] = {}
        for k, v in value.items():
            out.update(_flatten(v, f"{prefix}{k}." if prefix or k else str(k)))
        return out
    return {prefix.rstrip("."): json.dumps(value, sort_keys=True, default=str)}


def policy_diff(old: dict, new: dict) -> dict[str, list[str]]:
    """Which settings changed between two policies (dotted paths), for the audit and report."""
    a, b = _flatten(old), _flatten(new)
    return {
        "added": sorted(set(b) - set(a)),
        "removed": sorted(set(a) - set(b)),
        "changed": sorted(k for k in set(a) & set(b) if a[k] != b[k]),
    }


def _policy_change(settings: Settings, entries: list[dict]) -> dict | None:
    version, sha = policy_fingerprint()
    recorded = [e for e in entries if e.get("action") == "policy_change"]
    previous = recorded[-1]["details"].get("new_sha256") if recorded else None
    if previous == sha:
        return None
    snapshots = settings.privacy_path / "policy_snapshots"
    snapshots.mkdir(parents=True, exist_ok=True)
    current_text = POLICY_FILE.read_text(encoding="utf-8")
    (snapshots / f"{sha}.yml").write_text(current_text, encoding="utf-8")
    details: dict[str, Any] = {"old_sha256": previous, "new_sha256": sha, "new_version": version}
    old_file = snapshots / f"{previous}.yml" if previous else None
    if old_file is not None and old_file.exists():
        old = yaml.safe_load(old_file.read_text(encoding="utf-8")) or {}
        details["old_version"] = str(old.get("version"))
        details["diff"] = policy_diff(old, yaml.safe_load(current_text) or {})
    else:
        details["diff"] = "first policy recorded" if previous is None else "previous policy text not kept"
    return _append(settings, entries, "policy_change", str(POLICY_FILE.name), details)


def record(settings: Settings, action: str, subject: str, details: dict[str, Any] | None = None) -> dict:
    """Append one entry (after a policy_change entry when the policy file changed)."""
    with _locked(log_path(settings)):
        entries = read_entries(settings)
        _policy_change(settings, entries)
        return _append(settings, entries, action, subject, details or {})


def record_policy_if_changed(settings: Settings) -> dict | None:
    with _locked(log_path(settings)):
        return _policy_change(settings, read_entries(settings))


@dataclass(frozen=True)
class AuditProblem:
    seq: Any
    line: int
    message: str

    def __str__(self) -> str:
        return f"entry {self.seq} (line {self.line}): {self.message}"


def verify(settings: Settings, key: TokenKey | None = None) -> list[AuditProblem]:
    """Every break in the chain, in order; [] when the log is intact."""
    key = key or load_audit_key(settings)
    problems: list[AuditProblem] = []
    prev = GENESIS
    keyed_seen = False
    entries = read_entries(settings)
    last: tuple[Any, int, bool] = (None, 0, True)
    for line, entry in enumerate(entries, start=1):
        if "_error" in entry:
            problems.append(AuditProblem(None, entry["_line"], f"not valid JSON ({entry['_error']})"))
            prev = None
            continue
        seq = entry.get("seq")
        if seq != line:
            problems.append(AuditProblem(seq, line, f"sequence number {seq} where {line} was expected"))
        if prev is not None and entry.get("prev_hash") != prev:
            problems.append(AuditProblem(seq, line, "prev_hash does not match the previous entry's hash"))
        keyed = entry.get("chain") == CHAIN
        if keyed and entry.get("key_fingerprint") != key.fingerprint:
            problems.append(
                AuditProblem(
                    seq,
                    line,
                    f"made under audit key {entry.get('key_fingerprint')}, the key at hand ({KEY_ENV}) is "
                    f"{key.fingerprint}: cannot be verified",
                )
            )
        elif not keyed and keyed_seen:
            problems.append(AuditProblem(seq, line, "unkeyed entry after keyed ones (the chain was downgraded)"))
        elif entry_hash(entry, key) != entry.get("hash"):
            problems.append(AuditProblem(seq, line, "content does not match its hash (entry was altered)"))
        keyed_seen = keyed_seen or keyed
        prev = entry.get("hash")
        last = (seq, line, keyed)
    if not key.is_demo and entries and not last[2]:
        problems.append(
            AuditProblem(
                last[0],
                last[1],
                "the log ends with an unkeyed entry: the file was rewritten in the older sha256 format, "
                "or was never sealed since the chain became keyed (`mallcrm privacy audit-seal`)",
            )
        )
    return problems


def seal(settings: Settings) -> dict | None:
    """Append a keyed entry after older sha256-chained ones (none when the log already ends keyed)."""
    with _locked(log_path(settings)):
        entries = read_entries(settings)
        if not entries or entries[-1].get("chain") == CHAIN:
            return None
        unkeyed = sum(1 for e in entries if e.get("chain") != CHAIN)
        return _append(settings, entries, "audit_chain_keyed", log_path(settings).name, {"unkeyed_entries": unkeyed})


def chain_summary(settings: Settings) -> dict[str, Any]:
    """How many entries are keyed (and under which key) and how many are of the older sha256 chain."""
    entries = [e for e in read_entries(settings) if "_error" not in e]
    key = load_audit_key(settings)
    keyed = sum(1 for e in entries if e.get("chain") == CHAIN)
    return {
        "entries": len(entries),
        "keyed": keyed,
        "unkeyed": len(entries) - keyed,
        "key_fingerprint": key.fingerprint,
        "demo_key": key.is_demo,
    }
