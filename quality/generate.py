"""Write the Soda v4 data contracts in quality/contracts/ from what the project already declares.

    python -m quality.generate            # (re)write quality/contracts/
    python -m quality.generate --check    # fail if the committed contracts are out of date

Where each check comes from:
- raw (one contract per export entity, plus each system's `ingested_files`):
  ingestion/export_formats.yml gives the key (duplicates within one file; corrections in a
  later file are legitimate and deduplicated in staging) and the required columns;
  freshness per entity and volume against the trailing 28-day average read `ingested_files`;
  privacy/policy.yml gives the retention periods (warn level: the privacy purge fixes them).
- staging, masked and marts: one contract per model of the dbt manifest (ephemeral ones
  have no relation), listing its documented columns.
- masked and marts: every text column must not hold a personal identifier in clear — the
  patterns of privacy/policy.yml `pii_patterns` (privacy/patterns.py), the same table the
  leak scanner and the dbt test `has_no_pii_patterns` use.
- every contract: a check that the documented columns exist (extra columns and another
  order are fine), so each relation has at least one check.
- quality/rules.yml: the hand-written rules (accepted values, ranges, refund sign,
  referential integrity, per-store freshness, NPS 0-10, ...), merged in per dataset.

Every raw table of the dbt sources has a contract except those in `NO_CONTRACT`, and
every staging, masked and mart model (tests/quality/test_contracts.py checks both).
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import yaml

from mallcrm.core import dbt as core_dbt
from mallcrm.core.contract import load_contract
from mallcrm.core.settings import PROJECT_ROOT, load_settings
from privacy import patterns
from privacy.policy import load_policy
from privacy.retention import rules as retention_rules

QUALITY_DIR = PROJECT_ROOT / "quality"
CONTRACTS_DIR = QUALITY_DIR / "contracts"
RULES_FILE = QUALITY_DIR / "rules.yml"
DATA_SOURCE = "mallcrm"
CATALOG = "mallcrm"  # the warehouse file's stem; quality.runner adapts it to another file name
LAYERS = ("raw", "staging", "masked", "marts")
MODEL_LAYERS = ("staging", "masked", "marts")
# Raw tables of the dbt sources without a contract, and why.
NO_CONTRACT = {
    "suppressed_rows": "exists only after an erasure (privacy/suppression.py); a contract on a "
    "missing table is an error in quality.runner",
}

# Personal data in clear (RE2, DuckDB's regex engine): any identifier of privacy/policy.yml
# `pii_patterns` as a whole token, so a 64-hex HMAC token never matches; display masks
# (138****1234, z***@qq.com) do not match.
PII_REGEX = patterns.IDENTIFIER_REGEX
PII_CHECK_NAME = "no personal identifier in clear (privacy/policy.yml pii_patterns)"
NOT_TEXT = ("date", "time", "bool", "int", "decimal", "numeric", "double", "float", "real")

# Entities whose daily row count is steady enough to compare with the trailing average.
VOLUME_ENTITIES = {("pos", "transactions"), ("pos", "transaction_lines"), ("sensors", "people_counts")}
FRESHNESS_MAX_DAYS = 2
# Exports that do not arrive every day: reference snapshots on the 1st of each month (a
# missed month fails; dbt's source freshness warns at the same 45 days), campaigns when
# launched.
FRESHNESS_OVERRIDES = {
    ("reference", "stores"): 45,
    ("reference", "products"): 45,
    ("reference", "zones"): 45,
    ("marketing", "campaigns"): 62,
    ("marketing", "assignments"): 62,
}
VOLUME_RATIO = (0.2, 5.0)
VOLUME_TRAILING_DAYS = 28


def dataset_id(schema: str, table: str) -> str:
    return f"{DATA_SOURCE}/{CATALOG}/{schema}/{table}"


def _freshness_and_volume(dataset: str, entities: list[str], systems: dict[str, str]) -> list[dict]:
    checks: list[dict] = []
    for entity in entities:
        days = FRESHNESS_OVERRIDES.get((systems[dataset], entity), FRESHNESS_MAX_DAYS)
        checks.append(
            {
                "freshness": {
                    "name": f"{entity} exports are no more than {days} days behind",
                    "qualifier": f"freshness_{entity}",
                    "column": "business_date",
                    "filter": f"entity = '{entity}'",
                    "threshold": {"unit": "day", "must_be_less_than_or_equal": days},
                }
            }
        )
        if (systems[dataset], entity) in VOLUME_ENTITIES:
            lo, hi = VOLUME_RATIO
            checks.append(
                {
                    "metric": {
                        "name": f"{entity} rows on the latest day vs the trailing {VOLUME_TRAILING_DAYS}-day average",
                        "qualifier": f"volume_{entity}",
                        "query": (
                            "with daily as (select business_date, sum(rows_loaded) as n "
                            f"from {dataset}.ingested_files where entity = '{entity}' group by business_date), "
                            "latest as (select max(business_date) as d from daily) "
                            "select coalesce((select n from daily, latest where business_date = latest.d) "
                            "/ nullif((select avg(n) from daily, latest where business_date < latest.d "
                            f"and business_date >= latest.d - {VOLUME_TRAILING_DAYS}), 0), 1.0)"
                        ),
                        "threshold": {"must_be_between": {"greater_than_or_equal": lo, "less_than_or_equal": hi}},
                    }
                }
            )
    return checks


def _retention_checks(table: str, rules: list) -> list[dict]:
    checks = []
    for rule in (r for r in rules if r.table == table):
        what = f"{rule.column} nulled" if rule.expiry == "null_out" else f"rows {rule.expiry}d"
        extra = f' and t."{rule.column}" is not null' if rule.column else ""
        checks.append(
            {
                "failed_rows": {
                    "name": f"no rows past retention ({rule.days} days, then {what})",
                    "qualifier": f"retention_{table.split('.')[1]}_{rule.column or 'rows'}",
                    "query": (
                        f"select * from {table} as t where cast({rule.anchor} as date) "
                        f"< cast('${{var.AS_OF}}' as date) - {rule.days}{extra}"
                    ),
                    "threshold": {"must_be": 0, "level": "warn"},
                }
            }
        )
    return checks


def _pii_checks(columns: dict[str, dict]) -> dict[str, list[dict]]:
    out = {}
    for name, col in columns.items():
        data_type = (col.get("data_type") or "").lower()
        if any(t in data_type for t in NOT_TEXT):
            continue
        out[name] = [
            {
                "failed_rows": {
                    "name": PII_CHECK_NAME,
                    "qualifier": f"pii_{name}",
                    "expression": patterns.contains_sql(f'cast("{name}" as varchar)'),
                }
            }
        ]
    return out


def _columns_check(dataset: str, columns: list[str]) -> dict:
    """Every documented column exists (extra columns and another order are fine).

    A failed_rows query on information_schema rather than Soda's `schema` check: soda-duckdb
    4.28 reads the first dataset prefix (our catalog) as the schema and finds no columns."""
    schema, table = dataset.split(".")
    names = ", ".join("(" + patterns.sql_literal(c) + ")" for c in columns)
    return {
        "failed_rows": {
            "name": "documented columns present",
            "qualifier": "documented_columns",
            "query": (
                f"select d.column_name from (values {names}) as d(column_name) where d.column_name not in "
                "(select c.column_name from information_schema.columns as c where c.table_catalog = current_database() "
                f"and c.table_schema = '{schema}' and c.table_name = '{table}')"
            ),
        }
    }


def _contract(dataset: str, description: str, columns: dict[str, list[dict]], checks: list[dict]) -> dict:
    schema, table = dataset.split(".")
    return {
        "dataset": dataset_id(schema, table),
        "description": description,
        "variables": {"AS_OF": {"default": "2100-01-01T00:00:00+00:00"}},
        "columns": [{"name": c, **({"checks": v} if v else {})} for c, v in columns.items()],
        "checks": [*checks, _columns_check(dataset, list(columns))],
    }


def _with_qualifier(check: dict) -> dict:
    """Soda needs a qualifier to tell two checks of one type apart: derive it from the name."""
    ((kind, spec),) = check.items()
    spec = dict(spec or {})
    if "qualifier" not in spec and spec.get("name"):
        spec["qualifier"] = re.sub(r"[^a-z0-9]+", "_", spec["name"].lower()).strip("_")[:60]
    return {kind: spec}


def _merge(columns: dict[str, list], checks: list, extra: dict | None) -> None:
    for column, column_checks in ((extra or {}).get("columns") or {}).items():
        columns.setdefault(column, []).extend(_with_qualifier(c) for c in column_checks)
    checks.extend(_with_qualifier(c) for c in (extra or {}).get("checks") or [])


def build_contracts(manifest: dict | None = None) -> dict[str, dict[str, dict]]:
    """{layer: {schema.table: contract}} from the export contract, policy, manifest and rules."""
    export = load_contract()
    policy = load_policy()
    hand = yaml.safe_load(RULES_FILE.read_text(encoding="utf-8")) or {}
    systems = {export.dataset(s): s for s in export.systems}
    retention = retention_rules(policy, list(systems))
    out: dict[str, dict[str, dict]] = {layer: {} for layer in LAYERS}

    for fmt in export.formats:
        dataset = f"{fmt.dataset}.{fmt.entity}"
        columns: dict[str, list] = {}
        for col in fmt.columns:
            columns[col.name] = [{"missing": {"name": "required value present"}}] if col.required else []
        checks: list[dict] = [
            {
                "duplicate": {
                    "name": f"key ({', '.join(fmt.primary_key)}) unique within each file",
                    "columns": [*fmt.primary_key, "_source_file"],
                }
            }
        ]
        checks += _retention_checks(dataset, retention)
        _merge(columns, checks, hand.get("raw", {}).get(dataset))
        out["raw"][dataset] = _contract(dataset, f"Raw {fmt.system}/{fmt.entity}: {fmt.description}", columns, checks)

    for dataset, system in systems.items():
        name = f"{dataset}.ingested_files"
        entities = [f.entity for f in export.for_system(system)]
        checks = _freshness_and_volume(dataset, entities, systems) + _retention_checks(name, retention)
        # a file changed after loading is loaded again as a correction (a second row with
        # other content); the same content recorded twice is the bookkeeping error
        checks.append(
            {
                "failed_rows": {
                    "name": "each file content recorded once",
                    "qualifier": f"files_recorded_once_{system}",
                    "query": (
                        f"select source_file, sha256 from {name} where status = 'loaded' "
                        "group by source_file, sha256 having count(*) > 1"
                    ),
                }
            }
        )
        columns = {
            "source_file": [],
            "business_date": [],
            "entity": [],
            "rows_loaded": [],
        }
        _merge(columns, checks, hand.get("raw", {}).get(name))
        out["raw"][name] = _contract(
            name, f"Every {system} export file seen: freshness and volume per entity.", columns, checks
        )

    manifest = manifest if manifest is not None else load_manifest()
    for source in sorted(manifest.get("sources", {}).values(), key=lambda s: s["unique_id"]):
        dataset = f"{source['schema']}.{source['identifier'] or source['name']}"
        if not source["schema"].startswith("raw_") or dataset in out["raw"] or source["name"] in NO_CONTRACT:
            continue
        columns = {c: [] for c in source.get("columns") or {}}
        checks = _retention_checks(dataset, retention)
        _merge(columns, checks, hand.get("raw", {}).get(dataset))
        description = " ".join((source.get("description") or dataset).split())
        out["raw"][dataset] = _contract(dataset, description, columns, checks)

    for node in sorted(manifest.get("nodes", {}).values(), key=lambda n: n["unique_id"]):
        if node.get("resource_type") != "model" or node.get("schema") not in MODEL_LAYERS:
            continue
        if node.get("config", {}).get("materialized") == "ephemeral":
            continue
        layer = node["schema"]
        dataset = f"{layer}.{node['alias'] or node['name']}"
        columns = {c: [] for c in node.get("columns") or {}}
        if layer != "staging":  # staging holds personal data in clear by design
            columns.update(_pii_checks(node.get("columns") or {}))
        checks: list[dict] = []
        _merge(columns, checks, hand.get(layer, {}).get(dataset))
        description = (node.get("description") or node["name"]).strip().split("\n")[0]
        out[layer][dataset] = _contract(dataset, description, columns, checks)

    unknown = [
        f"{layer}: {dataset}"
        for layer, items in hand.items()
        for dataset in items or {}
        if layer not in out or dataset not in out[layer]
    ]
    if unknown:
        raise ValueError(f"{RULES_FILE.name} names relations that have no contract: {', '.join(unknown)}")
    return out


def load_manifest() -> dict:
    """The dbt manifest (parsed again when older than the project)."""
    return core_dbt.load_manifest(load_settings())


HEADER = (
    "# Generated by `python -m quality.generate` from ingestion/export_formats.yml,\n"
    "# privacy/policy.yml (retention, pii_patterns), the dbt manifest and quality/rules.yml:\n"
    "# edit those, not this file.\n"
    "# Soda v4 data contract (soda-core 4.28); verified by quality/runner.py.\n"
)


def render(contract: dict) -> str:
    return HEADER + yaml.safe_dump(contract, sort_keys=False, allow_unicode=True, width=120)


def contract_files(contracts: dict[str, dict[str, dict]]) -> dict[Path, str]:
    return {
        CONTRACTS_DIR / layer / f"{dataset}.yml": render(c)
        for layer, items in contracts.items()
        for dataset, c in items.items()
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true", help="fail if quality/contracts/ is out of date")
    args = parser.parse_args(argv)
    files = contract_files(build_contracts())
    existing = set(CONTRACTS_DIR.rglob("*.yml")) if CONTRACTS_DIR.exists() else set()
    stale = sorted(
        str(p.relative_to(PROJECT_ROOT))
        for p, text in files.items()
        if not p.exists() or p.read_text(encoding="utf-8") != text
    )
    extra = sorted(str(p.relative_to(PROJECT_ROOT)) for p in existing - set(files))
    if args.check:
        if stale or extra:
            print(
                "quality contracts out of date (run `python -m quality.generate`): " + ", ".join(stale + extra),
                file=sys.stderr,
            )
            return 1
        print(f"{len(files)} quality contracts up to date")
        return 0
    for path in extra:
        (PROJECT_ROOT / path).unlink()
    for path, text in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    print(
        f"wrote {len(files)} contracts to {CONTRACTS_DIR.relative_to(PROJECT_ROOT)} "
        f"({len(stale)} changed, {len(extra)} removed)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
