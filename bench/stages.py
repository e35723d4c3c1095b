"""One benchmark stage each; `python -m bench.stages STAGE WORKDIR` runs one in its own process.

A stage prints one JSON line `{"seconds": .., "rows": .., ...}` as its last line. The
seconds cover the work only (not the interpreter's imports), so ratios compare work with
work; the harness measures the process's peak memory around it.

Work directory layout (all under WORKDIR):
    inbox/      the exports but the last day      held/   the last day's exports
    base/       warehouse after ingesting inbox/ (dlt), history back-dated (see below)
    full/       base/ after a full dbt build       run/    scratch copy for one repetition
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
from pathlib import Path

WAREHOUSE_NAME = "mallcrm.duckdb"


def _settings(warehouse_dir: Path, inbox: Path):
    """Settings for a warehouse directory, exported so dbt and dlt see the same paths."""
    os.environ["MALLCRM_WAREHOUSE"] = str(warehouse_dir / WAREHOUSE_NAME)
    os.environ["MALLCRM_INBOX"] = str(inbox)
    os.environ.pop("MALLCRM_DLT_DIR", None)
    from mallcrm.settings import load_settings

    return load_settings()


def fresh_copy(source: Path, target: Path) -> None:
    """Replace `target` by a copy of the warehouse directory `source` (DB file and dlt state)."""
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(source, target)


def _raw_rows(con) -> int:
    rows = con.execute(
        """
        select table_schema, table_name from information_schema.tables
        where table_schema like 'raw\\_%' escape '\\' and table_name not like '\\_dlt%' escape '\\'
          and table_name not in ('ingested_files', 'quarantined_rows') and table_type = 'BASE TABLE'
        """
    ).fetchall()
    return sum(con.execute(f'select count(*) from "{s}"."{t}"').fetchone()[0] for s, t in rows)


# --- generate ---------------------------------------------------------------------------


def stage_generate(workdir: Path, scale: float) -> dict:
    """Simulate the mall, then hold back the last day's files for the daily run."""
    from bench.scale import config_for_scale
    from simulator.generate import generate

    for folder in ("inbox", "held"):
        shutil.rmtree(workdir / folder, ignore_errors=True)
    config = config_for_scale(scale)
    started = time.perf_counter()
    report = generate(config, workdir / "inbox", progress=False)
    seconds = time.perf_counter() - started
    last = max(Path(f).stem.rsplit("_", 1)[-1] for f in report.files)
    held = 0
    for path in sorted((workdir / "inbox").rglob(f"*_{last}.*")):
        target = workdir / "held" / path.relative_to(workdir / "inbox")
        target.parent.mkdir(parents=True, exist_ok=True)
        path.rename(target)
        held += 1
    return {
        "seconds": seconds,
        "rows": sum(report.rows.values()),
        "files": len(report.files),
        "held_back_day": last,
        "held_back_files": held,
        "config": config.to_dict(),
    }


# --- ingest -----------------------------------------------------------------------------


def stage_ingest_dlt(workdir: Path) -> dict:
    """dlt end to end (the project's ingestion) into a fresh warehouse: run/."""
    shutil.rmtree(workdir / "run", ignore_errors=True)
    settings = _settings(workdir / "run", workdir / "inbox")
    from ingestion.pipeline import run_ingestion

    started = time.perf_counter()
    report = run_ingestion(settings)
    seconds = time.perf_counter() - started
    totals = report.totals()
    if report.refused:
        raise RuntimeError(f"ingestion refused files: {report.refused}")
    return {"seconds": seconds, "rows": totals["rows_loaded"], "files": totals["files"]}


def _files_by_table(inbox: Path) -> dict[tuple[str, str], list[Path]]:
    tables: dict[tuple[str, str], list[Path]] = {}
    for path in sorted(p for p in inbox.rglob("*") if p.is_file()):
        entity = path.name.rsplit("_", 1)[0]
        tables.setdefault((path.parent.name, entity), []).append(path)
    return tables


