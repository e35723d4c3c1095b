"""Scan warehouse tables for personal data that should not be there.

    python -m privacy.scan /path/to/mallcrm.duckdb [schema ...]

Every column of every table and view in the given schemas (default: masked,
intermediate, marts) is cast to text and searched for
- CN mobile numbers, 16-19 digit card numbers, e-mail addresses, CN resident ID numbers
  (as whole tokens: a digit run inside a hex hash is not a finding);
- the exact values held in raw_membership.members (names, mobiles, e-mails, card
  numbers) — "needles" that must never appear outside raw and staging.
Returns the findings; an empty list means nothing was found.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

import duckdb

DEFAULT_SCHEMAS = ("masked", "intermediate", "marts")
# Bounded by characters that cannot be part of a hash, so hex tokens are not findings.
# A '.' is excluded too: digits after a decimal point are not a phone number.
_B = "(^|[^0-9A-Za-z.])"
_E = "([^0-9A-Za-z.]|$)"
PATTERNS = {
    "cn_mobile": f"{_B}(\\+?86)?1[3-9][0-9]{{9}}{_E}",
    "card_number": f"{_B}[0-9]{{16,19}}{_E}",
    "cn_id_number": f"{_B}[1-9][0-9]{{16}}[0-9Xx]{_E}",
    "email": "[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\\.[A-Za-z]{2,}",
}
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
            checks = {kind: f"regexp_matches({text}, '{pattern}')" for kind, pattern in PATTERNS.items()}
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
    if not argv:
        print(__doc__)
        return 2
    con = duckdb.connect(argv[0], read_only=True)
    schemas = tuple(argv[1:]) or DEFAULT_SCHEMAS
    findings = scan(con, schemas)
    for f in findings:
        print(f)
    print(f"{len(findings)} finding(s) in schemas {', '.join(schemas)}")
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
