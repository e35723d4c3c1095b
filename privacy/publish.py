"""Role-scoped publish files: one DuckDB file per role of the privacy policy.

    from privacy.publish import publish_role_files
    files = publish_role_files(settings)   # {"marketing": RoleFile(path, tables), ...}

DuckDB has no users or GRANTs, so access control for people is a file per role:
`settings.warehouse_dir / "roles" / f"{role}.duckdb"`, holding only the `marts` schema
(never raw, staging, masked or intermediate), with per column only what the policy
(`privacy/policy.yml`, loaded with `privacy.policy.load_policy`) lets the role see, and
per row only the members the role may see. Everything is done in SQL inside DuckDB
(`create table ... as select`); no row passes through Python.

Column rules (the policy classifies raw columns, not mart columns)
------------------------------------------------------------------
The policy has no per-mart-column rules, so every mart column is traced back to the raw
column it comes from and the masking method that produced it; the role keeps the column
iff the policy grants that role this method for that raw column (`role_methods`), or
grants it `clear` (a masked or generalized form reveals no more than the clear value).

| mart column | raw column (policy) | method |
|---|---|---|
| `<x>_token` | column named or staged as `<x>` | token |
| `<x>_masked` | column named or staged as `<x>` | display_mask |
| `<x>_scrubbed` | column named or staged as `<x>` | scrub |
| `birth_month`, `age_band`, `is_minor` | `raw_membership.members.birthday` | generalize:<name> |
| `member_id`, `*_member_id`, `family_group_id` | `raw_membership.members.member_id` / `.family_group_id` | clear |
| a personal raw column's own name (`mobile`, `card_no`, `full_name`, ...), not an attribute | that column | clear |
| anything else (amounts, dates, ids of stores, attributes such as `gender`, `tier`) | — | kept |

Examples: `mobile_token` <- members.mobile, `member_mobile_token` <- pos.transactions.member_mobile
(profile mobile_pos), `card_no_token` <- members.card_no, `full_name_masked` <- members.name
(staging name full_name), `complaint_text_scrubbed` <- complaints.description (staging
name complaint_text), `device_token` <- wifi_dwell.device_hash (stem `device` matches
`device_hash` by its prefix as a last resort). When a stem matches several raw columns,
a role keeps the column only if every one of them grants it. A `_token`, `_masked` or
`_scrubbed` column whose stem matches no raw column is kept only by the privileged roles
(`privacy.policy.PRIVILEGED_ROLES`, i.e. compliance): unknown personal data fails closed.
With the current policy this gives (columns present in the marts):

| column | marketing | store_operations | management_bi | data_science | compliance |
|---|---|---|---|---|---|
| member_id, family_group_id, referrer_member_id, survivor_member_id | yes | yes | **no** | yes | yes |
| card_no_token | yes | yes | **no** | yes | yes |
| mobile_token, email_token | yes | **no** | **no** | yes | yes |
| member_mobile_token | yes | **no** | **no** | yes | yes |
| mobile_masked, email_masked | yes | yes | **no** | **no** | yes |
| full_name_masked | yes | yes | **no** | **no** | yes |
| birth_month | yes | **no** | **no** | yes | yes |
| age_band | **no** | **no** | yes | yes | yes |
| is_minor | **no** | **no** | **no** | yes | yes |
| *_scrubbed free text | **no** | yes | **no** | yes | yes |
| device_token | **no** | **no** | **no** | yes | yes |

(The publish computes this from the policy at run time; the table is for reviewers.)

Row rules
---------
- Minors: `tables."raw_membership.members".minors` in the policy excludes members under 14
  from every role except the privileged ones (compliance). A minor is a golden member
  with `marts.dim_member.is_minor`; rows of every table with a `member_id` column whose
  member is a minor are left out (rows with a NULL member_id, e.g. anonymous receipts,
  are kept). Aggregated marts without a member_id (monthly KPIs, heatmaps) are copied
  as they are: their counts include minors but identify nobody.
- Marketing: every table with a `member_id` column keeps only rows of members whose
  current marketing consent is active, taken from `marts.mart_member_360`: any
  `has_consent_<scope>` column true for the policy's `marketing_*` consent scopes
  (the mart computes the latest consent event per golden member and scope as of the
  as-of date, so a withdrawn grant is not active; no event = not granted). Rows with a
  NULL member_id are not a consenting member and are left out. Minors are left out too.

Files are built beside their target (`<role>.building`) and all renamed into place only
once every role file has been built, so a failure leaves the previous files untouched.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mallcrm.core.settings import Settings
from mallcrm.core.warehouse import connect
from privacy.audit import record
from privacy.policy import PRIVILEGED_ROLES, load_policy, role_methods

SCHEMA = "marts"
MARKETING_ROLE = "marketing"
MEMBERS_TABLE = "raw_membership.members"
GENERALIZED = ("birth_month", "age_band", "is_minor")
SUFFIX_METHODS = {"_token": "token", "_masked": "display_mask", "_scrubbed": "scrub"}
# pii types whose values are not identifying by themselves (kept when the profile is clear)
PLAIN_PII_TYPES = {"attribute", "pseudonymous_id"}


@dataclass(frozen=True)
class RoleFile:
    path: Path
    tables: dict[str, int]  # "marts.table" -> rows


def role_file_path(settings: Settings, role: str) -> Path:
    return settings.warehouse_dir / "roles" / f"{role}.duckdb"


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


# --------------------------------------------------------------------------- columns


def _policy_columns(policy: dict) -> list[tuple[str, str, dict]]:
    """(table.column, names it goes by, spec) for every classified raw column."""
    out = []
    tables = dict(policy.get("tables") or {})
    tables.update(policy.get("bookkeeping_tables") or {})
    for table, tspec in tables.items():
        for column, cspec in ((tspec or {}).get("columns") or {}).items():
            cspec = cspec or {}
            out.append((f"{table}.{column}", column, cspec))
    return out


def _names(column: str, spec: dict) -> set[str]:
    return {column, spec.get("staging_name") or column}


def _is_personal(spec: dict) -> bool:
    return spec.get("class", "none") != "none"


def _sources(policy: dict, column: str) -> tuple[str, list[dict]] | None:
    """(method, raw column specs) a mart column is derived from; None = not personal."""
    columns = _policy_columns(policy)
    if column in GENERALIZED:
        specs = [s for _, name, s in columns if s.get("pii_type") == "birthday" and _is_personal(s)]
        return f"generalize:{column}", specs
    for suffix, method in SUFFIX_METHODS.items():
        if column.endswith(suffix) and len(column) > len(suffix):
            stem = column[: -len(suffix)]
            specs = [s for _, name, s in columns if stem in _names(name, s) and _is_personal(s)]
            if not specs:  # e.g. device_token <- device_hash
                specs = [
                    s
                    for _, name, s in columns
                    if _is_personal(s) and any(n.startswith(stem + "_") for n in _names(name, s))
                ]
            return method, specs
    if column == "member_id" or column.endswith("_member_id"):
        specs = [s for _, name, s in columns if name == "member_id" and _is_personal(s)]
        return "clear", specs
    specs = [
        s
        for _, name, s in columns
        if column in _names(name, s)
        and _is_personal(s)
        and (s.get("pii_type") not in PLAIN_PII_TYPES or column == "family_group_id")
    ]
    if specs:
        return "clear", specs
    return None


def column_allowed(policy: dict, role: str, column: str) -> bool:
    """May `role` receive the mart column `column` under the policy? (see module docstring)"""
    found = _sources(policy, column)
    if found is None:
        return True
    method, specs = found
    if not specs:
        return role in PRIVILEGED_ROLES
    for spec in specs:
        granted = role_methods(policy, spec).get(role, [])
        if method not in granted and "clear" not in granted:
            return False
    return True


# --------------------------------------------------------------------------- rows


def minors_excluded(policy: dict, role: str) -> bool:
    minors = ((policy.get("tables") or {}).get(MEMBERS_TABLE) or {}).get("minors")
    return minors is not None and role not in PRIVILEGED_ROLES


def marketing_scopes(policy: dict) -> list[str]:
    return sorted(s for s in (policy.get("consent_scopes") or {}) if s.startswith("marketing_"))


def _row_filter(policy: dict, role: str, consent_columns: list[str], optouts: bool = False) -> str:
    """A where clause on alias `t` (a table with a member_id column) for `role`."""
    conditions = []
    if minors_excluded(policy, role):
        conditions.append(
            f"not exists (select 1 from {SCHEMA}.dim_member as m where m.member_id = t.member_id and m.is_minor)"
        )
    if role == MARKETING_ROLE:
        if consent_columns:
            any_consent = " or ".join(f"c.{_q(col)}" for col in consent_columns)
        else:  # no consent recorded at all: nobody consents
            any_consent = "false"
        conditions.append(f"t.member_id in (select c.member_id from {SCHEMA}.mart_member_360 as c where {any_consent})")
        if optouts:  # consent withdrawn by a data-subject request (privacy/requests.py)
            conditions.append("t.member_id not in (select o.member_id from privacy.marketing_optouts as o)")
    return " and ".join(conditions) or "true"


# --------------------------------------------------------------------------- publish


def _mart_tables(con) -> dict[str, list[str]]:
    rows = con.execute(
        f"""
        select c.table_name, c.column_name
        from information_schema.columns as c
        join information_schema.tables as t
            on t.table_catalog = c.table_catalog and t.table_schema = c.table_schema
            and t.table_name = c.table_name
        where c.table_catalog = current_database() and c.table_schema = '{SCHEMA}'
        order by c.table_name, c.ordinal_position
        """
    ).fetchall()
    out: dict[str, list[str]] = {}
    for table, column in rows:
        out.setdefault(table, []).append(column)
    return out


def publish_role_files(settings: Settings, policy: dict[str, Any] | None = None) -> dict[str, RoleFile]:
    """Write warehouse/roles/<role>.duckdb for every role of the policy (see module docstring)."""
    policy = load_policy() if policy is None else policy
    roles = list(policy.get("roles") or {})
    targets = {role: role_file_path(settings, role) for role in roles}
    buildings = {role: path.with_suffix(".building") for role, path in targets.items()}
    for building in buildings.values():
        building.parent.mkdir(parents=True, exist_ok=True)
        for leftover in (building, Path(f"{building}.wal")):
            leftover.unlink(missing_ok=True)
    results: dict[str, dict[str, int]] = {}
    con = connect(settings)
    try:
        marts = _mart_tables(con)
        consent_columns = [
            f"has_consent_{scope}"
            for scope in marketing_scopes(policy)
            if f"has_consent_{scope}" in marts.get("mart_member_360", [])
        ]
        optouts = bool(
            con.execute(
                "select count(*) from information_schema.tables "
                "where table_schema = 'privacy' and table_name = 'marketing_optouts'"
            ).fetchall()[0][0]
        )
        for role in roles:
            con.execute(f"attach '{buildings[role]}' as role_out")
            con.execute(f"create schema role_out.{SCHEMA}")
            tables: dict[str, int] = {}
            for table, columns in marts.items():
                kept = [c for c in columns if column_allowed(policy, role, c)]
                if not kept:
                    continue
                where = _row_filter(policy, role, consent_columns, optouts) if "member_id" in columns else "true"
                select = ", ".join(f"t.{_q(c)}" for c in kept)
                con.execute(
                    f"create table role_out.{SCHEMA}.{_q(table)} as "
                    f"select {select} from {SCHEMA}.{_q(table)} as t where {where}"
                )
                tables[f"{SCHEMA}.{table}"] = con.execute(
                    f"select count(*) from role_out.{SCHEMA}.{_q(table)}"
                ).fetchone()[0]
            con.execute("detach role_out")
            results[role] = tables
    finally:
        con.close()
    for role in roles:
        os.replace(buildings[role], targets[role])

    record(settings, "publish_role_files", ", ".join(roles), {"tables": results})
    return {role: RoleFile(targets[role], results[role]) for role in roles}
