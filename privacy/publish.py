"""Role-scoped publish files: one DuckDB file per role of the privacy policy.

    from privacy.publish import publish_role_files
    files = publish_role_files(settings)   # {"marketing": RoleFile(path, tables), ...}

DuckDB has no users or GRANTs, so access control for people is a file per role:
`settings.warehouse_dir / "roles" / f"{role}.duckdb"` (per store for a store-scoped role,
see Row rules), holding only the `marts` schema
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
  marketing consent is active *now* (`consenting_members_sql`): the latest event per
  golden member and `marketing_*` scope among all consent events the warehouse holds
  (`masked.msk_membership__consents` through `intermediate.int_member__identity_map`),
  whatever their date, minus `privacy.marketing_optouts` (data-subject withdrawals).
  It is not cut at the analytics as-of date: `marts.mart_member_360.has_consent_*` stay
  as-of flags for analytics, and every role file re-checks the current consent state
  when it is written, so a withdrawal recorded after the latest POS day is honoured in
  the next publish. No event = not granted. Rows with a NULL member_id are not a
  consenting member and are left out. Minors are left out too.
- Store scope: a role whose policy entry has `scope: {per: store, ...}` (store_operations)
  gets one file per store of `marts.dim_store`, `roles/<role>/<store_id>.duckdb`: a table
  with the scope's `column` (store_id) keeps only that store's rows, a table with its
  `zone_column` but no store column only the store's zone, `shared_tables` are copied
  whole and any other table is left out of the store files (fail closed).

Atomic publishing of the set
----------------------------
All role files of one publish form a generation: a new directory
`warehouse/roles.gen-<UTC time>-<random>/` is built in full, then the symlink
`warehouse/roles` is repointed to it in one step (a temporary symlink renamed over it:
rename(2) is atomic), and only then are older generations deleted. Readers keep opening
`warehouse/roles/<role>.duckdb` (`role_file_path`) and see either the whole old set or
the whole new one, never a mix. A generation left half-built by a killed publish (or an
old one a killed publish did not get to delete) is removed by the next publish, so
nothing that walks the warehouse directory (erasure's byte checks) finds stale copies.
A `roles` that is still a plain directory (written before generations) is moved aside
into a generation once, on the first publish (for that one publish, `roles` is missing
between two renames). A reader with a file of the old generation open keeps reading it
after the deletion (an unlinked file lives on while open).

`write_role_file` writes one role's (or one store's) file; privacy/bi_copy.py uses it to
write the management_bi role's marts into the BI copy in DuckDB 1.4 storage. Every file
carries the dbt docs as table and column comments and the metric views (schema `metrics`,
semantic/) over the rows and columns the role sees, so a BI tool reads the role's metrics
with their definitions.
"""

from __future__ import annotations

import os
import re
import shutil
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from mallcrm.core.settings import Settings
from mallcrm.core.warehouse import connect, relation_exists
from privacy.audit import record
from privacy.policy import PRIVILEGED_ROLES, load_policy, role_methods
from semantic.layer import SemanticLayer, load_semantic_layer

SCHEMA = "marts"
MARKETING_ROLE = "marketing"
MEMBERS_TABLE = "raw_membership.members"
GENERALIZED = ("birth_month", "age_band", "is_minor")
SUFFIX_METHODS = {"_token": "token", "_masked": "display_mask", "_scrubbed": "scrub"}
# pii types whose values are not identifying by themselves (kept when the profile is clear)
PLAIN_PII_TYPES = {"attribute", "pseudonymous_id"}
# where the current consent state is read from (all events, not cut at the as-of date)
CONSENTS = ("masked", "msk_membership__consents")
IDENTITY_MAP = ("intermediate", "int_member__identity_map")
OPTOUTS = ("privacy", "marketing_optouts")
ROLES_LINK = "roles"
GENERATION_PREFIX = "roles.gen-"
TEMP_LINK_PREFIX = "roles.link-"
_STORE_ID = re.compile(r"^[A-Za-z0-9_-][A-Za-z0-9_.-]{0,63}$")