def stage_ingest_duckdb(workdir: Path) -> dict:
    """DuckDB's own readers (read_csv / read_json / read_parquet) of the same files, one
    table per entity, into a fresh database file: the floor dlt is compared with."""
    import duckdb

    target = workdir / "run_duckdb"
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    from mallcrm.settings import load_settings

    settings = load_settings()
    started = time.perf_counter()
    con = duckdb.connect(str(target / WAREHOUSE_NAME))
    con.execute(f"set memory_limit = '{settings.duckdb_memory_limit}'")
    con.execute(f"set threads = {settings.duckdb_threads}")
    rows = 0
    for (system, entity), paths in _files_by_table(workdir / "inbox").items():
        # one glob per entity: DuckDB expands it itself (a 365-file list with
        # union_by_name costs it gigabytes for nothing: every day has the same columns).
        suffix = paths[0].suffix
        files = f"'{paths[0].parent}/{entity}_[0-9]*{suffix}'"
        if suffix == ".csv":
            reader = f"read_csv({files}, header = true, all_varchar = true)"
        elif suffix in (".jsonl", ".json"):
            reader = f"read_json({files}, format = 'newline_delimited')"
        else:
            reader = f"read_parquet({files})"
        con.execute(f'create schema if not exists "raw_{system}"')
        con.execute(f'create table "raw_{system}"."{entity}" as select * from {reader}')
        rows += con.execute(f'select count(*) from "raw_{system}"."{entity}"').fetchone()[0]
    con.close()
    return {"seconds": time.perf_counter() - started, "rows": rows}


def stage_prepare_base(workdir: Path) -> dict:
    """Ingest the history into base/ and back-date each row's `_loaded_at` to the morning
    after its file's business day, as if the history had arrived one day at a time. The
    facts' incremental lookback (var incremental_lookback_days) then reprocesses the last
    days only, as in production, instead of the whole history loaded a minute ago."""
    result = stage_ingest_dlt(workdir)
    base = workdir / "base"
    shutil.rmtree(base, ignore_errors=True)
    (workdir / "run").rename(base)
    from mallcrm.warehouse import connect

    con = connect(base / WAREHOUSE_NAME)
    tables = con.execute(
        """
        select table_schema, table_name from information_schema.columns
        where table_schema like 'raw\\_%' escape '\\' and column_name = '_loaded_at'
        """
    ).fetchall()
    for schema, table in tables:
        con.execute(
            f"""
            update "{schema}"."{table}"
            set _loaded_at = cast(strptime(regexp_extract(_source_file, '_(\\d{{8}})\\.', 1), '%Y%m%d')
                                  + interval 1 day + interval 6 hour as timestamptz)
            where regexp_matches(_source_file, '_\\d{{8}}\\.')
            """
        )
    con.execute("checkpoint")
    result["raw_rows"] = _raw_rows(con)
    con.close()
    return result


# --- dbt --------------------------------------------------------------------------------


def _prepared_manifest(target_path: Path):
    """Parse once (partial parsing) and hand the manifest to every later invocation."""
    from dbt.cli.main import dbtRunner

    from mallcrm.dbt_runner import dbt_args

    started = time.perf_counter()
    result = dbtRunner().invoke(dbt_args(["parse", "--quiet"], target_path))
    if not result.success:
        raise RuntimeError(f"dbt parse failed: {result.exception}")
    return result.result, time.perf_counter() - started


def _dbt_build(manifest, args: list[str], target_path: Path) -> tuple[float, dict]:
    from collections import Counter

    from dbt.cli.main import dbtRunner

    from mallcrm.dbt_runner import dbt_args

    started = time.perf_counter()
    result = dbtRunner(manifest=manifest).invoke(dbt_args(["build", "--quiet", *args], target_path))
    seconds = time.perf_counter() - started
    if result.exception is not None:
        raise RuntimeError(f"dbt build failed: {result.exception}")
    statuses: Counter = Counter()
    kinds: Counter = Counter()
    for node in result.result.results:
        statuses[str(getattr(node.status, "value", node.status))] += 1
        kinds[node.node.resource_type] += 1
    if not result.success:
        failed = [r.node.unique_id for r in result.result.results if str(r.status) in ("error", "fail")]
        raise RuntimeError(f"dbt build had failures: {failed[:10]}")
    return seconds, {"statuses": dict(statuses), "nodes": dict(kinds)}


def stage_dbt_full(workdir: Path) -> dict:
    """Full `dbt build` (models, seeds, data and unit tests) on a copy of base/; keeps the
    result as full/ and the executed SQL in target_full/ for the direct-SQL baseline."""
    fresh_copy(workdir / "base", workdir / "run")
    settings = _settings(workdir / "run", workdir / "inbox")
    target = workdir / "target_full"
    manifest, parse_seconds = _prepared_manifest(target)
    seconds, info = _dbt_build(manifest, ["--full-refresh"], target)
    from mallcrm.warehouse import connect

    con = connect(settings.warehouse)
    rows = _raw_rows(con)
    con.close()
    shutil.rmtree(workdir / "full", ignore_errors=True)
    shutil.copytree(workdir / "run", workdir / "full")
    return {"seconds": seconds, "rows": rows, "parse_seconds": parse_seconds, **info}


