"""Check privacy/policy.yml against the export contract and the dbt project.

    from privacy.policy import check_policy
    problems = check_policy()          # [] when the policy is complete and consistent

    python -m privacy.policy           # prints the problems, exit 1 if any

What is checked (each is a sentence in the returned list when it fails):
- every column of every raw table is classified: all contract columns, the lineage
  columns and the bookkeeping tables (`ingested_files`, `quarantined_rows`), and nothing
  is classified that does not exist;
- classes, pii types, masking methods, roles, legal bases, consent scopes and expiry
  actions come from the vocabularies the file declares; a role used must be declared;
- a personal or sensitive column has a pii_type and masking for every role;
- the effective retention of a column is at most its class maximum, with an anchor
  date and an expiry action;
- a sensitive column names a consent scope;
- every column tagged `meta.pii` in the dbt manifest (sources and models) is classified
  in the policy, with the same pii_type;
- masked models keep no column tagged pii, no staging pii column under its own name,
  and only masking methods the policy grants some (non-compliance) role.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml

from mallcrm.core import dbt as core_dbt
from mallcrm.core.contract import load_contract
from mallcrm.core.settings import load_settings

POLICY_FILE = Path(__file__).with_name("policy.yml")
CLASSES = ("none", "personal", "sensitive")
# The masked layer serves every role except compliance, which reads staging through
# its own (later) publish file.
PRIVILEGED_ROLES = {"compliance"}


def load_policy(path: Path = POLICY_FILE) -> dict[str, Any]:
    with open(path, encoding="utf-8") as fh:
        return yaml.safe_load(fh)


def contract_tables() -> dict[str, list[str]]:
    """{'raw_pos.transactions': [columns...]} from ingestion/export_formats.yml."""

    contract = load_contract()
    out: dict[str, list[str]] = {}
    for system in contract.systems:
        for export in contract.for_system(system):
            out[f"{export.dataset}.{export.entity}"] = list(export.column_names)
    return out


def load_manifest() -> dict[str, Any]:
    """The dbt manifest (parsed again when older than the project)."""
    return core_dbt.load_manifest(load_settings())


# --------------------------------------------------------------------------- helpers


def _as_list(value: Any) -> list[str]:
    if value is None:
        return []
    return [value] if isinstance(value, str) else list(value)


def role_methods(policy: dict, spec: dict) -> dict[str, list[str]]:
    """Masking methods per declared role for one column spec (profile and default resolved)."""
    roles = list(policy.get("roles") or {})
    if spec.get("class", "none") == "none" and "masking" not in spec:
        return {role: ["clear"] for role in roles}
    masking = spec.get("masking")
    if isinstance(masking, str):
        masking = (policy.get("masking_profiles") or {}).get(masking)
    masking = masking or {}
    out = {}
    for role in roles:
        value = masking.get(role, masking.get("default"))
        out[role] = _as_list(value)
    return out


def _used_roles(policy: dict, spec: dict) -> set[str]:
    masking = spec.get("masking")
    if isinstance(masking, str):
        masking = (policy.get("masking_profiles") or {}).get(masking)
    return {r for r in (masking or {}) if r != "default"}


def iter_columns(policy: dict, raw_tables: Iterable[str]) -> Iterable[tuple[str, str, dict, dict]]:
    """(table, column, column spec, table spec) for every classified column.

    Bookkeeping tables are expanded into every raw dataset; lineage columns are not
    (they are checked separately).
    """
    for table, tspec in (policy.get("tables") or {}).items():
        for column, cspec in (tspec.get("columns") or {}).items():
            yield table, column, cspec or {}, tspec
    datasets = sorted({t.split(".")[0] for t in raw_tables})
    for name, tspec in (policy.get("bookkeeping_tables") or {}).items():
        for dataset in datasets:
            for column, cspec in (tspec.get("columns") or {}).items():
                yield f"{dataset}.{name}", column, cspec or {}, tspec


def find_policy_column(policy: dict, model: str, column: str) -> tuple[str, dict] | None:
    """The policy column a staging model column comes from (name or staging_name)."""
    tables = dict(policy.get("tables") or {})
    tables.update(policy.get("bookkeeping_tables") or {})
    for table, tspec in tables.items():
        if model not in (tspec.get("staging_models") or []):
            continue
        for name, cspec in (tspec.get("columns") or {}).items():
            cspec = cspec or {}
            if column in (name, cspec.get("staging_name")):
                return f"{table}.{name}", cspec
    return None


def _meta(column: dict) -> dict:
    meta = dict(column.get("meta") or {})
    meta.update((column.get("config") or {}).get("meta") or {})
    return meta


# --------------------------------------------------------------------------- checks


def check_vocabulary(policy: dict) -> list[str]:
    problems = []
    for key in ("version", "roles", "classes", "masking_methods", "legal_bases", "consent_scopes", "expiry_actions"):
        if not policy.get(key):
            problems.append(f"policy: missing top-level `{key}`")
    for cls in CLASSES:
        if cls not in (policy.get("classes") or {}):
            problems.append(f"policy: class `{cls}` is not declared")
        elif "max_retention_days" not in policy["classes"][cls]:
            problems.append(f"policy: class `{cls}` declares no max_retention_days")
    roles = set(policy.get("roles") or {})
    methods = set(policy.get("masking_methods") or {})
    for name, profile in (policy.get("masking_profiles") or {}).items():
        for role, value in (profile or {}).items():
            if role != "default" and role not in roles:
                problems.append(f"masking profile {name}: role `{role}` is not declared")
            for method in _as_list(value):
                if method not in methods:
                    problems.append(f"masking profile {name}: unknown method `{method}`")
    return problems


def check_coverage(policy: dict, raw_tables: dict[str, list[str]]) -> list[str]:
    problems = []
    lineage = set(policy.get("lineage_columns") or {})
    for col in ("_source_file", "_source_line", "_loaded_at", "_dlt_load_id"):
        if col not in lineage:
            problems.append(f"lineage column {col} is not classified")
    for name in ("ingested_files", "quarantined_rows"):
        if name not in (policy.get("bookkeeping_tables") or {}):
            problems.append(f"bookkeeping table {name} is not classified")
    tables = policy.get("tables") or {}
    for table, columns in raw_tables.items():
        classified = set((tables.get(table) or {}).get("columns") or {})
        if table not in tables:
            problems.append(f"{table}: raw table is not classified")
            continue
        for column in columns:
            if column not in classified:
                problems.append(f"{table}.{column}: raw contract column is not classified")
        for column in classified - set(columns):
            problems.append(f"{table}.{column}: classified but not in the export contract")
    for table in set(tables) - set(raw_tables):
        problems.append(f"{table}: classified but not a raw table of the export contract")
    return problems


def check_columns(policy: dict, raw_tables: Iterable[str]) -> list[str]:
    problems = []
    classes = policy.get("classes") or {}
    roles = set(policy.get("roles") or {})
    methods = set(policy.get("masking_methods") or {})
    bases = set(policy.get("legal_bases") or {})
    scopes = set(policy.get("consent_scopes") or {})
    expiries = set(policy.get("expiry_actions") or {})
    profiles = policy.get("masking_profiles") or {}
    for table, column, spec, tspec in iter_columns(policy, raw_tables):
        where = f"{table}.{column}"
        cls = spec.get("class")
        if cls not in CLASSES:
            problems.append(f"{where}: class {cls!r} is not one of {', '.join(CLASSES)}")
            continue
        basis = spec.get("legal_basis", tspec.get("legal_basis"))
        if cls != "none" and basis not in bases:
            problems.append(f"{where}: legal basis {basis!r} is not declared")
        if isinstance(spec.get("masking"), str) and spec["masking"] not in profiles:
            problems.append(f"{where}: masking profile {spec['masking']!r} is not declared")
        for role in sorted(_used_roles(policy, spec) - roles):
            problems.append(f"{where}: role `{role}` is used but not declared")
        if cls != "none":
            if not spec.get("pii_type"):
                problems.append(f"{where}: {cls} column without a pii_type")
            for role, granted in role_methods(policy, spec).items():
                if not granted:
                    problems.append(f"{where}: no masking for role `{role}`")
                for method in granted:
                    if method not in methods:
                        problems.append(f"{where}: unknown masking method `{method}` ({role})")
        if cls == "sensitive":
            scope = spec.get("consent_scope")
            if not scope:
                problems.append(f"{where}: sensitive column without a consent_scope")
            elif scope not in scopes:
                problems.append(f"{where}: consent scope `{scope}` is not declared")
        retention = spec.get("retention") or tspec.get("retention")
        if cls != "none":
            if not retention:
                problems.append(f"{where}: {cls} column without a retention")
                continue
            for key in ("days", "anchor", "expiry"):
                if retention.get(key) in (None, ""):
                    problems.append(f"{where}: retention without `{key}`")
            if retention.get("expiry") and retention["expiry"] not in expiries:
                problems.append(f"{where}: unknown expiry action `{retention['expiry']}`")
            limit = (classes.get(cls) or {}).get("max_retention_days")
            days = retention.get("days")
            if limit is not None and isinstance(days, int) and days > limit:
                problems.append(f"{where}: retention {days} days is above the {cls} maximum of {limit} days")
    minors = ((policy.get("tables") or {}).get("raw_membership.members") or {}).get("minors")
    if minors is not None and minors.get("consent_scope") not in scopes:
        problems.append("raw_membership.members minors: consent scope is not declared")
    return problems


def check_manifest(policy: dict, manifest: dict) -> list[str]:
    problems = []
    tables = policy.get("tables") or {}
    bookkeeping = policy.get("bookkeeping_tables") or {}
    lineage = policy.get("lineage_columns") or {}
    # sources: raw columns tagged pii
    for source in (manifest.get("sources") or {}).values():
        table = f"{source['source_name']}.{source['name']}"
        tspec = tables.get(table) or bookkeeping.get(source["name"]) or {}
        for column, cdef in (source.get("columns") or {}).items():
            meta = _meta(cdef)
            if not meta.get("pii"):
                continue
            spec = (tspec.get("columns") or {}).get(column) or lineage.get(column)
            if spec is None:
                problems.append(f"source {table}.{column} is tagged pii but not in the policy")
            elif spec.get("class") == "none":
                problems.append(f"source {table}.{column} is tagged pii but classified `none`")
            elif meta.get("pii_type") != spec.get("pii_type"):
                problems.append(
                    f"source {table}.{column}: pii_type {meta.get('pii_type')!r} in dbt, "
                    f"{spec.get('pii_type')!r} in the policy"
                )
    models = {n["name"]: n for n in (manifest.get("nodes") or {}).values() if n.get("resource_type") == "model"}
    for name, node in models.items():
        for column, cdef in (node.get("columns") or {}).items():
            meta = _meta(cdef)
            if not meta.get("pii"):
                continue
            found = find_policy_column(policy, name, column)
            if found is None:
                problems.append(f"model {name}.{column} is tagged pii but not in the policy")
                continue
            where, spec = found
            if spec.get("class") == "none":
                problems.append(f"model {name}.{column} is tagged pii but {where} is `none`")
            elif meta.get("pii_type") != spec.get("pii_type"):
                problems.append(
                    f"model {name}.{column}: pii_type {meta.get('pii_type')!r} in dbt, "
                    f"{spec.get('pii_type')!r} in the policy ({where})"
                )
    problems += check_masked_models(policy, models)
    return problems


def _masked_layer_methods(policy: dict, spec: dict) -> set[str]:
    granted: set[str] = set()
    for role, methods in role_methods(policy, spec).items():
        if role not in PRIVILEGED_ROLES:
            granted.update(methods)
    granted.discard("drop")
    return granted


def check_masked_models(policy: dict, models: dict[str, dict]) -> list[str]:
    problems = []
    for name, node in models.items():
        if not name.startswith("msk_"):
            continue
        staging_name = "stg_" + name[len("msk_") :]
        staging = models.get(staging_name)
        if staging is None:
            problems.append(f"masked model {name} has no staging model {staging_name}")
            continue
        columns = node.get("columns") or {}
        for column, cdef in columns.items():
            meta = _meta(cdef)
            if meta.get("pii"):
                problems.append(f"masked model {name}.{column} is tagged pii (unmasked)")
            source_column = meta.get("masked_from")
            if source_column:
                found = find_policy_column(policy, staging_name, source_column)
                if found is None:
                    problems.append(f"masked model {name}.{column}: {source_column} not in the policy")
                    continue
                where, spec = found
                allowed = _masked_layer_methods(policy, spec)
                if meta.get("masking") not in allowed:
                    problems.append(
                        f"masked model {name}.{column}: masking {meta.get('masking')!r} of "
                        f"{where} is not granted to any role (allowed: {sorted(allowed)})"
                    )
            elif column in (staging.get("columns") or {}):
                found = find_policy_column(policy, staging_name, column)
                if found and found[1].get("class", "none") != "none":
                    where, spec = found
                    if "clear" not in _masked_layer_methods(policy, spec):
                        problems.append(
                            f"masked model {name}.{column}: {where} passes in clear but the "
                            "policy grants no role `clear`"
                        )
        for column, cdef in (staging.get("columns") or {}).items():
            if _meta(cdef).get("pii") and column in columns:
                problems.append(f"masked model {name}.{column}: personal column of {staging_name} survives unmasked")
    return problems


def check_policy(
    policy: dict | None = None,
    manifest: dict | None = None,
    raw_tables: dict[str, list[str]] | None = None,
    use_manifest: bool = True,
) -> list[str]:
    """Every problem of the policy, as sentences; [] when it is complete and consistent."""
    policy = load_policy() if policy is None else policy
    raw_tables = contract_tables() if raw_tables is None else raw_tables
    problems = check_vocabulary(policy)
    problems += check_coverage(policy, raw_tables)
    problems += check_columns(policy, raw_tables)
    if use_manifest:
        manifest = load_manifest() if manifest is None else manifest
        problems += check_manifest(policy, manifest)
    return problems


def main() -> int:
    problems = check_policy()
    for problem in problems:
        print(problem)
    print(f"{len(problems)} problem(s) in {POLICY_FILE}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