@dataclass(frozen=True)
class RoleFile:
    path: Path  # the role's file; for a store-scoped role its directory of store files
    tables: dict[str, int]  # "marts.table" -> rows (summed over the stores of a store-scoped role)
    stores: dict[str, RoleFile] = field(default_factory=dict)  # store id -> file (store-scoped roles)

    def files(self) -> list[Path]:
        return [f.path for f in self.stores.values()] if self.stores else [self.path]


def roles_dir(settings: Settings) -> Path:
    """`warehouse/roles`: the symlink to the current generation of role files."""
    return settings.warehouse_dir / ROLES_LINK


def role_file_path(settings: Settings, role: str, store: str | None = None) -> Path:
    """warehouse/roles/<role>.duckdb, or warehouse/roles/<role>/<store>.duckdb for a store-scoped role."""
    if store is not None:
        return roles_dir(settings) / role / f"{_store_file_name(store)}.duckdb"
    return roles_dir(settings) / f"{role}.duckdb"


def _store_file_name(store: str) -> str:
    if not _STORE_ID.match(store):
        raise ValueError(f"store id {store!r} cannot name a file (letters, digits, '_', '-', '.')")
    return store


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _lit(value: str) -> str:
    return "'" + str(value).replace("'", "''") + "'"


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


def store_scope(policy: dict, role: str) -> dict | None:
    """The role's `scope` entry when the policy scopes it per store, else None."""
    scope = ((policy.get("roles") or {}).get(role) or {}).get("scope")
    if not scope:
        return None
    if scope.get("per") != "store" or not scope.get("column"):
        raise ValueError(f"policy: role {role}: unsupported scope {scope!r} (expected per: store and a column)")
    return scope


def _relation_exists(con, schema: str, table: str) -> bool:
    return relation_exists(con, f"{schema}.{table}")


def consenting_members_sql(con, policy: dict, scopes: list[str] | None = None) -> str:
    """SQL for the golden member ids whose marketing consent is active now.

    The latest event per golden member and marketing scope among every consent event the
    warehouse holds (not cut at the analytics as-of date), granted in at least one
    marketing scope (or one of `scopes`), minus the data-subject withdrawals of
    `privacy.marketing_optouts` (by the member id recorded and its golden member). No
    consent data = nobody. The marketing role file, its quality check (quality/runner.py)
    and the consent gate of every audience export (activation/gates.py) use it."""
    scopes = marketing_scopes(policy) if scopes is None else sorted(scopes)
    if scopes and _relation_exists(con, *CONSENTS) and _relation_exists(con, *IDENTITY_MAP):
        consents, ids = ".".join(CONSENTS), ".".join(IDENTITY_MAP)
        sql = f"""
            select latest.member_id from (
                select ids.golden_member_id as member_id, c.is_granted,
                    row_number() over (
                        partition by ids.golden_member_id, c.consent_scope
                        order by c.event_at desc, c.consent_event_id desc
                    ) as recency
                from {consents} as c
                join {ids} as ids
                    on ids.identifier_type = 'member_id' and ids.identifier_value = c.member_id
                where c.consent_scope in ({", ".join(_lit(s) for s in scopes)})
            ) as latest
            where latest.recency = 1 and latest.is_granted and latest.member_id is not null"""
    else:
        sql = "select cast(null as varchar) as member_id where false"
    if _relation_exists(con, *OPTOUTS):
        optouts = ".".join(OPTOUTS)
        sql += f"""
            except
            select o.member_id from {optouts} as o where o.member_id is not null"""
        if _relation_exists(con, *IDENTITY_MAP):
            sql += f"""
            except
            select ids.golden_member_id from {optouts} as o
            join {".".join(IDENTITY_MAP)} as ids
                on ids.identifier_type = 'member_id' and ids.identifier_value = o.member_id"""
    return sql


