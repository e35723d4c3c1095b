"""The suppression list: keyed tokens of erased people, so they are never loaded again.

An erasure adds the tokens of every identifier of the person — member_id, card number,
mobile, e-mail — to `<privacy dir>/suppression.csv`. Ingestion calls
`suppress_erased(parsed, export)` on every parsed batch (ingestion/sources.py): rows whose
identifier columns (from privacy/policy.yml: card_no, mobile, email pii types and
member_id) tokenize to a listed token are dropped before they reach the raw table, and
quarantined rows whose raw text holds such an identifier are dropped too (the raw line
would otherwise land in `quarantined_rows` in clear). Per file the count goes to
`raw_<system>.suppressed_rows` (source_file, rows_suppressed, suppressed_at: no values), so
for every file rows_in_file = rows_loaded + rows_quarantined + rows_suppressed
(ingested_files + this table; `staging.stg_ingest__files` joins the two).

Its own key, not the masking key. A token is HMAC-SHA256(key, normalized value), the same
definition as privacy/tokens.py, but under `MALLCRM_SUPPRESSION_KEY`, a long-lived secret
used for nothing else. Why: tokens are one-way, so a list made under the masking key could
never be re-keyed when that key rotates — after a rotation every entry would match nothing
and an erased person would come back with the next re-sent export. The masking key rotates
because its tokens are everywhere (marts, role files, BI copies, exports); the suppression
tokens never leave this file, so the reason to rotate does not apply to their key, and the
list stays valid across any number of masking-key rotations. Keeping old masking keys alive
instead would keep a retired key in use forever, which is what rotation is meant to end.

Failing loudly rather than matching nothing: every entry records the fingerprint of the key
it was made under (HMAC of a fixed message, privacy/tokens.py: which key, not the key).
When the list holds entries under another fingerprint (the key was changed or mistyped),
ingestion and erasure raise `SuppressionKeyError` instead of loading the erased people.
With a real masking key set (`MALLCRM_HMAC_KEY`) and no suppression key, erasure refuses to
start (before deleting anything) and ingestion refuses to run once the list has entries: a
public key would let anyone reverse the list's tokens into the mobiles of erased people.
Only a warehouse on the demo masking key falls back to a public DEMO suppression key.
Entries written before the list had its own key (no fingerprint; made under the masking key
of their `key_version`) are still matched while that masking key is current; once it has
rotated they raise, naming their request ids, because they can no longer be matched.

The list holds tokens only (no value can be read back from it) and lives outside the
warehouse, so a warehouse rebuilt from re-sent exports stays clean.
Cost: nothing when the list is empty (not even the key is read); otherwise one HMAC per
distinct identifier value of the batch, then a vectorized `is_in` filter.
"""

from __future__ import annotations

import csv
import io
import logging
import re
from collections import Counter
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from mallcrm.core.files import write_atomically
from mallcrm.core.settings import Settings
from privacy import tokens as masking
from privacy.policy import load_policy
from privacy.tokens import TokenKey, load_key, normalize, token

log = logging.getLogger(__name__)

KEY_ENV = "MALLCRM_SUPPRESSION_KEY"
# Public on purpose, like the demo masking key: demo malls only (refused with a real masking key).
DEMO_KEY = "mallcrm-DEMO-SUPPRESSION-KEY-not-secret-do-not-use-with-real-members"
# key_version of entries made under the suppression key (older entries hold a masking key version)
KEY_VERSION = "suppression"
IDENTIFIER_TYPES = ("member_id", "card_no", "mobile", "email")
SUPPRESSED_TABLE = "suppressed_rows"
SUPPRESSED_SCHEMA = pa.schema(
    [("source_file", pa.string()), ("rows_suppressed", pa.int64()), ("suppressed_at", pa.timestamp("us", tz="UTC"))]
)
FIELDS = ("token", "pii_type", "key_version", "key_fingerprint", "request_id", "added_at")
# identifier-looking substrings of a quarantined raw line
_CANDIDATES = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+|\+?[0-9][0-9 -]{8,22}[0-9]|\b[A-Z][0-9]{5,}\b")


class SuppressionKeyError(RuntimeError):
    """The list cannot be matched (or added to) with the key at hand: stop, never match nothing."""


@dataclass(frozen=True)
class SuppressionEntry:
    token: str
    pii_type: str
    key_version: str
    request_id: str
    added_at: str
    key_fingerprint: str = ""  # empty: written before the list had its own key (masking key of key_version)


# (key, tokens listed under it): what a batch is matched against
Matcher = tuple[TokenKey, frozenset[str]]


def list_path(settings: Settings) -> Path:
    return settings.privacy_path / "suppression.csv"


