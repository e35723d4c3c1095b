"""The suppression list: keyed tokens of erased people, so they are never loaded again.

An erasure adds the tokens (privacy/tokens.py, HMAC under the current key) of every
identifier of the person — member_id, card number, mobile, e-mail — to
`<privacy dir>/suppression.csv`. Ingestion calls `suppress_erased(parsed, export)` on
every parsed batch (ingestion/sources.py): rows whose identifier columns (from
privacy/policy.yml: card_no, mobile, email pii types and member_id) tokenize to a listed
token are dropped before they reach the raw table, and quarantined rows whose raw text
holds such an identifier are dropped too (the raw line would otherwise land in
`quarantined_rows` in clear). Per file the count goes to `raw_<system>.suppressed_rows` (source_file,
rows_suppressed, suppressed_at: no values), so for every file
rows_in_file = rows_loaded + rows_quarantined + rows_suppressed (ingested_files + this table;
`staging.stg_ingest__files` joins the two).

The list holds tokens only (no value can be read back from it) and lives outside the
warehouse, so a warehouse rebuilt from re-sent exports stays clean. Tokens depend on the
key: after a key rotation re-key the list (`key_version` is recorded per entry).
Cost: nothing when the list is empty; otherwise one HMAC per distinct identifier value
of the batch, then a vectorized `is_in` filter.
"""

from __future__ import annotations

import csv
import re
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from mallcrm.settings import Settings, load_settings
from privacy.paths import privacy_dir
from privacy.policy import load_policy
from privacy.tokens import TokenKey, load_key, normalize, token

IDENTIFIER_TYPES = ("member_id", "card_no", "mobile", "email")
SUPPRESSED_TABLE = "suppressed_rows"
SUPPRESSED_SCHEMA = pa.schema(
    [("source_file", pa.string()), ("rows_suppressed", pa.int64()), ("suppressed_at", pa.timestamp("us", tz="UTC"))]
)
FIELDS = ("token", "pii_type", "key_version", "request_id", "added_at")
# identifier-looking substrings of a quarantined raw line
_CANDIDATES = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+|\+?[0-9][0-9 -]{8,22}[0-9]|\b[A-Z][0-9]{5,}\b")


@dataclass(frozen=True)
class SuppressionEntry:
    token: str
    pii_type: str
    key_version: str
    request_id: str
    added_at: str


def list_path(settings: Settings) -> Path:
    return privacy_dir(settings) / "suppression.csv"


def identifier_token(value: str | None, pii_type: str, key: TokenKey | None = None) -> str | None:
    """member_id is tokenized as-is (trimmed); the others with their own normalization."""
    return token(value, "member_id" if pii_type == "member_id" else pii_type, key)


def load_entries(settings: Settings) -> list[SuppressionEntry]:
    path = list_path(settings)
    if not path.exists():
        return []
    with open(path, newline="", encoding="utf-8") as fh:
        return [SuppressionEntry(**row) for row in csv.DictReader(fh)]


def load_tokens(settings: Settings) -> set[str]:
    version = load_key().version
    return {e.token for e in load_entries(settings) if e.key_version == version}


def add(settings: Settings, identifiers: dict[str, set[str]], request_id: str) -> int:
    """Add the tokens of {pii_type: values}; returns how many were new."""
    key = load_key()
    known = load_tokens(settings)
    now = datetime.now(UTC).isoformat(timespec="seconds")
    rows = []
    for pii_type, values in identifiers.items():
        for value in sorted(v for v in values if v):
            tok = identifier_token(value, pii_type, key)
            if tok and tok not in known:
                known.add(tok)
                rows.append(
                    {
                        "token": tok,
                        "pii_type": pii_type,
                        "key_version": key.version,
                        "request_id": request_id,
                        "added_at": now,
                    }
                )
    path = list_path(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    new_file = not path.exists()
    with open(path, "a", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=FIELDS)
        if new_file:
            writer.writeheader()
        writer.writerows(rows)
    return len(rows)


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


def _suppressed_mask(table: pa.Table, columns: dict[str, str], tokens: set[str], key: TokenKey) -> pa.Array:
    mask = pa.array([False] * table.num_rows, pa.bool_())
    for column, pii_type in columns.items():
        if column not in table.column_names:
            continue
        values = pc.cast(table.column(column), pa.string())
        distinct = [v for v in pc.unique(values).to_pylist() if v is not None]
        hits = [v for v in distinct if identifier_token(v, pii_type, key) in tokens]
        if hits:
            mask = pc.or_(mask, pc.fill_null(pc.is_in(values, value_set=pa.array(hits, pa.string())), False))
    return mask


def _raw_line_hits(records: list[str | None], tokens: set[str], key: TokenKey) -> list[bool]:
    """Per quarantined raw line: does it hold a suppressed identifier? (lines are few)"""
    out = []
    for record in records:
        hit = False
        for candidate in set(_CANDIDATES.findall(record or "")):
            for pii_type in IDENTIFIER_TYPES:
                if normalize(candidate, pii_type) and identifier_token(candidate, pii_type, key) in tokens:
                    hit = True
                    break
            if hit:
                break
        out.append(hit)
    return out


def suppress_erased(parsed, export, loaded_at: datetime, settings: Settings | None = None):
    """Drop the rows of erased people from a parsed batch (rows and quarantine), count them
    per file as `rows_suppressed` on the batch's outcomes, and return (batch, per-file
    counts as an Arrow table for `raw_<system>.suppressed_rows`, or None when nothing was
    suppressed)."""
    tokens = load_tokens(settings or load_settings())
    for outcome in parsed.outcomes:
        outcome.rows_suppressed = 0
    if not tokens:
        return parsed, None
    key = load_key()
    loaded: Counter = Counter()
    quarantined: Counter = Counter()
    if parsed.rows is not None and parsed.rows.num_rows:
        mask = _suppressed_mask(parsed.rows, identifier_columns(export.system, export.entity), tokens, key)
        if pc.any(mask).as_py():
            loaded.update(parsed.rows.filter(mask).column("_source_file").to_pylist())
            parsed.rows = parsed.rows.filter(pc.invert(mask))
    if parsed.quarantine.num_rows and "raw_record" in parsed.quarantine.column_names:
        hits = pa.array(_raw_line_hits(parsed.quarantine.column("raw_record").to_pylist(), tokens, key))
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
