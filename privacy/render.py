"""Write the dbt files of the privacy layer from the privacy rules and the staging metadata.

    python -m privacy.render                          # (re)write the generated files
    python -m privacy.render --check                  # exit 1 when one is out of date
    python -m privacy.render --refresh-types WAREHOUSE  # re-read privacy/staging_types.yml

Generated (each file says so in its header and names its sources):
- dbt_project/macros/privacy/pii_rules.sql — `pii_fold`, `pii_normalize`,
  `scrub_free_text`, `pii_remove_known_name` and `pii_contains_identifier` (the
  clear-text test `has_no_pii_patterns`), from `pii_patterns`, `pii_names` and
  `pii_normalization` in privacy/policy.yml (privacy/patterns.py writes the SQL; Python
  uses the same table, so both sides agree);
- dbt_project/models/masked/<system>/msk_<system>__<entity>.yml — one per masked model
  (models/masked/**/msk_*.sql), from its staging model's yml: the description, the
  columns in order with their descriptions and tests (refs to staging models with a
  masked twin point at the twin), a personal column (`meta.pii`) replaced by the outputs
  its `meta.masked_columns` names (the same list macro `masked_columns` selects), the
  data types from privacy/staging_types.yml, an enforced contract, and the
  materialization the SQL implies: tokenized models (pii_hmac exists only on dbt's
  connections) are tables, and incremental when the SQL calls
  `masked_incremental_filter('<key>')`.

privacy/staging_types.yml holds the types of the staging columns (the staging ymls have
none); `--refresh-types` re-reads them from a built warehouse, and dbt's contract
enforcement on the masked models fails a build when one is wrong.
"""

from __future__ import annotations

import argparse
import copy
import re
import sys
import textwrap
from pathlib import Path
from typing import Any

import yaml

from privacy import patterns

PROJECT_ROOT = Path(__file__).resolve().parents[1]
DBT_DIR = PROJECT_ROOT / "dbt_project"
STAGING_DIR = DBT_DIR / "models" / "staging"
MASKED_DIR = DBT_DIR / "models" / "masked"
MACRO_FILE = DBT_DIR / "macros" / "privacy" / "pii_rules.sql"
POLICY_FILE = patterns.POLICY_FILE
TYPES_FILE = PROJECT_ROOT / "privacy" / "staging_types.yml"
YAML_WIDTH = 100
# The dialects of privacy/patterns.py that get an implementation of each dispatched macro.
DIALECTS = ("default", "duckdb", "spark")

# Data type, description and tests of each masking method's output column.
METHOD_TYPES = {
    "token": "varchar",
    "display_mask": "varchar",
    "scrub": "varchar",
    "generalize:birth_month": "integer",
    "generalize:age_band": "varchar",
    "generalize:is_minor": "boolean",
}
DISPLAY_MASK_EXAMPLES = {"mobile": "138****1234", "email": "z***@qq.com", "name": "张*"}
AGE_BANDS = ["<14", "14-17", "18-24", "25-34", "35-44", "45-54", "55-64", "65+"]  # macros/privacy/generalize.sql
METHOD_TESTS: dict[str, list] = {
    "token": ["is_pii_token"],
    "display_mask": ["has_no_pii_patterns"],
    "scrub": ["has_no_pii_patterns"],
    "generalize:birth_month": [{"accepted_range": {"arguments": {"min_value": 1, "max_value": 12}}}],
    "generalize:age_band": [{"accepted_values": {"arguments": {"values": AGE_BANDS}}}],
    "generalize:is_minor": [],
}
# Tests of a personal column that carry over to its masked outputs.
CARRIED_TESTS = ("not_null",)
KEY_VERSION_COLUMN = {
    "name": "pii_key_version",
    "data_type": "varchar",
    "description": "Version of the HMAC key the tokens of this row were made with (MALLCRM_HMAC_KEY_VERSION; "
    "see masked.key_versions).",
    "data_tests": ["not_null"],
}
_INCREMENTAL = re.compile(r"masked_incremental_filter\(\s*['\"](\w+)['\"]")
_REF = re.compile(r"ref\(\s*'(stg_\w+)'\s*\)")


