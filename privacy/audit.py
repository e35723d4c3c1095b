"""Append-only, keyed (HMAC) chained audit log of purges, requests, publishes and policy changes.

    from privacy.audit import record, verify
    record(settings, "retention_purge", "raw_pos.transactions", {"before": 10, "after": 7})
    problems = verify(settings)        # [] when the chain and its signed head are intact

One JSON object per line in `<privacy dir>/audit_log.jsonl`, outside the warehouse file
so that erasure and compaction (which rewrite that file) never touch it. Each entry:

    seq, at (UTC), action, subject, details (counts before/after ...), policy_version,
    policy_sha256, prev_hash, chain = "hmac-sha256-entry", key_fingerprint,
    hash = HMAC-SHA256(audit key, canonical JSON of the WHOLE entry but `hash`)

Canonical JSON is `json.dumps(..., sort_keys=True, ensure_ascii=False)`, and each line is
stored as exactly the canonical JSON of its entry (with `hash`). Verification checks both:
the HMAC (so a changed, added or removed field breaks it) and that the stored line equals
the canonical serialisation of what it parses to (so a change that parses the same, such
as whitespace, key order or escaping, shows too). Changing, deleting or reordering one line
breaks its own hash or the next entry's prev_hash; `mallcrm privacy audit-verify` names it.
Entries hold counts, table names, request ids and keyed tokens, never a personal value.

Truncation (deleting the last line(s), emptying or removing the log) leaves a chain that
is intact in itself, so the head is kept apart from the log: `<privacy dir>/audit_head.json`
holds the entry count, the last entry's hash and an HMAC (audit key) over them. It is
rewritten atomically (temp file + os.replace) under the append's lock, after the log line
is written and fsynced. Verify compares the log with it: fewer entries than the head, or
another hash at the head's position, is reported; so is a missing head beside a non-empty
log, or a head whose HMAC fails. The compliance report prints the signed head, so a
reviewer holding an older report catches a truncation that also replaced the head file
(`check_anchor`). Crash safety: a crash between the log append and the head update leaves
the head exactly one entry behind; verify accepts that (the lagging entry is verified like
any other) and the next append rewrites the head. An append never overwrites a head that
disagrees with the log in any other way (that would launder a truncation): the problem
stays reported until an operator re-anchors with `seal(settings, reanchor=True)`, which
records the reset, with the old head and the problems seen, as an entry of its own.

Why keyed: with a plain sha256 chain, whoever can rewrite the whole file can recompute
every hash. The HMAC needs `MALLCRM_AUDIT_KEY`, a secret of its own (not the masking key,
which rotates: old entries must stay verifiable, and `key_fingerprint` says which key made
each entry). Without it a public DEMO audit key is used and `audit-verify` says so: that
chain proves no more than sha256. Versioned entries, told apart by `chain`: without it,
the older sha256 chain (hash over FIELDS); "hmac-sha256", the older keyed chain (HMAC over
KEYED_FIELDS only); "hmac-sha256-entry", the current one. Older entries still verify as
they did; an entry in an older format after a newer one is reported (a downgrade), and so
is a keyed entry under another key fingerprint. The first current-format entry after
older ones carries `sealed_prefix_sha256`, the sha256 of the exact bytes before it, which
fixes those older lines byte for byte from then on. Under a real key the log must end with
a keyed entry, and every non-empty log needs its signed head: `mallcrm privacy audit-seal`
appends a current-format entry (and so writes the head) right after upgrading; any
recorded action does the same.

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
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from mallcrm.core.files import write_atomically
from mallcrm.core.settings import Settings
from privacy.policy import POLICY_FILE
from privacy.tokens import TokenKey

GENESIS = "0" * 64
FIELDS = ("seq", "at", "action", "subject", "details", "policy_version", "policy_sha256", "prev_hash")
CHAIN = "hmac-sha256-entry"  # current: HMAC over the canonical JSON of the whole entry
CHAIN_V1 = "hmac-sha256"  # older keyed entries: HMAC over KEYED_FIELDS only
KEYED_FIELDS = (*FIELDS, "chain", "key_fingerprint")  # what CHAIN_V1 entries cover
FORMATS = {CHAIN: 2, CHAIN_V1: 1}  # entries without `chain` are the older sha256 chain (0)
SEALED_PREFIX = "sealed_prefix_sha256"
HEAD_FORMAT = "mallcrm-audit-head-1"
KEY_ENV = "MALLCRM_AUDIT_KEY"
# Public on purpose: a chain keyed with it can be recomputed by anyone. Demo only.
DEMO_KEY = "mallcrm-DEMO-AUDIT-KEY-not-secret-do-not-use-in-production"


def load_audit_key(settings: Settings) -> TokenKey:
    if settings.audit_key:
        return TokenKey(settings.audit_key.encode("utf-8"), "audit", False)
    return TokenKey(DEMO_KEY.encode("utf-8"), "audit", True)


def log_path(settings: Settings) -> Path:
    return settings.privacy_path / "audit_log.jsonl"


def head_path(settings: Settings) -> Path:
    """The signed head: a file of its own, so that truncating or removing the log leaves it."""
    return settings.privacy_path / "audit_head.json"


def _dumps(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)


def _canonical(entry: dict[str, Any], fields: tuple[str, ...] | None = None) -> bytes:
    """Canonical JSON of `fields` (older formats) or of every field but `hash` (current)."""
    if fields is None:
        body = {k: v for k, v in entry.items() if k != "hash"}
    else:
        body = {k: entry.get(k) for k in fields}
    return _dumps(body).encode()


def canonical_line(entry: dict[str, Any]) -> bytes:
    """The exact bytes a current-format entry is stored as (without the newline)."""
    return _dumps(entry).encode()


def _format(entry: dict[str, Any]) -> int:
    chain = entry.get("chain")
    return FORMATS.get(chain, 0) if isinstance(chain, str) else 0


def entry_hash(entry: dict[str, Any], key: TokenKey) -> str:
    """HMAC under the audit key for keyed entries; sha256 for entries of the older chain."""
    chain = entry.get("chain")
    if chain == CHAIN:
        return hmac.new(key.secret, _canonical(entry), hashlib.sha256).hexdigest()
    if chain == CHAIN_V1:
        return hmac.new(key.secret, _canonical(entry, KEYED_FIELDS), hashlib.sha256).hexdigest()
    return hashlib.sha256(_canonical(entry, FIELDS)).hexdigest()


def policy_fingerprint(path: Path | None = None) -> tuple[str, str]:
    """(version, sha256) of the policy file as it is now."""
    data = (path or POLICY_FILE).read_bytes()
    version = str((yaml.safe_load(data) or {}).get("version", "?"))
    return version, hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class _Line:
    number: int  # 1-based line number in the file
    start: int  # byte offset of the line in the file
    raw: bytes  # the line's bytes without its newline
    entry: dict[str, Any] | None  # None for a blank line
    error: str | None = None


def _read_log(settings: Settings) -> tuple[bytes, list[_Line]]:
    """The log's bytes and its lines, split on b"\\n" only (a JSON string may hold U+2028)."""
    path = log_path(settings)
    data = path.read_bytes() if path.exists() else b""
    lines: list[_Line] = []
    start = 0
    for n, raw in enumerate(data.split(b"\n"), start=1):
        if start >= len(data):
            break  # after the final newline
        if not raw.strip():
            lines.append(_Line(n, start, raw, None))
        else:
            try:
                entry = json.loads(raw.decode("utf-8"))
                if not isinstance(entry, dict):
                    raise ValueError("not a JSON object")
                lines.append(_Line(n, start, raw, entry))
            except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
                lines.append(_Line(n, start, raw, {"seq": None, "_line": n, "_error": str(exc)}, str(exc)))
        start += len(raw) + 1
    return data, lines