def _row_filter(policy: dict, role: str, consenting_sql: str) -> str:
    """A where clause on alias `t` (a table with a member_id column) for `role`."""
    conditions = []
    if minors_excluded(policy, role):
        conditions.append(
            f"not exists (select 1 from {SCHEMA}.dim_member as m where m.member_id = t.member_id and m.is_minor)"
        )
    if role == MARKETING_ROLE:
        conditions.append(f"t.member_id in ({consenting_sql})")
    return " and ".join(conditions) or "true"


def store_rule(scope: dict, table: str, columns: list[str]) -> str | None:
    """How a store-scoped role sees `table`: "store" (by its store column), "zone" (by the
    store's zone), "shared" (whole) or None (not at all). The role files and the
    PostgreSQL row security (serving/) both follow it."""
    if scope["column"] in columns:
        return "store"
    if scope.get("zone_column") and scope["zone_column"] in columns:
        return "zone"
    if table in (scope.get("shared_tables") or []):
        return "shared"
    return None


def _store_filter(scope: dict, table: str, columns: list[str], store: str) -> str | None:
    """The where clause on alias `t` for one store's file; None = the table is left out."""
    column, zone = scope["column"], scope.get("zone_column")
    rule = store_rule(scope, table, columns)
    if rule == "store":
        return f"t.{_q(column)} = {_lit(store)}"
    if rule == "zone":
        return (
            f"t.{_q(zone)} in (select s.{_q(zone)} from {SCHEMA}.dim_store as s where s.{_q(column)} = {_lit(store)})"
        )
    return "true" if rule == "shared" else None


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


def write_role_file(
    con,
    policy: dict,
    role: str,
    path: Path,
    *,
    marts: dict[str, list[str]] | None = None,
    consenting_sql: str | None = None,
    store: str | None = None,
    storage_version: str | None = None,
    semantic: SemanticLayer | None = None,
) -> dict[str, int]:
    """Write one role's marts (one store's, for a store-scoped role) into a new file `path`,
    with `semantic`'s comments and metric views on what it holds."""
    marts = _mart_tables(con) if marts is None else marts
    if consenting_sql is None:
        consenting_sql = consenting_members_sql(con, policy)
    scope = store_scope(policy, role)
    if (scope is None) != (store is None):
        raise ValueError(f"role {role}: a store is {'required' if scope else 'not expected'}")
    options = f" (storage_version {_lit(storage_version)})" if storage_version else ""
    con.execute(f"attach {_lit(str(path))} as role_out{options}")
    tables: dict[str, int] = {}
    written: dict[str, list[str]] = {}
    try:
        con.execute(f"create schema role_out.{SCHEMA}")
        for table, columns in marts.items():
            kept = [c for c in columns if column_allowed(policy, role, c)]
            if not kept:
                continue
            conditions = []
            if "member_id" in columns:
                conditions.append(_row_filter(policy, role, consenting_sql))
            if scope is not None:
                where_store = _store_filter(scope, table, columns, store)
                if where_store is None:
                    continue
                conditions.append(where_store)
            where = " and ".join(conditions) or "true"
            select = ", ".join(f"t.{_q(c)}" for c in kept)
            con.execute(
                f"create table role_out.{SCHEMA}.{_q(table)} as "
                f"select {select} from {SCHEMA}.{_q(table)} as t where {where}"
            )
            tables[f"{SCHEMA}.{table}"] = con.execute(f"select count(*) from role_out.{SCHEMA}.{_q(table)}").fetchone()[
                0
            ]
            written[f"{SCHEMA}.{table}"] = kept
        if semantic is not None:
            semantic.apply(con, "duckdb", written, catalog="role_out")
    finally:
        con.execute("detach role_out")
    return tables


def _stores(con) -> list[str]:
    return [
        r[0] for r in con.execute(f"select distinct store_id from {SCHEMA}.dim_store order by 1").fetchall() if r[0]
    ]


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _current_generation(settings: Settings) -> Path | None:
    link = roles_dir(settings)
    if link.is_symlink():
        return settings.warehouse_dir / os.readlink(link)
    return None