class RenderError(Exception):
    pass


def _rel(path: Path) -> str:
    return str(path.relative_to(PROJECT_ROOT))


# --------------------------------------------------------------------------- macros


WHITESPACE_CALL = "{{ pii_whitespace() }}"
FOLD_CALLS = {"column": "{{ pii_fold(column) }}", "text": "{{ pii_fold(text) }}"}


def _jinja_safe(sql: str, where: str) -> str:
    plain = sql
    for placeholder in ("{{ column }}", "{{ text }}", "{{ name }}", WHITESPACE_CALL, *FOLD_CALLS.values()):
        plain = plain.replace(placeholder, "")
    if any(tag in plain for tag in ("{{", "{%", "{#", "#}")):
        raise RenderError(f"{where}: generated SQL holds a Jinja delimiter: {sql}")
    return sql


def _dispatched(name: str, args: str, doc: str, bodies: dict[str, str]) -> str:
    out = [
        f"{{#- {doc} -#}}",
        f"{{% macro {name}({args}) -%}}",
        f"    {{{{ return(adapter.dispatch('{name}', 'mallcrm')({args})) }}}}",
        "{%- endmacro %}",
    ]
    for dialect, body in bodies.items():
        out += ["", f"{{% macro {dialect}__{name}({args}) -%}}", body, "{%- endmacro %}"]
    return "\n".join(out)


def _normalize_body(dialect: str) -> str:
    types = [t for t in patterns.RULES if t != "default"]
    lines = []
    for i, pii_type in enumerate(types):
        keyword = "if" if i == 0 else "elif"
        sql = patterns.normalize_sql("{{ column }}", pii_type, dialect, WHITESPACE_CALL, FOLD_CALLS["column"])
        lines += [f"    {{%- {keyword} pii_type == '{pii_type}' -%}}", f"    {_jinja_safe(sql, pii_type)}"]
    default = patterns.normalize_sql("{{ column }}", "default", dialect, WHITESPACE_CALL, FOLD_CALLS["column"])
    lines += ["    {%- else -%}", f"    {_jinja_safe(default, 'default')}", "    {%- endif -%}"]
    return "\n".join(lines)


def _rules_comment() -> tuple[str, str]:
    width = max(len(p.name) for p in patterns.ALL_PATTERNS)
    lines = []
    for p in patterns.ALL_PATTERNS:
        first = f"      {p.name:<{width}}  "
        text = f"{p.description} -> {p.placeholder}"
        lines += textwrap.wrap(text, width=92, initial_indent=first, subsequent_indent=" " * (len(first) + 2))
    norm = []
    for pii_type, steps in patterns.RULES.items():
        described = []
        for step in steps:
            if isinstance(step, str):
                described.append(step)
            elif "strip_prefix" in step:
                described.append(f"strip_prefix ({step['strip_prefix']['prefix']} at the start)")
            else:
                spec = step["national_prefix"]
                described.append(f"national_prefix (no leading '+' and {spec['national']}: {spec['prefix']} before it)")
        norm.append(f"      {pii_type:<8} {', '.join(described)}")
    return "\n".join(lines), "\n".join(norm)