def read_entries(settings: Settings) -> list[dict[str, Any]]:
    return [line.entry for line in _read_log(settings)[1] if line.entry is not None]


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_suffix(".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


# -- the signed head -------------------------------------------------------------------


def _head_hmac(head: dict[str, Any], key: TokenKey) -> str:
    body = {k: v for k, v in head.items() if k != "hmac"}
    return hmac.new(key.secret, _dumps(body).encode(), hashlib.sha256).hexdigest()


def read_head(settings: Settings, key: TokenKey | None = None) -> tuple[dict[str, Any] | None, str | None]:
    """(head, None) when the head file is there and its HMAC holds; (None, why not) otherwise.

    (None, None) when there is no head file at all.
    """
    path = head_path(settings)
    if not path.exists():
        return None, None
    key = key or load_audit_key(settings)
    try:
        head = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        return None, f"the head file is unreadable ({exc})"
    if not isinstance(head, dict) or head.get("format") != HEAD_FORMAT:
        return None, "the head file is not a signed audit head"
    if head.get("key_fingerprint") != key.fingerprint:
        return None, (
            f"the head was signed under audit key {head.get('key_fingerprint')}, the key at hand ({KEY_ENV}) is "
            f"{key.fingerprint}: cannot be verified"
        )
    if not hmac.compare_digest(str(head.get("hmac", "")), _head_hmac(head, key)):
        return None, "the head file was altered (its HMAC does not match)"
    if not isinstance(head.get("count"), int) or head["count"] < 0 or not isinstance(head.get("head_hash"), str):
        return None, "the head file was altered (count or head hash malformed)"
    return head, None


def _write_head(settings: Settings, key: TokenKey, count: int, head_hash: str) -> dict[str, Any]:
    """Rewrite the head atomically: a temp file beside it, fsynced, then os.replace."""
    head: dict[str, Any] = {
        "format": HEAD_FORMAT,
        "count": count,
        "head_hash": head_hash,
        "key_fingerprint": key.fingerprint,
        "updated_at": datetime.now(UTC).isoformat(timespec="microseconds"),
    }
    head["hmac"] = _head_hmac(head, key)
    write_atomically(head_path(settings), _dumps(head) + "\n", mode=0o644)
    return head


def _hash_at(entries: list[dict[str, Any]], count: int) -> str | None:
    """The hash the head must hold for the first `count` entries."""
    return GENESIS if count == 0 else entries[count - 1].get("hash")


def _head_problems(settings: Settings, key: TokenKey, entries: list[dict[str, Any]], last_ok: bool = True) -> list[str]:
    """How the signed head disagrees with the log ([] when it agrees, or lags by one entry).

    `last_ok`: whether the last entry verified (only then is a head one entry behind a crash
    between the log append and the head update, not tampering).
    """
    head, why = read_head(settings, key)
    n = len(entries)
    if why:
        return [why]
    if head is None:
        if n == 0:
            return []
        if any(_format(e) == FORMATS[CHAIN] for e in entries):
            return [
                f"the signed head {head_path(settings).name} is missing (removed?) beside a log of {n} entries: "
                "a truncation of the log cannot be ruled out"
            ]
        return [
            f"no signed head beside a log of {n} entries written by an older version: "
            "`mallcrm privacy audit-seal` anchors it"
        ]
    count, head_hash = head["count"], head["head_hash"]
    if n < count:
        gone = "the log is empty or missing" if n == 0 else f"the log has {n} entries"
        return [f"{gone} but the signed head records {count}: the last {count - n} were deleted (truncated)"]
    if _hash_at(entries, count) != head_hash:
        return [
            f"entry {count}'s hash differs from the signed head's: the end of the log was rewritten or the head "
            "replaced"
        ]
    if n == count + 1 and not last_ok:
        return [f"the signed head records {count} entries and the one after it does not verify"]
    if n > count + 1:
        return [
            f"the log has {n} entries but the signed head only {count}: the head was not updated by the last "
            f"{n - count} appends (replaced by an older copy?)"
        ]
    return []


def _head_agrees(settings: Settings, key: TokenKey, entries: list[dict[str, Any]]) -> bool:
    """Whether an append may move the head: it agrees with the log (or lags by one entry), or
    there is none yet beside a log of older entries only (written before heads existed)."""
    if not head_path(settings).exists():
        return not any(_format(e) == FORMATS[CHAIN] for e in entries)
    return not _head_problems(settings, key, entries)


def check_anchor(settings: Settings, count: int, head_hash: str) -> list[str]:
    """Whether the log still holds an earlier signed head (from a compliance report): [] if so."""
    entries = read_entries(settings)
    if len(entries) < count:
        return [f"the log has {len(entries)} entries, fewer than the {count} of the earlier head: truncated"]
    if _hash_at(entries, count) != head_hash:
        return [f"entry {count}'s hash is not the earlier head's: the log was rewritten from there on"]
    return []


def _append(settings: Settings, entries: list[dict], action: str, subject: str, details: dict) -> dict:
    """Append one current-format entry, then move the signed head onto it (under the caller's lock).

    The head is only moved when it agreed with the log before (or lagged it by the one entry a
    crash leaves): a head that disagrees otherwise is evidence, and stays until `seal(reanchor=True)`.
    """
    return _append_entry(settings, entries, action, subject, details, force_head=False)


def _append_entry(
    settings: Settings, entries: list[dict], action: str, subject: str, details: dict, force_head: bool
) -> dict:
    version, sha = policy_fingerprint()
    key = load_audit_key(settings)
    move_head = force_head or _head_agrees(settings, key, entries)
    last = entries[-1] if entries else None
    entry: dict[str, Any] = {
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
    path = log_path(settings)
    if last is not None and _format(last) != FORMATS[CHAIN]:
        # the first current-format entry after older ones fixes their exact bytes
        entry[SEALED_PREFIX] = hashlib.sha256(path.read_bytes()).hexdigest()
    entry = json.loads(_dumps(entry))  # what a reader will parse back: the HMAC is over exactly that
    entry["hash"] = entry_hash(entry, key)
    with open(path, "ab") as fh:
        fh.write(canonical_line(entry) + b"\n")
        fh.flush()
        os.fsync(fh.fileno())  # the line is on disk before the head says so
    entries.append(entry)
    if move_head:
        _write_head(settings, key, len(entries), entry["hash"])
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
    kind: str = "entry"  # "entry": one line of the log; "head": the log against its signed head

    def __str__(self) -> str:
        if self.kind == "head":
            return f"audit head: {self.message}"
        return f"entry {self.seq} (line {self.line}): {self.message}"


def verify(settings: Settings, key: TokenKey | None = None) -> list[AuditProblem]:
    """Every break in the chain, in order, then any disagreement with the signed head; [] when intact."""
    key = key or load_audit_key(settings)
    problems: list[AuditProblem] = []
    prev: str | None = GENESIS
    newest = 0  # the newest entry format seen so far
    data, lines = _read_log(settings)
    entries: list[dict[str, Any]] = []
    last: tuple[Any, int, bool] = (None, 0, True)
    last_ok = True
    for ln in lines:
        if ln.entry is None:
            problems.append(AuditProblem(None, ln.number, "blank line (the log was edited)"))
            continue
        entries.append(ln.entry)
        position = len(entries)
        before = len(problems)
        if ln.error is not None:
            problems.append(AuditProblem(None, ln.number, f"not valid JSON ({ln.error})"))
            prev = None
            last, last_ok = (None, ln.number, False), False
            continue
        entry = ln.entry
        seq = entry.get("seq")
        if seq != position:
            problems.append(AuditProblem(seq, ln.number, f"sequence number {seq} where {position} was expected"))
        if prev is not None and entry.get("prev_hash") != prev:
            problems.append(AuditProblem(seq, ln.number, "prev_hash does not match the previous entry's hash"))
        fmt = _format(entry)
        keyed = fmt > 0
        if "chain" in entry and not keyed:
            problems.append(AuditProblem(seq, ln.number, f"unknown chain format {entry.get('chain')!r}"))
        elif keyed and entry.get("key_fingerprint") != key.fingerprint:
            problems.append(
                AuditProblem(
                    seq,
                    ln.number,
                    f"made under audit key {entry.get('key_fingerprint')}, the key at hand ({KEY_ENV}) is "
                    f"{key.fingerprint}: cannot be verified",
                )
            )
        elif fmt < newest:
            what = "unkeyed entry after keyed ones" if not keyed else "entry in an older format after newer ones"
            problems.append(AuditProblem(seq, ln.number, f"{what} (the chain was downgraded)"))
        elif not hmac.compare_digest(str(entry.get("hash", "")), entry_hash(entry, key)):
            problems.append(AuditProblem(seq, ln.number, "content does not match its hash (entry was altered)"))
        if fmt == FORMATS[CHAIN]:
            if ln.raw != canonical_line(entry):
                problems.append(
                    AuditProblem(
                        seq,
                        ln.number,
                        "the stored line is not the canonical serialisation of its entry (whitespace, key order "
                        "or escaping changed: the entry was altered)",
                    )
                )
            sealed = entry.get(SEALED_PREFIX)
            if sealed is not None and sealed != hashlib.sha256(data[: ln.start]).hexdigest():
                problems.append(
                    AuditProblem(seq, ln.number, "the older entries it sealed changed since (bytes before it altered)")
                )
        newest = max(newest, fmt)
        prev = entry.get("hash")
        last_ok = len(problems) == before
        last = (seq, ln.number, keyed)
    if data and not data.endswith(b"\n"):
        problems.append(
            AuditProblem(last[0], lines[-1].number, "the last line has no newline (an interrupted append or an edit)")
        )
    if not key.is_demo and entries and not last[2]:
        problems.append(
            AuditProblem(
                last[0],
                last[1],
                "the log ends with an unkeyed entry: the file was rewritten in the older sha256 format, "
                "or was never sealed since the chain became keyed (`mallcrm privacy audit-seal`)",
            )
        )
    problems += [AuditProblem(None, 0, m, kind="head") for m in _head_problems(settings, key, entries, last_ok)]
    return problems


def seal(settings: Settings, reanchor: bool = False) -> dict | None:
    """Append a current-format entry after older ones (None when the log already ends with one).

    That entry seals the older entries (their exact bytes, `sealed_prefix_sha256`) and writes the
    signed head. `reanchor=True` is for an operator who has investigated a head problem (see
    docs/privacy.md): it appends an `audit_head_reset` entry holding the old head and the problems
    seen, and moves the head onto it. None when the head already agrees with the log.
    """
    with _locked(log_path(settings)):
        entries = read_entries(settings)
        key = load_audit_key(settings)
        if reanchor:
            problems = _head_problems(settings, key, entries)
            if not problems:
                return None
            old, why = read_head(settings, key)
            details = {
                "previous_head": {k: old[k] for k in ("count", "head_hash", "updated_at")} if old else why or "missing",
                "log_entries": len(entries),
                "problems": problems,
            }
            return _append_entry(settings, entries, "audit_head_reset", head_path(settings).name, details, True)
        if not entries or entries[-1].get("chain") == CHAIN:
            return None
        counts = {"unkeyed_entries": 0, "older_keyed_entries": 0}
        for e in entries:
            if _format(e) == 0:
                counts["unkeyed_entries"] += 1
            elif _format(e) == FORMATS[CHAIN_V1]:
                counts["older_keyed_entries"] += 1
        return _append(settings, entries, "audit_chain_keyed", log_path(settings).name, counts)


def chain_summary(settings: Settings) -> dict[str, Any]:
    """How many entries are keyed (and under which key), how many of the older sha256 chain; the head."""
    entries = [e for e in read_entries(settings) if "_error" not in e]
    key = load_audit_key(settings)
    keyed = sum(1 for e in entries if _format(e) > 0)
    head, _ = read_head(settings, key)
    return {
        "entries": len(entries),
        "keyed": keyed,
        "whole_entry": sum(1 for e in entries if _format(e) == FORMATS[CHAIN]),
        "unkeyed": len(entries) - keyed,
        "key_fingerprint": key.fingerprint,
        "demo_key": key.is_demo,
        "head": head,  # the signed head (count, head_hash, hmac, updated_at), None when missing or invalid
        "head_lag": (len(entries) - head["count"]) if head else None,  # 1 after a crash before the head update
    }