def stage_direct_sql(workdir: Path) -> dict:
    """The same compiled SQL as the full build, executed directly in DuckDB in dbt's own
    completion order: models as `create or replace table|view .. as <compiled select>`, seeds
    with read_csv, data and unit tests as `select count(*) from (<compiled test>)`. Python
    models cannot run as SQL: their dbt execution time is added (stated in the JSON)."""
    fresh_copy(workdir / "base", workdir / "run")
    settings = _settings(workdir / "run", workdir / "inbox")
    target = workdir / "target_full"
    manifest = json.loads((target / "manifest.json").read_text())
    results = json.loads((target / "run_results.json").read_text())["results"]
    nodes = {**manifest["nodes"], **manifest.get("unit_tests", {})}
    from mallcrm.warehouse import connect
    from privacy.dbt_plugin import register_udfs

    con = connect(settings.warehouse)
    register_udfs(con)
    python_seconds = off_clock = 0.0
    executed = 0
    started = time.perf_counter()
    schemas = {n["schema"] for n in nodes.values() if n.get("resource_type") in ("model", "seed")}
    for schema in sorted(schemas):
        con.execute(f'create schema if not exists "{schema}"')
    for result in results:
        node = nodes.get(result["unique_id"])
        if node is None:
            continue
        kind = node["resource_type"]
        compiled_path = target / "compiled" / node["package_name"] / node["original_file_path"]
        if kind == "seed":
            seed = Path(node["root_path"]) / node["original_file_path"]
            con.execute(f"create or replace table {node['relation_name']} as select * from read_csv('{seed}')")
        elif kind == "model" and node.get("language") == "python":
            # dbt's own time for it counts; its result is copied from full/ off the clock.
            python_seconds += result["execution_time"]
            copy_started = time.perf_counter()
            con.execute(f"attach if not exists '{workdir / 'full' / WAREHOUSE_NAME}' as full_build (read_only)")
            relation = node["relation_name"].replace('"mallcrm".', "", 1)
            con.execute(f"create or replace table {node['relation_name']} as select * from full_build.{relation}")
            off_clock += time.perf_counter() - copy_started
            continue
        elif kind == "model":
            sql = node.get("compiled_code") or compiled_path.read_text()
            relation = "view" if node["config"]["materialized"] == "view" else "table"
            con.execute(f"create or replace {relation} {node['relation_name']} as {sql}")
        elif kind in ("test", "unit_test"):
            sql = node.get("compiled_code")
            if not sql:
                continue
            con.execute(f"select count(*) from ({sql}) as t").fetchall()
        else:
            continue
        executed += 1
    seconds = time.perf_counter() - started - off_clock + python_seconds
    con.execute("detach database if exists full_build")
    rows = _raw_rows(con)
    con.close()
    return {"seconds": seconds, "rows": rows, "statements": executed, "python_model_seconds": python_seconds}


def stage_ingest_day(workdir: Path) -> dict:
    """run/ = full/ plus the held-back day ingested with dlt (the daily load)."""
    fresh_copy(workdir / "full", workdir / "run")
    settings = _settings(workdir / "run", workdir / "held")
    from ingestion.pipeline import run_ingestion

    started = time.perf_counter()
    report = run_ingestion(settings)
    return {"seconds": time.perf_counter() - started, "rows": report.totals()["rows_loaded"]}


def stage_dbt_daily(workdir: Path) -> dict:
    """The daily run (`dbt build --selector daily`) on run/ as left by ingest_day."""
    _settings(workdir / "run", workdir / "held")
    target = workdir / "target_daily"
    manifest, parse_seconds = _prepared_manifest(target)
    seconds, info = _dbt_build(manifest, ["--selector", "daily"], target)
    return {
        "seconds": seconds,
        "rows": None,
        "parse_seconds": parse_seconds,
        **info,
        "incremental_matches_full": _incremental_matches_full(workdir, manifest),
    }


INCREMENTAL_MEMBER_MODELS = ("int_member__daily_activity",)


def _incremental_matches_full(workdir: Path, manifest) -> dict[str, bool]:
    """Off the clock: each member-incremental table equals its full recomputation."""
    from mallcrm.warehouse import connect

    compiled = json.loads((workdir / "target_full" / "manifest.json").read_text())["nodes"]
    con = connect(workdir / "run" / WAREHOUSE_NAME)
    checks = {}
    for name in INCREMENTAL_MEMBER_MODELS:
        node = compiled[f"model.mallcrm.{name}"]
        table, sql = node["relation_name"], node["compiled_code"]
        differing = con.execute(
            f"select (select count(*) from (select * from {table} except all select * from ({sql}) as f) as a)"
            f" + (select count(*) from (select * from ({sql}) as f except all select * from {table}) as b)"
        ).fetchone()[0]
        checks[name] = differing == 0
    con.close()
    return checks