def macro_text() -> str:
    """dbt_project/macros/privacy/pii_rules.sql."""
    pattern_lines, norm_lines = _rules_comment()
    header = f"""{{#-
    GENERATED by `python -m privacy.render` from privacy/policy.yml (`pii_patterns`,
    `pii_names`, `pii_normalization`): edit those and run it again, not this file. `--check` (and
    tests/unit/test_pii_patterns.py) fails when it is out of date. Python applies the
    same table (privacy/patterns.py: tokens.normalize, privacy/scan.py, erasure), and
    `python -m quality.generate` writes it into the Soda contracts.

    Text is folded first (pii_fold: full-width ASCII and the ideographic space -> ASCII,
    one character for one; translate() exists on every engine we target). Personal
    identifiers in text, each matched as a whole token (the character before and after
    is not an ASCII letter or digit, so a digit run inside a hex token or a longer number
    is no finding), then names (a common surname + 1-2 characters next to a cue), in
    scrubbing order with their placeholders:
{pattern_lines}
    Normalization of a value before it is tokenized (pii_normalize; empty -> NULL):
{norm_lines}
    duckdb__ implementations use regexp_matches, regexp_full_match and
    regexp_replace(..., 'g'); default__ ones regexp_like and regexp_replace replacing
    every match with \\1-style back-references; spark__ ones the same functions with Java's
    $1-style back-references, every backslash doubled (Spark string literals unescape
    it) and the whitespace as \\u escapes (Spark's chr() takes the code modulo 256). An
    engine with other syntax needs its own <adapter>__ implementation.
-#}}"""
    whitespace = _dispatched(
        "pii_whitespace",
        "",
        "The characters trimmed from a value before it is normalized.",
        {d: "    " + _jinja_safe(patterns.whitespace_sql(d), "whitespace") for d in ("default", "spark")},
    )
    fold = "\n".join(
        [
            "{#- The text with full-width ASCII and the ideographic space folded to ASCII, one character for one. -#}",
            "{% macro pii_fold(text) -%}",
            f"    {_jinja_safe(patterns.fold_sql('{{ text }}', 'default'), 'fold')}",
            "{%- endmacro %}",
        ]
    )
    contains = _dispatched(
        "pii_contains_identifier",
        "text",
        "True when the text expression holds a personal identifier or a name in clear (test has_no_pii_patterns).",
        {
            d: "    " + _jinja_safe(patterns.contains_sql("{{ text }}", d, folded=FOLD_CALLS["text"]), "contains")
            for d in DIALECTS
        },
    )
    normalize = _dispatched(
        "pii_normalize",
        "column, pii_type",
        "The canonical form a token is computed from (privacy/tokens.py normalize is the same rule).",
        {d: _normalize_body(d) for d in DIALECTS},
    )
    scrub = _dispatched(
        "scrub_free_text",
        "column",
        "Free text with every identifier and name replaced by its placeholder, folded; unchanged when it holds "
        "none (each pattern twice: a match consumes the character after it, so an identifier right behind "
        "another is caught by the second pass).",
        {
            d: _jinja_safe(
                patterns.scrub_sql("{{ column }}", d, pretty=True, indent="    ", folded=FOLD_CALLS["column"]),
                "scrub",
            )
            for d in DIALECTS
        },
    )
    known_name = "\n".join(
        [
            "{#- The text with every occurrence of a known name (the member's own) replaced by the name "
            "placeholder; applied before scrub_free_text. -#}",
            "{% macro pii_remove_known_name(text, name) -%}",
            f"    {_jinja_safe(patterns.known_name_sql('{{ text }}', '{{ name }}'), 'known_name')}",
            "{%- endmacro %}",
        ]
    )
    return "\n\n".join([header, fold, contains, whitespace, normalize, scrub, known_name]) + "\n"


# --------------------------------------------------------------------------- masked ymls


def staging_models() -> dict[str, tuple[Path, dict]]:
    out = {}
    for path in sorted(STAGING_DIR.rglob("*.yml")):
        doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for model in doc.get("models") or []:
            out[model["name"]] = (path, model)
    return out


def masked_sql_files() -> dict[str, Path]:
    return {p.stem: p for p in sorted(MASKED_DIR.rglob("msk_*.sql"))}


def load_types() -> dict[str, dict[str, str]]:
    if not TYPES_FILE.exists():
        return {}
    return yaml.safe_load(TYPES_FILE.read_text(encoding="utf-8")) or {}


