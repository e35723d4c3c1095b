"""Scan warehouse tables for personal data that should not be there.

    python -m privacy.scan /path/to/mallcrm.duckdb [schema ...]

Every column of every table and view in the given schemas (default: masked,
intermediate, marts) is cast to text and searched for
- the personal identifiers of `pii_patterns` in privacy/policy.yml (e-mail addresses, CN
  ID numbers, card numbers, CN and international mobiles, landlines, MAC addresses; read
  by privacy/patterns.py), each as a whole token: a digit run inside a hex hash or a
  longer number is not a finding. The text is folded first (full-width digits, letters
  and ＠ count), and the patterns know separators, +86 / 0086 prefixes and groups of
  four. Each kind is reported under its pattern's name;
- names by the heuristic of `pii_names` (a common surname + 1-2 characters next to a
  cue such as 我叫 or 先生), reported as `person_name`;
- the exact values held in raw_membership.members (names, mobiles, e-mails, card
  numbers) — "needles" that must never appear outside raw and staging.
Returns the findings; an empty list means nothing was found.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

import duckdb

from privacy import patterns

DEFAULT_SCHEMAS = ("masked", "intermediate", "marts")
# kind -> the pattern (whole-token regex over the folded text) of privacy/policy.yml
# `pii_patterns`, and the name heuristic of `pii_names`
PATTERNS = {p.name: p.bounded for p in patterns.PATTERNS}
PATTERNS[patterns.NAME_PATTERN] = "|".join(p.bounded for p in patterns.NAME_PATTERNS)
NEEDLE_SQL = """
    select distinct v from (
        select name as v from raw_membership.members
        union all select mobile from raw_membership.members
        union all select email from raw_membership.members
        union all select card_no from raw_membership.members
    ) where v is not null and length(v) >= 2
"""


@dataclass(frozen=True)
class Finding:
    relation: str
    column: str
    kind: str
    rows: int
    example: str | None

    def __str__(self) -> str:
        return f"{self.relation}.{self.column}: {self.rows} row(s) with {self.kind} (e.g. {self.example!r})"


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def raw_needles(con: duckdb.DuckDBPyConnection) -> list[str]:
    exists = con.execute(
        "select count(*) from information_schema.tables "
        "where table_schema = 'raw_membership' and table_name = 'members'"
    ).fetchall()[0][0]
    if not exists:
        return []
    return [r[0] for r in con.execute(NEEDLE_SQL).fetchall()]


def scan(
    con: duckdb.DuckDBPyConnection,
    schemas: tuple[str, ...] = DEFAULT_SCHEMAS,
    needles: list[str] | None = None,
) -> list[Finding]:
    needles = raw_needles(con) if needles is None else needles
    rows = con.execute(
        "select table_schema, table_name, column_name from information_schema.columns "
        "where table_schema in (select unnest(?)) "
        "and data_type not in ('DOUBLE', 'FLOAT', 'REAL') and data_type not like 'DECIMAL%' "
        "order by table_schema, table_name, ordinal_position",
        [list(schemas)],
    ).fetchall()
    by_relation: dict[str, list[str]] = {}
    for schema, table, column in rows:
        by_relation.setdefault(f"{_q(schema)}.{_q(table)}", []).append(column)
    findings = []
    for relation, columns in by_relation.items():
        for column in columns:
            text = f"cast({_q(column)} as varchar)"
            checks = {p.name: patterns.pattern_sql(text, p) for p in patterns.PATTERNS}
            checks[patterns.NAME_PATTERN] = patterns.names_sql(text)
            if needles:
                checks["raw_member_value"] = f"{text} in (select unnest($needles))"
            select = ", ".join(
                f"count(*) filter (where {cond}), any_value({text}) filter (where {cond})" for cond in checks.values()
            )
            params = {"needles": needles} if needles else {}
            result = con.execute(f"select {select} from {relation}", params).fetchall()[0]
            for i, kind in enumerate(checks):
                count, example = result[2 * i], result[2 * i + 1]
                if count:
                    findings.append(Finding(relation, column, kind, int(count), example))
    return findings


def main(argv: list[str]) -> int:
    """Exit 0 when nothing was found, 1 with findings, 2 on a bad command line or a file
    that is not a readable DuckDB database (one sentence, no traceback)."""
    parser = argparse.ArgumentParser(
        prog="python -m privacy.scan",
        description="Scan a DuckDB warehouse's tables for personal data that should not be there "
        "(the pii_patterns and pii_names of privacy/policy.yml, and raw_membership.members' own values).",
        epilog="Exit codes: 0 nothing found, 1 findings, 2 bad command line or unreadable file.",
    )
    parser.add_argument("warehouse", type=Path, help="the DuckDB file, opened read-only")
    parser.add_argument(
        "schemas", nargs="*", default=[], help=f"schemas to scan (default: {' '.join(DEFAULT_SCHEMAS)})"
    )
    args = parser.parse_args(argv)
    if not args.warehouse.is_file():
        parser.error(f"no DuckDB file at {args.warehouse}")
    try:
        con = duckdb.connect(str(args.warehouse), read_only=True)
    except duckdb.Error as error:
        parser.error(f"cannot open {args.warehouse} read-only: {str(error).splitlines()[0]}")
    schemas = tuple(args.schemas) or DEFAULT_SCHEMAS
    findings = scan(con, schemas)
    for f in findings:
        print(f)
    print(f"{len(findings)} finding(s) in schemas {', '.join(schemas)}")
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