def load_suppression_key(settings: Settings) -> TokenKey:
    """The list's own key: MALLCRM_SUPPRESSION_KEY; the public demo key only beside the demo masking key."""
    secret = settings.suppression_key
    masking_key = load_key(settings)
    if secret:
        if secret.encode("utf-8") == masking_key.secret:
            raise SuppressionKeyError(
                f"{KEY_ENV} must not be the masking key ({masking.KEY_ENV}): that key rotates, "
                "and one-way tokens cannot follow it"
            )
        return TokenKey(secret.encode("utf-8"), KEY_VERSION, False)
    if not masking_key.is_demo:
        raise SuppressionKeyError(
            f"{KEY_ENV} is not set, but a real masking key is ({masking.KEY_ENV}): the suppression list of real "
            f"members needs its own long-lived secret (python -c 'import secrets; print(secrets.token_hex(32))'), "
            "never the public demo key, whose tokens anyone can reverse"
        )
    return TokenKey(DEMO_KEY.encode("utf-8"), KEY_VERSION, True)


def load_entries(settings: Settings) -> list[SuppressionEntry]:
    path = list_path(settings)
    if not path.exists():
        return []
    with open(path, newline="", encoding="utf-8") as fh:
        return [SuppressionEntry(**row) for row in csv.DictReader(fh)]


def _check_fingerprints(entries: list[SuppressionEntry], key: TokenKey, path: Path) -> None:
    wrong = Counter(e.key_fingerprint for e in entries if e.key_fingerprint and e.key_fingerprint != key.fingerprint)
    if wrong:
        which = "the public demo key, " + KEY_ENV + " being unset" if key.is_demo else KEY_ENV
        raise SuppressionKeyError(
            f"{sum(wrong.values())} entries of {path} were made under suppression key fingerprint "
            f"{', '.join(sorted(wrong))}, but the key at hand ({which}) has fingerprint {key.fingerprint}: "
            f"matching would find nothing and let erased people back in. Set {KEY_ENV} to the key of the list."
        )


def check_key(settings: Settings) -> TokenKey:
    """The suppression key, after checking it is the key of every keyed entry (erasure calls this first)."""
    key = load_suppression_key(settings)
    _check_fingerprints(load_entries(settings), key, list_path(settings))
    return key


def load_matchers(settings: Settings, entries: list[SuppressionEntry] | None = None) -> list[Matcher]:
    """[(key, tokens)] to match a batch against; [] for an empty list (no key is read then)."""
    entries = load_entries(settings) if entries is None else entries
    if not entries:
        return []
    out: list[Matcher] = []
    keyed = [e for e in entries if e.key_fingerprint]
    if keyed:
        key = load_suppression_key(settings)
        _check_fingerprints(keyed, key, list_path(settings))
        out.append((key, frozenset(e.token for e in keyed)))
    legacy = [e for e in entries if not e.key_fingerprint]
    if legacy:
        current = load_key(settings)
        stale = [e for e in legacy if e.key_version != current.version]
        if stale:
            versions = ", ".join(sorted({e.key_version for e in stale}))
            requests = ", ".join(sorted({e.request_id for e in stale}))
            raise SuppressionKeyError(
                f"{len(stale)} entries of {list_path(settings)} were made under masking key version(s) {versions}, "
                f"before the list had its own key, and cannot be matched under the current masking key "
                f"({current.version}). Submit the erasure requests {requests} again with the person's identifiers "
                "(their tokens then go under the suppression key), then remove these lines (empty key_fingerprint)."
            )
        out.append((current, frozenset(e.token for e in legacy)))
    return out


def add(settings: Settings, identifiers: dict[str, set[str]], request_id: str) -> int:
    """Add the tokens of {pii_type: values} under the suppression key; returns how many were new."""
    key = load_suppression_key(settings)
    if key.is_demo:
        log.warning("suppression list: %s is unset, tokens are made with the public DEMO key", KEY_ENV)
    path = list_path(settings)
    entries = load_entries(settings)
    _check_fingerprints(entries, key, path)
    known = {e.token for e in entries if e.key_fingerprint == key.fingerprint}
    now = datetime.now(UTC).isoformat(timespec="seconds")
    rows = []
    for pii_type, values in identifiers.items():
        for value in sorted(v for v in values if v):
            tok = token(value, pii_type, key)
            if tok and tok not in known:
                known.add(tok)
                rows.append(
                    {
                        "token": tok,
                        "pii_type": pii_type,
                        "key_version": KEY_VERSION,
                        "key_fingerprint": key.fingerprint,
                        "request_id": request_id,
                        "added_at": now,
                    }
                )
    if rows or not path.exists() or _header(path) != list(FIELDS):
        # the whole list rewritten atomically: a kill mid-write never leaves a torn line
        _rewrite(path, [asdict(e) for e in entries] + rows)
    return len(rows)