def _meta(column: dict) -> dict:
    meta = dict(column.get("meta") or {})
    meta.update((column.get("config") or {}).get("meta") or {})
    return meta


def _test_name(test: Any) -> str:
    return test if isinstance(test, str) else next(iter(test))


def _retarget(value: Any, twins: set[str]) -> Any:
    """Tests of the staging yml with ref('stg_x') pointing at msk_x where it exists."""
    text = yaml.safe_dump(value, sort_keys=False, allow_unicode=True)

    def swap(m: re.Match) -> str:
        masked = "msk_" + m.group(1)[len("stg_") :]
        return f"ref('{masked}')" if masked in twins else m.group(0)

    return yaml.safe_load(_REF.sub(swap, text))


def _output_column(column: str, pii_type: str, method: str, tests: list) -> dict:
    if method == "token":
        description = (
            f"Keyed HMAC-SHA256 token (64 lowercase hex digits) of the normalized {pii_type} in `{column}`; "
            "the same value has the same token in every masked table."
        )
    elif method == "display_mask":
        example = DISPLAY_MASK_EXAMPLES.get(pii_type)
        if example is None:
            raise RenderError(f"{column}: no display mask for pii_type {pii_type}")
        description = (
            f"Display mask of `{column}` ({example}): recognisable on a service screen, not joinable, not reversible."
        )
    elif method == "scrub":
        placeholders: dict[str, list[str]] = {}
        for p in patterns.ALL_PATTERNS:
            if p.name not in placeholders.get(p.placeholder, []):
                placeholders.setdefault(p.placeholder, []).append(p.name)
        listed = ", ".join(f"{ph} {' / '.join(names)}" for ph, names in placeholders.items())
        description = (
            f"`{column}` with the personal identifiers of privacy/policy.yml `pii_patterns` and the names of "
            f"`pii_names` replaced by placeholders (folded to ASCII where one was found): {listed}."
        )
    elif method == "generalize:birth_month":
        description = f"Month of birth (1-12) from `{column}`; the date itself is not kept."
    elif method == "generalize:age_band":
        description = f"Age band at build time from `{column}`: " + ", ".join(f"'{b}'" for b in AGE_BANDS) + "."
    elif method == "generalize:is_minor":
        description = (
            "Under 14 at build time (PIPL art. 28 sensitive: guardian consent, no marketing); NULL without a birthday."
        )
    else:
        raise RenderError(f"{column}: unknown masking method {method!r}")
    carried = [t for t in tests if _test_name(t) in CARRIED_TESTS]
    out: dict[str, Any] = {
        "data_type": METHOD_TYPES[method],
        "description": description,
        "config": {"meta": {"masked_from": column, "pii_type": pii_type, "masking": method}},
    }
    method_tests = copy.deepcopy(carried + METHOD_TESTS[method])
    if method_tests:
        out["data_tests"] = method_tests
    return out


