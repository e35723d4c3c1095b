"""Conventions of the dbt project, checked on its manifest (one `dbt parse`, ~5 s).

- model names follow their layer (staging `stg_<source>__<entity>`, masked
  `msk_<source>__<entity>`, intermediate `int_<area>__<name>`, marts `fct_`/`dim_`/`mart_`,
  ml `ml_`), with the few exceptions named below;
- every model has a yml (patch) and a description; every mart enforces its contract,
  folder-wide from dbt_project.yml, so a new mart without its columns fails to build;
- every macro of the project is documented (description, and its arguments by name);
  generic tests live in tests/generic/;
- every var is declared once in dbt_project.yml and read with `var('name')`, no default;
- a rule is stated once, where it costs least (issue 18: every data test is a dbt node,
  and a test of a view runs the view's SQL again): on a table or incremental model with an
  enforced contract, not-null is a `not_null` column constraint and an accepted set or
  range of values a `check` constraint, enforced by DuckDB as the rows are written (a bad
  row fails the model's build, naming table and column); on a view or a table without a
  contract, the model's not-null columns are listed in its ONE model-level test
  `not_null_columns` (one scan; a failing row names its NULL columns) and no column has a
  `not_null` test. Exceptions: a conditional not-null (a `where`) and a `warn` rule stay
  column tests (a constraint cannot be conditional or warn); a personal column (`meta.pii`)
  keeps its `not_null` test, which privacy.render carries to each of its masked outputs;
  and the masked models' ymls are rendered from their staging yml by privacy.render, so
  their rules are their staging model's, tests included, contract or not.

The project is parsed into a temporary target with MALLCRM_WAREHOUSE pointing at a
temporary file (parse never opens the warehouse, but the profile reads the variable).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import yaml

PROJECT_DIR = Path(__file__).resolve().parents[2] / "dbt_project"
PACKAGE = "mallcrm"

# Models whose name does not follow their layer's pattern, and why.
MODEL_NAME_EXCEPTIONS = {
    "key_versions": "masked layer's record of the HMAC key a build used; not a masked copy of a staging model",
    "metricflow_time_spine": "the name MetricFlow looks for: the semantic layer's day time spine",
}

# Layer (first folder under models/) -> name pattern; `{folder}` is the model's
# second-level folder (its source system or subject area).
MODEL_NAME_PATTERNS = {
    "staging": r"stg_{folder}__[a-z0-9_]+",
    "masked": r"msk_{folder}__[a-z0-9_]+",
    "intermediate": r"int_{folder}__[a-z0-9_]+",
    "marts": r"(fct|dim|mart)_[a-z0-9_]+",
    "ml": r"ml_[a-z0-9_]+",
    "audiences": r"aud_[a-z0-9_]+",  # generated from audiences/*.yml (activation/render.py)
    "metrics": r"(?!)",  # semantic-layer helpers only: metricflow_time_spine (an exception)
}

# Every macro folder is checked (none is exempt).
UNCHECKED_MACRO_FOLDERS: dict[str, str] = {}

# Adapter implementations of a dispatched macro (`duckdb__double_type`) are covered by
# the documentation of the macro that dispatches to them (`double_type`).
ADAPTER_PREFIXES = ("default", "duckdb", "postgres", "redshift", "snowflake", "bigquery", "spark", "databricks")

# var() calls whose name is computed: the expression -> the vars it can name.
DYNAMIC_VARS = {
    "'lifecycle_' ~ stage ~ '_days'": ["lifecycle_active_days", "lifecycle_dormant_days", "lifecycle_churned_days"],
}


@contextmanager
def _dbt_environment(folder: Path) -> Iterator[None]:
    """dbt's environment for a run in this process: no telemetry, the warehouse a file
    in `folder`; restored afterwards."""
    env = {
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        "DO_NOT_TRACK": "1",
        "MALLCRM_WAREHOUSE": str(Path(folder) / "parse.duckdb"),
    }
    saved = {key: os.environ.get(key) for key in env}
    os.environ.update(env)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@pytest.fixture(scope="module")
def manifest() -> dict[str, Any]:
    from dbt.cli.main import dbtRunner

    with tempfile.TemporaryDirectory(prefix="dbt-conventions-") as tmp, _dbt_environment(Path(tmp)):
        # fmt: off
        result = dbtRunner().invoke([
            "parse", "--no-partial-parse", "--quiet",
            "--project-dir", str(PROJECT_DIR), "--profiles-dir", str(PROJECT_DIR),
            "--target-path", tmp, "--log-path", tmp,
        ])
        # fmt: on
        assert result.success, f"dbt parse failed: {result.exception}"
        return json.loads((Path(tmp) / "manifest.json").read_text(encoding="utf-8"))


def _models(manifest: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        node
        for node in manifest["nodes"].values()
        if node["resource_type"] == "model" and node["package_name"] == PACKAGE
    ]


def _macros(manifest: dict[str, Any]) -> list[dict[str, Any]]:
    return [macro for macro in manifest["macros"].values() if macro["package_name"] == PACKAGE]


def _unchecked(macro: dict[str, Any]) -> bool:
    return macro["original_file_path"].startswith(tuple(UNCHECKED_MACRO_FOLDERS))


def test_model_names_follow_their_layer(manifest):
    wrong = []
    for model in _models(manifest):
        parts = Path(model["original_file_path"]).parts  # models/<layer>/[<folder>/]<file>
        layer = parts[1]
        folder = parts[2] if len(parts) > 3 else ""
        if model["name"] in MODEL_NAME_EXCEPTIONS:
            continue
        if layer not in MODEL_NAME_PATTERNS:
            wrong.append(f"{model['original_file_path']}: models/{layer}/ is not a known layer")
            continue
        pattern = MODEL_NAME_PATTERNS[layer].format(folder=re.escape(folder))
        if not re.fullmatch(pattern, model["name"]):
            wrong.append(f"{model['original_file_path']}: expected {pattern}")
    assert not wrong, "model names off their layer's pattern:\n" + "\n".join(wrong)


def test_name_exceptions_still_exist(manifest):
    names = {model["name"] for model in _models(manifest)}
    assert set(MODEL_NAME_EXCEPTIONS) <= names, set(MODEL_NAME_EXCEPTIONS) - names


def test_every_model_has_a_yml_and_a_description(manifest):
    missing = [
        model["original_file_path"]
        for model in _models(manifest)
        if not model.get("patch_path") or not (model.get("description") or "").strip()
    ]
    assert not missing, "models without a yml patch or a description:\n" + "\n".join(missing)


def test_every_mart_enforces_its_contract(manifest):
    marts = [m for m in _models(manifest) if m["original_file_path"].startswith("models/marts/")]
    assert marts
    loose = [m["name"] for m in marts if not m["config"].get("contract", {}).get("enforced")]
    assert not loose, f"marts without contract: {{enforced: true}}: {loose}"


def test_contracts_are_enforced_folder_wide_on_marts():
    project = yaml.safe_load((PROJECT_DIR / "dbt_project.yml").read_text(encoding="utf-8"))
    marts = project["models"][PACKAGE]["marts"]
    assert marts.get("+contract") == {"enforced": True}, "dbt_project.yml: models/marts/ needs +contract"


def test_a_new_mart_without_its_columns_fails_to_build(tmp_path):
    """The folder-wide contract at work: in a copy of the project's config and macros, a
    new mart with no yml fails `dbt run` (its columns are not declared); the same mart
    with a yml declaring its column builds."""
    from dbt.cli.main import dbtRunner

    project = tmp_path / "project"
    shutil.copytree(PROJECT_DIR / "macros", project / "macros")
    for name in ("dbt_project.yml", "profiles.yml"):
        shutil.copy2(PROJECT_DIR / name, project / name)
    folder = project / "models" / "marts" / "core"
    folder.mkdir(parents=True)
    (folder / "mart_new_kpis.sql").write_text("select cast(1 as integer) as member_count\n", encoding="utf-8")

    def run() -> Any:
        with _dbt_environment(tmp_path):
            # fmt: off
            return dbtRunner().invoke([
                "run", "--no-partial-parse", "--quiet", "--project-dir", str(project), "--profiles-dir", str(project),
                "--target-path", str(tmp_path / "target"), "--log-path", str(tmp_path),
            ])
            # fmt: on

    failed = run()
    assert not failed.success
    messages = " ".join(str(r.message) for r in failed.result.results)
    assert "enforced contract, and its 'columns' specification is missing" in messages, messages

    (folder / "mart_new_kpis.yml").write_text(
        "models:\n  - name: mart_new_kpis\n    description: A new mart.\n"
        "    columns:\n      - {name: member_count, data_type: integer, description: Members.}\n",
        encoding="utf-8",
    )
    built = run()
    assert built.success, [str(r.message) for r in built.result.results]


def _signature(macro: dict[str, Any]) -> list[str]:
    """Argument names of a `{% macro %}` / `{% test %}` block, in order."""
    kind = "test" if macro["name"].startswith("test_") else "macro"
    name = macro["name"].removeprefix("test_") if kind == "test" else macro["name"]
    match = re.search(rf"{{%-?\s*{kind}\s+{re.escape(name)}\s*\((.*?)\)\s*-?%}}", macro["macro_sql"], re.S)
    assert match, f"no signature found for {macro['name']}"
    args, depth, current = [], 0, ""
    for char in match.group(1):
        if char in "([{":
            depth += 1
        elif char in ")]}":
            depth -= 1
        if char == "," and depth == 0:
            args.append(current)
            current = ""
        else:
            current += char
    args.append(current)
    return [arg.split("=")[0].strip() for arg in args if arg.strip()]


def test_every_macro_is_documented(manifest):
    macros = [m for m in _macros(manifest) if not _unchecked(m)]
    names = {m["name"] for m in macros}
    undocumented, wrong_args = [], []
    for macro in macros:
        prefix, _, base = macro["name"].partition("__")
        if base and prefix in ADAPTER_PREFIXES and base in names:
            continue
        if not (macro.get("description") or "").strip():
            undocumented.append(f"{macro['name']} ({macro['original_file_path']})")
            continue
        # Generic tests describe their arguments in prose: dbt does not validate the
        # signature of {% test %} blocks against documented arguments.
        if macro["name"].startswith("test_"):
            continue
        documented = [arg["name"] for arg in macro.get("arguments") or []]
        if documented != _signature(macro):
            wrong_args.append(f"{macro['name']}: documents {documented}, takes {_signature(macro)}")
    assert not undocumented, "macros without a description:\n" + "\n".join(undocumented)
    assert not wrong_args, "macro arguments not documented as declared:\n" + "\n".join(wrong_args)


def test_macro_ymls_sit_beside_their_macros(manifest):
    wrong = []
    for macro in _macros(manifest):
        if _unchecked(macro) or not macro.get("patch_path"):
            continue
        yml = macro["patch_path"].split("://", 1)[1]
        if Path(yml).parent != Path(macro["original_file_path"]).parent:
            wrong.append(f"{macro['name']}: {macro['original_file_path']} documented in {yml}")
    assert not wrong, "\n".join(wrong)


def test_generic_tests_live_in_tests_generic(manifest):
    elsewhere = [
        f"{m['name']} ({m['original_file_path']})"
        for m in _macros(manifest)
        if m["name"].startswith("test_")
        and not _unchecked(m)
        and not m["original_file_path"].startswith("tests/generic/")
    ]
    assert not elsewhere, f"generic tests outside tests/generic/: {elsewhere}"


def _project_texts(manifest: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """(path, text) of every SQL and yml of the project that may call var()."""
    for node in manifest["nodes"].values():
        if node["package_name"] == PACKAGE and node.get("raw_code"):
            yield node["original_file_path"], node["raw_code"]
    for macro in _macros(manifest):
        yield macro["original_file_path"], macro["macro_sql"]
    for folder in ("models", "macros", "tests", "seeds", "snapshots", "analyses"):
        for path in sorted((PROJECT_DIR / folder).rglob("*.yml")):
            yield str(path.relative_to(PROJECT_DIR)), path.read_text(encoding="utf-8")


VAR_CALL = re.compile(r"(?<![\w.])var\(\s*(?:(['\"])(\w+)\1\s*([,)])|([^,)]*))")


def _var_calls(manifest: dict[str, Any]) -> Iterator[tuple[str, str, bool]]:
    """(path, var name, called with a default) for every var() call."""
    for path, text in _project_texts(manifest):
        for match in VAR_CALL.finditer(text):
            literal, name, closer, dynamic = match.groups()
            if literal:
                yield path, name, closer == ","
            else:
                expression = dynamic.strip()
                assert expression in DYNAMIC_VARS, f"{path}: var({expression}) names an unknown var"
                for name in DYNAMIC_VARS[expression]:
                    yield path, name, text[match.end() :].lstrip().startswith(",")


def _declared_vars() -> dict[str, Any]:
    project = yaml.safe_load((PROJECT_DIR / "dbt_project.yml").read_text(encoding="utf-8"))
    return project.get("vars") or {}


def test_every_var_is_declared_in_dbt_project_yml(manifest):
    declared = _declared_vars()
    calls = list(_var_calls(manifest))
    assert calls
    undeclared = sorted({f"{name} ({path})" for path, name, _ in calls if name not in declared})
    assert not undeclared, "vars used but not declared in dbt_project.yml:\n" + "\n".join(undeclared)
    unused = sorted(set(declared) - {name for _, name, _ in calls})
    assert not unused, f"vars declared in dbt_project.yml but never used: {unused}"


def test_vars_take_their_default_from_dbt_project_yml(manifest):
    with_default = sorted(
        {
            f"{path}: var('{name}', ...)"
            for path, name, has_default in _var_calls(manifest)
            if has_default and not path.startswith(tuple(UNCHECKED_MACRO_FOLDERS))
        }
    )
    assert not with_default, "declare the default in dbt_project.yml instead:\n" + "\n".join(with_default)


# --- where a rule lives (issue 18) ------------------------------------------------------------

RENDERED_HEADER = "# Generated by `python -m privacy.render`"


def _tests(manifest: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        node
        for node in manifest["nodes"].values()
        if node["resource_type"] == "test" and node["package_name"] == PACKAGE and node.get("test_metadata")
    ]


def _contracted_table(model: dict[str, Any]) -> bool:
    config = model["config"]
    return bool(config.get("contract", {}).get("enforced")) and config["materialized"] in ("table", "incremental")


def _rendered(model: dict[str, Any]) -> bool:
    """The model's yml is written by privacy.render from its staging model's (masked layer)."""
    yml = PROJECT_DIR / model["patch_path"].split("://", 1)[1]
    return yml.read_text(encoding="utf-8").startswith(RENDERED_HEADER)


def _personal(model: dict[str, Any], column: str) -> bool:
    meta = (model["columns"].get(column) or {}).get("meta") or {}
    return bool(meta.get("pii") or meta.get("masked_from"))


def test_not_null_is_a_constraint_or_one_test_per_model(manifest):
    models = {m["unique_id"]: m for m in _models(manifest)}
    wrong, folded = [], {}
    for test in _tests(manifest):
        model = models.get(test.get("attached_node") or "")
        kind = test["test_metadata"]["name"]
        if model is None:
            continue
        if kind == "not_null":
            config = test["config"]
            if config.get("where") or str(config.get("severity")).lower() == "warn":
                continue
            if _personal(model, test["column_name"]) or _rendered(model):
                continue
            where = "a not_null constraint" if _contracted_table(model) else "the model's not_null_columns test"
            wrong.append(f"{model['name']}.{test['column_name']}: a not_null test; state it in {where}")
        if kind == "not_null_columns":
            folded.setdefault(model["name"], []).append(test)
            if _contracted_table(model) and not _rendered(model):
                wrong.append(f"{test['name']}: {model['name']} enforces a contract; use not_null constraints")
            unknown = [c for c in test["test_metadata"]["kwargs"]["columns"] if c not in model["columns"]]
            if unknown:
                wrong.append(f"{model['name']}: not_null_columns lists columns not in its yml: {unknown}")
    wrong += [
        f"{name}: {len(tests)} not_null_columns tests, one expected" for name, tests in folded.items() if len(tests) > 1
    ]
    assert folded, "no not_null_columns test at all"
    assert not wrong, "not-null rules off the convention:\n" + "\n".join(sorted(wrong))


def test_contracted_tables_state_value_rules_as_check_constraints(manifest):
    models = {m["unique_id"]: m for m in _models(manifest)}
    wrong = [
        f"{models[t['attached_node']]['name']}.{t['column_name']}: {t['test_metadata']['name']} test; "
        "make it a check constraint"
        for t in _tests(manifest)
        if t["test_metadata"]["name"] in ("accepted_values", "accepted_range")
        and t.get("attached_node") in models
        and _contracted_table(models[t["attached_node"]])
        and not _rendered(models[t["attached_node"]])
        and str(t["config"].get("severity", "error")).lower() == "error"
        and not t["config"].get("where")
    ]
    assert not wrong, "value rules of contracted tables kept as tests:\n" + "\n".join(sorted(wrong))