# --- Dagster against plain dbt ----------------------------------------------------------


def _parse_off_the_clock(target_path: Path) -> None:
    """`dbt parse` into `target_path` for this run's profile before the clock starts, as a
    daily schedule finds it: both sides of dagster_vs_dbt then time a build with partial
    parsing, not a first parse (the profile holds the warehouse path, which is new here)."""
    import subprocess

    from mallcrm.dbt_runner import dbt_args

    dbt = str(Path(sys.executable).parent / "dbt")
    subprocess.run([dbt, *dbt_args(["parse", "--quiet"], target_path)], check=True)


def stage_dbt_cli(workdir: Path) -> dict:
    """Plain `dbt build` as a subprocess (what Dagster runs underneath) on a copy of base/."""
    import subprocess

    fresh_copy(workdir / "base", workdir / "run")
    settings = _settings(workdir / "run", workdir / "inbox")
    from mallcrm.dbt_runner import dbt_args, export_dbt_environment

    export_dbt_environment(settings)
    _parse_off_the_clock(workdir / "target_cli")
    dbt = str(Path(sys.executable).parent / "dbt")
    started = time.perf_counter()
    done = subprocess.run([dbt, *dbt_args(["build", "--quiet"], workdir / "target_cli")], check=False)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"dbt build exited {done.returncode}")
    return {"seconds": seconds, "rows": None}


def stage_dagster(workdir: Path) -> dict:
    """Dagster materializes the project's dbt assets (same definition as the UI's) on a copy
    of base/, in process with an ephemeral instance."""
    fresh_copy(workdir / "base", workdir / "run")
    settings = _settings(workdir / "run", workdir / "inbox")
    import dagster as dg
    from dagster_dbt import DbtCliResource

    from orchestration.definitions import DBT_EXECUTABLE
    from orchestration.modeling import build_dbt_assets, dagster_target_path

    assets, project = build_dbt_assets(settings)
    _parse_off_the_clock(dagster_target_path(project))
    started = time.perf_counter()
    result = dg.materialize(
        [assets],
        resources={"dbt": DbtCliResource(project_dir=project, dbt_executable=DBT_EXECUTABLE)},
        instance=dg.DagsterInstance.ephemeral(),
        raise_on_error=True,
    )
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "rows": None, "materializations": len(result.get_asset_materialization_events())}


# --- ML and publish ---------------------------------------------------------------------


def stage_ml(workdir: Path) -> dict:
    """Train and score churn and CLV on full/ (registry under the work directory)."""
    fresh_copy(workdir / "full", workdir / "run")
    settings = _settings(workdir / "run", workdir / "inbox")
    from ml import pipeline
    from ml.registry import Registry

    registry = Registry(workdir / "models")
    started = time.perf_counter()
    for train in (pipeline.train_clv, pipeline.train_churn):
        train(settings, registry, promote=True)
    scored = pipeline.score_all(settings, registry)
    return {"seconds": time.perf_counter() - started, "rows": sum(scored.values())}


def stage_publish(workdir: Path) -> dict:
    """BI copy (DuckDB 1.4 storage) and role files from run/ (as left by the ML stage)."""
    settings = _settings(workdir / "run", workdir / "inbox")
    from mallcrm.bi_copy import publish_bi_copy
    from privacy.publish import publish_role_files

    started = time.perf_counter()
    copy = publish_bi_copy(settings)
    publish_role_files(settings)
    return {"seconds": time.perf_counter() - started, "rows": sum(copy.tables.values())}


STAGES = {
    "generate": stage_generate,
    "ingest_dlt": stage_ingest_dlt,
    "ingest_duckdb": stage_ingest_duckdb,
    "prepare_base": stage_prepare_base,
    "dbt_full": stage_dbt_full,
    "direct_sql": stage_direct_sql,
    "ingest_day": stage_ingest_day,
    "dbt_daily": stage_dbt_daily,
    "dbt_cli": stage_dbt_cli,
    "dagster": stage_dagster,
    "ml": stage_ml,
    "publish": stage_publish,
}


def main(argv: list[str]) -> None:
    stage, workdir = argv[0], Path(argv[1])
    kwargs = json.loads(argv[2]) if len(argv) > 2 else {}
    result = STAGES[stage](workdir, **kwargs)
    sys.stdout.flush()
    print("\n" + json.dumps(result, default=str), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