def masked_model(name: str, sql: str, staging: dict, types: dict[str, str], twins: set[str], methods: set[str]) -> dict:
    staging_name = staging["name"]
    if f"masked_columns('{staging_name}')" not in sql.replace('"', "'"):
        raise RenderError(f"{name}.sql does not select masked_columns('{staging_name}')")
    columns: list[dict] = []
    renames: dict[str, list[str]] = {}
    tokenized = False
    for column in staging.get("columns") or []:
        cname = column["name"]
        meta = _meta(column)
        if not meta.get("pii"):
            if cname not in types:
                raise RenderError(
                    f"{staging_name}.{cname}: no data type in {_rel(TYPES_FILE)} "
                    "(run `python -m privacy.render --refresh-types <warehouse>` after building staging)"
                )
            out = {"name": cname, "data_type": types[cname]}
            out.update({k: _retarget(v, twins) if k == "data_tests" else v for k, v in column.items() if k != "name"})
            columns.append(out)
            continue
        outputs = meta.get("masked_columns")
        if not outputs:
            raise RenderError(f"{staging_name}.{cname} is personal (meta.pii) but has no meta.masked_columns")
        renames[cname] = []
        for output, method in outputs.items():
            if method == "drop":
                continue
            if method not in methods:
                raise RenderError(f"{staging_name}.{cname}: masking {method!r} is not in privacy/policy.yml")
            tokenized |= method == "token"
            renames[cname].append(output)
            rendered = _output_column(cname, meta.get("pii_type"), method, column.get("data_tests") or [])
            columns.append({"name": output, **rendered})
    incremental = _INCREMENTAL.search(sql)
    has_key_version = re.search(r"pii_key_version\(\)\s+as\s+pii_key_version", sql) is not None
    if tokenized != has_key_version:
        raise RenderError(f"{name}.sql: a tokenized model selects pii_key_version() as pii_key_version (and only it)")
    if has_key_version:
        columns.append(copy.deepcopy(KEY_VERSION_COLUMN))

    description = " ".join((staging.get("description") or "").split())
    description = (
        f"Masked `{staging_name}`: the same rows and columns, personal columns replaced as the policy says "
        f"(privacy/policy.yml). {description}"
    )
    config: dict[str, Any] = {}
    if (staging.get("config") or {}).get("group"):
        config["group"] = staging["config"]["group"]
    config["access"] = "protected"
    config["contract"] = {"enforced": True}
    if incremental:
        key = incremental.group(1)
        description += (
            f" Incremental (delete+insert on `{key}`): a run tokenizes the rows loaded within var "
            "`incremental_lookback_days` of the latest load in the table and every row stored under another key "
            "version (a key rotation)."
        )
        config.update(
            materialized="incremental",
            incremental_strategy="delete+insert",
            unique_key=key,
            on_schema_change="append_new_columns",
        )
    elif tokenized:
        config["materialized"] = "table"

    model: dict[str, Any] = {"name": name, "description": description, "config": config}
    if staging.get("data_tests"):
        model["data_tests"] = _rename_columns(_retarget(staging["data_tests"], twins), renames, name)
    model["columns"] = columns
    return model


def _rename_columns(tests: list, renames: dict[str, list[str]], where: str) -> list:
    """Model tests naming a personal column name its one masked output instead."""

    def walk(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: walk(v) for k, v in value.items()}
        if isinstance(value, list):
            return [walk(v) for v in value]
        if isinstance(value, str) and value in renames:
            if len(renames[value]) != 1:
                raise RenderError(f"{where}: a model test names personal column {value}, masked as {renames[value]}")
            return renames[value][0]
        return value

    return walk(tests)


def masked_yml_text(model: dict, staging_path: Path) -> str:
    header = (
        f"# Generated by `python -m privacy.render` from {_rel(staging_path)},\n"
        f"# {_rel(POLICY_FILE)} and {_rel(TYPES_FILE)}: edit those, not this file.\n"
    )
    body = yaml.safe_dump({"version": 2, "models": [model]}, sort_keys=False, allow_unicode=True, width=YAML_WIDTH)
    return header + body


def masked_files() -> dict[Path, str]:
    policy = yaml.safe_load(POLICY_FILE.read_text(encoding="utf-8"))
    methods = set(policy.get("masking_methods") or {})
    staging = staging_models()
    types = load_types()
    sql_files = masked_sql_files()
    twins = set(sql_files)
    out = {}
    for name, sql_path in sql_files.items():
        staging_name = "stg_" + name[len("msk_") :]
        if staging_name not in staging:
            raise RenderError(f"{_rel(sql_path)}: no staging model {staging_name} with a yml")
        staging_path, staging_model = staging[staging_name]
        model = masked_model(
            name,
            sql_path.read_text(encoding="utf-8"),
            staging_model,
            types.get(staging_name) or {},
            twins,
            methods,
        )
        out[sql_path.with_suffix(".yml")] = masked_yml_text(model, staging_path)
    return out