def _header(path: Path) -> list[str]:
    with open(path, newline="", encoding="utf-8") as fh:
        return next(csv.reader(fh), [])


def _rewrite(path: Path, rows: list[dict]) -> None:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=FIELDS)
    writer.writeheader()
    writer.writerows(rows)
    write_atomically(path, out.getvalue())


def identifier_columns(system: str, entity: str, policy: dict | None = None) -> dict[str, str]:
    """{raw column: identifier type} of one raw table, from the policy."""
    policy = load_policy() if policy is None else policy
    spec = (policy.get("tables") or {}).get(f"raw_{system}.{entity}") or {}
    out = {}
    for column, cspec in (spec.get("columns") or {}).items():
        pii_type = (cspec or {}).get("pii_type")
        if column == "member_id":
            out[column] = "member_id"
        elif pii_type in ("card_no", "mobile", "email"):
            out[column] = pii_type
    return out


def is_listed(value: str, pii_type: str, matchers: list[Matcher]) -> bool:
    """Does `value` (of `pii_type`) tokenize to an entry of the list under any of its keys?"""
    return any(token(value, pii_type, key) in listed for key, listed in matchers)


def _suppressed_mask(table: pa.Table, columns: dict[str, str], matchers: list[Matcher]) -> pa.Array:
    mask = pa.array([False] * table.num_rows, pa.bool_())
    for column, pii_type in columns.items():
        if column not in table.column_names:
            continue
        values = pc.cast(table.column(column), pa.string())
        distinct = [v for v in pc.unique(values).to_pylist() if v is not None]
        hits = [v for v in distinct if is_listed(v, pii_type, matchers)]
        if hits:
            mask = pc.or_(mask, pc.fill_null(pc.is_in(values, value_set=pa.array(hits, pa.string())), False))
    return mask


def _raw_line_hits(records: list[str | None], matchers: list[Matcher]) -> list[bool]:
    """Per quarantined raw line: does it hold a suppressed identifier? (lines are few)"""
    out = []
    for record in records:
        hit = False
        for candidate in set(_CANDIDATES.findall(record or "")):
            for pii_type in IDENTIFIER_TYPES:
                if normalize(candidate, pii_type) and is_listed(candidate, pii_type, matchers):
                    hit = True
                    break
            if hit:
                break
        out.append(hit)
    return out


def suppress_erased(parsed, export, loaded_at: datetime, settings: Settings):
    """Drop the rows of erased people from a parsed batch (rows and quarantine), count them
    per file as `rows_suppressed` on the batch's outcomes, and return (batch, per-file
    counts as an Arrow table for `raw_<system>.suppressed_rows`, or None when nothing was
    suppressed). Raises SuppressionKeyError when the list cannot be matched with the key at hand."""
    entries = load_entries(settings)
    for outcome in parsed.outcomes:
        outcome.rows_suppressed = 0
    if not entries:
        return parsed, None
    matchers = load_matchers(settings, entries)
    loaded: Counter = Counter()
    quarantined: Counter = Counter()
    if parsed.rows is not None and parsed.rows.num_rows:
        mask = _suppressed_mask(parsed.rows, identifier_columns(export.system, export.entity), matchers)
        if pc.any(mask).as_py():
            loaded.update(parsed.rows.filter(mask).column("_source_file").to_pylist())
            parsed.rows = parsed.rows.filter(pc.invert(mask))
    if parsed.quarantine.num_rows and "raw_record" in parsed.quarantine.column_names:
        hits = pa.array(_raw_line_hits(parsed.quarantine.column("raw_record").to_pylist(), matchers))
        if pc.any(hits).as_py():
            quarantined.update(parsed.quarantine.filter(hits).column("source_file").to_pylist())
            parsed.quarantine = parsed.quarantine.filter(pc.invert(hits))
    for outcome in parsed.outcomes:
        name = outcome.file.relpath
        outcome.rows_loaded -= loaded.get(name, 0)
        outcome.rows_quarantined -= quarantined.get(name, 0)
        outcome.rows_suppressed = loaded.get(name, 0) + quarantined.get(name, 0)
    counted = [o for o in parsed.outcomes if o.rows_suppressed]
    if not counted:
        return parsed, None
    table = pa.Table.from_pylist(
        [
            {"source_file": o.file.relpath, "rows_suppressed": o.rows_suppressed, "suppressed_at": loaded_at}
            for o in counted
        ],
        schema=SUPPRESSED_SCHEMA,
    )
    return parsed, table