def _remove_stale(settings: Settings, keep: Path | None) -> list[str]:
    """Delete every generation but `keep` (half-built or superseded) and leftover temporary links."""
    removed = []
    warehouse_dir = settings.warehouse_dir
    if not warehouse_dir.exists():
        return removed
    for path in sorted(warehouse_dir.iterdir()):
        if path.name.startswith(TEMP_LINK_PREFIX) and path.is_symlink():
            path.unlink()
            removed.append(path.name)
        elif path.name.startswith(GENERATION_PREFIX) and (keep is None or path.name != keep.name):
            if path.is_symlink() or not path.is_dir():
                path.unlink()
            else:
                shutil.rmtree(path)
            removed.append(path.name)
    return removed


def _new_generation(settings: Settings) -> Path:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    path = settings.warehouse_dir / f"{GENERATION_PREFIX}{stamp}-{uuid.uuid4().hex[:8]}"
    path.mkdir(parents=True)
    return path


def _swap_generation(settings: Settings, generation: Path) -> None:
    """Point warehouse/roles at `generation` in one rename (see the module docstring)."""
    link = roles_dir(settings)
    if link.exists() and not link.is_symlink():  # a plain directory from before generations
        os.replace(link, settings.warehouse_dir / f"{GENERATION_PREFIX}legacy-{uuid.uuid4().hex[:8]}")
    temp = settings.warehouse_dir / f"{TEMP_LINK_PREFIX}{uuid.uuid4().hex[:8]}"
    os.symlink(generation.name, temp, target_is_directory=True)  # relative: the warehouse may move
    os.replace(temp, link)
    _fsync_dir(settings.warehouse_dir)


def publish_role_files(settings: Settings, policy: dict[str, Any] | None = None) -> dict[str, RoleFile]:
    """Write a new generation of warehouse/roles/ for every role of the policy, swapped in at once."""
    policy = load_policy() if policy is None else policy
    roles = list(policy.get("roles") or {})
    settings.warehouse_dir.mkdir(parents=True, exist_ok=True)
    _remove_stale(settings, keep=_current_generation(settings))  # what a killed publish left behind
    generation = _new_generation(settings)
    results: dict[str, dict[str, int]] = {}
    per_store: dict[str, dict[str, dict[str, int]]] = {}
    con = connect(settings)
    try:
        marts = _mart_tables(con)
        consenting_sql = consenting_members_sql(con, policy)
        semantic = load_semantic_layer(settings)
        for role in roles:
            common = {"marts": marts, "consenting_sql": consenting_sql, "semantic": semantic}
            if store_scope(policy, role) is None:
                results[role] = write_role_file(con, policy, role, generation / f"{role}.duckdb", **common)
                continue
            (generation / role).mkdir()
            per_store[role] = {}
            for store in _stores(con):
                path = generation / role / f"{_store_file_name(store)}.duckdb"
                per_store[role][store] = write_role_file(con, policy, role, path, store=store, **common)
            totals: dict[str, int] = {}
            for tables in per_store[role].values():
                for name, rows in tables.items():
                    totals[name] = totals.get(name, 0) + rows
            results[role] = totals
    finally:
        con.close()
    for path in sorted(generation.rglob("*"), reverse=True):  # files, then their directories
        if path.is_file():
            with open(path, "rb") as fh:
                os.fsync(fh.fileno())
        else:
            _fsync_dir(path)
    _fsync_dir(generation)
    _swap_generation(settings, generation)
    _remove_stale(settings, keep=generation)

    record(
        settings,
        "publish_role_files",
        ", ".join(roles),
        {"tables": results, "stores": {r: sorted(s) for r, s in per_store.items()}, "generation": generation.name},
    )
    out = {}
    for role in roles:
        if role in per_store:
            stores = {
                store: RoleFile(role_file_path(settings, role, store), tables)
                for store, tables in per_store[role].items()
            }
            out[role] = RoleFile(roles_dir(settings) / role, results[role], stores)
        else:
            out[role] = RoleFile(role_file_path(settings, role), results[role])
    return out