def check_types() -> list[str]:
    """Entries of privacy/staging_types.yml that name no documented staging column."""
    staging = staging_models()
    problems = []
    for model, columns in load_types().items():
        documented = {c["name"] for c in (staging.get(model, (None, {}))[1].get("columns") or [])}
        for column in set(columns) - documented:
            problems.append(f"{_rel(TYPES_FILE)}: {model}.{column} is not a documented staging column")
    return problems


def refresh_types(warehouse: Path) -> str:
    """privacy/staging_types.yml from the staging views of a built warehouse."""
    import duckdb

    staging = staging_models()
    wanted = {"stg_" + name[len("msk_") :] for name in masked_sql_files()}
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        rows = con.execute(
            "select table_name, column_name, data_type from information_schema.columns "
            "where table_schema = 'staging' order by table_name, ordinal_position"
        ).fetchall()
    finally:
        con.close()
    found: dict[str, dict[str, str]] = {}
    for table, column, data_type in rows:
        found.setdefault(table, {})[column] = data_type.lower()
    out: dict[str, dict[str, str]] = {}
    for model in sorted(wanted):
        documented = [c["name"] for c in (staging.get(model, (None, {}))[1].get("columns") or [])]
        missing = [c for c in documented if c not in found.get(model, {})]
        if missing:
            raise RenderError(f"{warehouse}: staging.{model} lacks {missing}: build the staging layer first")
        out[model] = {c: found[model][c] for c in documented}
    header = (
        "# Column types of the staging models that have a masked twin (the staging ymls carry no\n"
        "# data_type); privacy/render.py writes them into the masked ymls, whose enforced\n"
        "# contracts fail the build when one is wrong. Re-read from a built warehouse with\n"
        "# `python -m privacy.render --refresh-types <warehouse.duckdb>`.\n"
    )
    return header + yaml.safe_dump(out, sort_keys=False, allow_unicode=True, width=YAML_WIDTH)


def generated_files() -> dict[Path, str]:
    problems = check_types()
    if problems:
        raise RenderError("; ".join(problems))
    files = {MACRO_FILE: macro_text()}
    files.update(masked_files())
    return files


def stale_files(files: dict[Path, str]) -> tuple[list[Path], list[Path]]:
    """(generated files that differ from what is on disk, generated masked ymls with no model)."""
    stale = [p for p, text in files.items() if not p.exists() or p.read_text(encoding="utf-8") != text]
    extra = [
        p
        for p in sorted(MASKED_DIR.rglob("msk_*.yml"))
        if p not in files and p.read_text(encoding="utf-8").startswith("# Generated by `python -m privacy.render`")
    ]
    return stale, extra


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true", help="exit 1 when a generated file is out of date")
    parser.add_argument("--refresh-types", metavar="WAREHOUSE", type=Path, help="re-read staging column types")
    args = parser.parse_args(argv)
    try:
        if args.refresh_types:
            TYPES_FILE.write_text(refresh_types(args.refresh_types), encoding="utf-8")
            print(f"wrote {_rel(TYPES_FILE)} from {args.refresh_types}")
        files = generated_files()
    except RenderError as exc:
        print(f"privacy.render: {exc}", file=sys.stderr)
        return 1
    stale, extra = stale_files(files)
    if args.check:
        if stale or extra:
            names = ", ".join(_rel(p) for p in stale + extra)
            print(f"privacy files out of date (run `python -m privacy.render`): {names}", file=sys.stderr)
            return 1
        print(f"{len(files)} generated privacy files up to date")
        return 0
    for path in extra:
        path.unlink()
    for path in stale:
        path.write_text(files[path], encoding="utf-8")
    print(f"wrote {len(files)} privacy files ({len(stale)} changed, {len(extra)} removed)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
