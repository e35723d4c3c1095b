"""One benchmark stage each; `python -m bench.stages STAGE WORKDIR` runs one in its own process.

A stage prints one JSON line `{"seconds": .., "rows": .., ...}` as its last line. The
seconds cover the work only (not the interpreter's imports), so ratios compare work with
work; the harness measures the process's peak memory around it.

Every stage that does pipeline work calls the pipeline step of pipeline.steps, the same
function as the CLI and Dagster; the baselines (DuckDB's own readers, the compiled SQL run
directly, dbt as a subprocess) are the comparison, not the pipeline.

The stage process gets the harness's settings as environment variables
(mallcrm.core.settings.child_environment) and points them at the work directory
(`stage_settings`).

Work directory layout (all under WORKDIR):
    inbox/      the exports but the last day      held/   the last day's exports
    base/       warehouse after ingesting inbox/ (dlt), history back-dated (see below)
    full/       base/ after a full dbt build       run/    scratch copy for one repetition
    models/     the ML registry
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from collections import Counter
from dataclasses import replace
from pathlib import Path

from bench.scale import config_for_scale
from ingestion.pipeline import publish_raw
from mallcrm.core.dbt import dbt_args, run_dbt
from mallcrm.core.lock import write_lock
from mallcrm.core.settings import Settings, child_environment, load_settings
from mallcrm.core.warehouse import connect
from ml.models import MODELS
from pipeline import steps
from privacy.dbt_plugin import register_udfs

WAREHOUSE_NAME = "mallcrm.duckdb"
# The dbt of this virtual environment, whatever the PATH (orchestration/definitions.py
# uses the same one; importing it would build all of Dagster's definitions).
DBT_EXECUTABLE = str(Path(sys.executable).parent / "dbt")


def place(workdir: Path, name: str) -> Path:
    """A warehouse directory of the work directory (base, full, run ...); the Spark engine's
    have their own (`spark-run` ...), so both engines' runs can alternate in one work directory."""
    engine = load_settings().engine
    return workdir / (name if engine == "duckdb" else f"{engine}-{name}")


def stage_settings(workdir: Path, warehouse_dir: str = "run", inbox: str = "inbox") -> Settings:
    """The harness's settings (from this process's environment) pointed at a warehouse
    directory and an inbox of the work directory. dlt's state, the privacy folder and
    the requests inbox follow them; the ML registry is the work directory's."""
    warehouse = place(workdir, warehouse_dir) / WAREHOUSE_NAME
    return replace(
        load_settings(),
        warehouse=warehouse,
        inbox=workdir / inbox,
        dlt_dir=warehouse.parent / ".dlt",
        models_dir=place(workdir, "models"),
        privacy_dir=None,
        requests_dir=None,
    )


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


def stage_generate(workdir: Path, scale: float, days: int | None = None) -> dict:
    """Simulate the mall (`days` of history, default a year), then hold back the last
    day's files for the daily run."""
    for folder in ("inbox", "held"):
        shutil.rmtree(workdir / folder, ignore_errors=True)
    settings = stage_settings(workdir)
    config = config_for_scale(scale, days=days)
    started = time.perf_counter()
    report = steps.generate(settings, config, inbox=workdir / "inbox", progress=False)
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
    """dlt end to end (the project's ingestion) into a fresh warehouse: run/ (on Spark also
    the lake and the metastore's raw tables)."""
    shutil.rmtree(place(workdir, "run"), ignore_errors=True)
    settings = stage_settings(workdir)
    started = time.perf_counter()
    report = steps.ingest(settings, command="bench ingest_dlt")
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
    target = workdir / "run_duckdb"
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    settings = stage_settings(workdir, "run_duckdb")
    started = time.perf_counter()
    # a plain DuckDB file with the warehouse's memory limit and threads, created as every
    # warehouse is: by a writer holding the write lock (a reader never creates one)
    with write_lock(settings, "bench ingest_duckdb"):
        rows = _read_inbox_with_duckdb(settings, workdir)
    return {"seconds": time.perf_counter() - started, "rows": rows}


def _read_inbox_with_duckdb(settings: Settings, workdir: Path) -> int:
    con = connect(settings)
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
    return rows


def stage_prepare_base(workdir: Path) -> dict:
    """Ingest the history into base/ and back-date each row's `_loaded_at` to the morning
    after its file's business day, as if the history had arrived one day at a time. The
    facts' incremental lookback (var incremental_lookback_days) then reprocesses the last
    days only, as in production, instead of the whole history loaded a minute ago."""
    result = stage_ingest_dlt(workdir)
    base = place(workdir, "base")
    shutil.rmtree(base, ignore_errors=True)
    place(workdir, "run").rename(base)
    settings = stage_settings(workdir, "base")
    con = connect(settings)
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
    publish_raw(settings)  # Spark: the back-dated rows to the lake too
    return result


# --- dbt --------------------------------------------------------------------------------


def _prepared_manifest(settings: Settings, target_path: Path):
    """Parse once (partial parsing) and hand the manifest to every later invocation."""
    started = time.perf_counter()
    parsed = run_dbt(["parse"], settings, quiet=True, target_path=target_path)
    if not parsed:
        raise RuntimeError("dbt parse failed")
    return parsed.result, time.perf_counter() - started


def _dbt_build(settings: Settings, manifest, args: list[str], target_path: Path, command: str) -> tuple[float, dict]:
    """steps.build with the manifest parsed off the clock; raises if a node failed."""
    started = time.perf_counter()
    result = steps.build(settings, args, quiet=True, command=command, target_path=target_path, manifest=manifest)
    seconds = time.perf_counter() - started
    if not result:
        raise RuntimeError(f"dbt build had failures: {result.failed[:10]}")
    kinds = Counter(node.node.resource_type for node in result.result.results)
    return seconds, {"statuses": dict(result.statuses), "nodes": dict(kinds)}


def stage_dbt_full(workdir: Path) -> dict:
    """Full `dbt build` (models, seeds, data and unit tests) on a copy of base/; keeps the
    result as full/ and the executed SQL in target_full/ for the direct-SQL baseline.

    On Spark the tables dbt builds live in the cluster, not in run/: the full refresh
    rebuilds them from run/'s lake, and the daily stages that follow start from them."""
    fresh_copy(place(workdir, "base"), place(workdir, "run"))
    settings = stage_settings(workdir)
    target = place(workdir, "target_full")
    manifest, parse_seconds = _prepared_manifest(settings, target)
    seconds, info = _dbt_build(settings, manifest, ["--full-refresh"], target, "bench dbt_full")
    con = connect(settings)
    rows = _raw_rows(con)
    con.close()
    shutil.rmtree(place(workdir, "full"), ignore_errors=True)
    shutil.copytree(place(workdir, "run"), place(workdir, "full"))
    return {"seconds": seconds, "rows": rows, "parse_seconds": parse_seconds, **info}


def stage_direct_sql(workdir: Path) -> dict:
    """The same compiled SQL as the full build, executed directly in DuckDB in dbt's own
    completion order: models as `create or replace table|view .. as <compiled select>`, seeds
    with read_csv, data and unit tests as `select count(*) from (<compiled test>)`. Python
    models cannot run as SQL: their dbt execution time is added (stated in the JSON)."""
    fresh_copy(workdir / "base", workdir / "run")
    settings = stage_settings(workdir)
    target = workdir / "target_full"
    manifest = json.loads((target / "manifest.json").read_text())
    results = json.loads((target / "run_results.json").read_text())["results"]
    nodes = {**manifest["nodes"], **manifest.get("unit_tests", {})}
    con = connect(settings)
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
    fresh_copy(place(workdir, "full"), place(workdir, "run"))
    settings = stage_settings(workdir, inbox="held")
    started = time.perf_counter()
    report = steps.ingest(settings, command="bench ingest_day")
    return {"seconds": time.perf_counter() - started, "rows": report.totals()["rows_loaded"]}


def stage_dbt_daily(workdir: Path, check_incremental: bool = True) -> dict:
    """The daily run (`dbt build --selector daily`) on run/ as left by ingest_day; then,
    off the clock, each incremental table against its full recomputation (skipped with
    check_incremental=False: at S=200 it recomputes the history for many minutes)."""
    settings = stage_settings(workdir, inbox="held")
    target = place(workdir, "target_daily")
    manifest, parse_seconds = _prepared_manifest(settings, target)
    seconds, info = _dbt_build(settings, manifest, ["--selector", "daily"], target, "bench dbt_daily")
    # DuckDB only: it recomputes in the warehouse file (tests/integration/test_cross_engine.py
    # holds Spark's incremental tables to DuckDB's).
    check = check_incremental and settings.engine == "duckdb"
    return {
        "seconds": seconds,
        "rows": None,
        "parse_seconds": parse_seconds,
        **info,
        "incremental_matches_full": _incremental_matches_full(settings, workdir) if check else None,
    }


def _incremental_matches_full(settings: Settings, workdir: Path) -> dict[str, bool]:
    """Off the clock: each incremental table equals its full recomputation (the full
    build's compiled SQL). The tokenized masked tables are left out: their SQL calls the
    HMAC function that only dbt's connections have (tests/integration/test_daily_run.py
    compares them through dbt)."""
    compiled = json.loads((workdir / "target_full" / "manifest.json").read_text())["nodes"]
    con = connect(settings)
    checks = {}
    for node in compiled.values():
        if node["resource_type"] != "model" or node["config"]["materialized"] != "incremental":
            continue
        if "pii_hmac" in node["compiled_code"]:
            continue
        table, sql = node["relation_name"], node["compiled_code"]
        differing = con.execute(
            f"select (select count(*) from (select * from {table} except all select * from ({sql}) as f) as a)"
            f" + (select count(*) from (select * from ({sql}) as f except all select * from {table}) as b)"
        ).fetchone()[0]
        checks[node["name"]] = differing == 0
    con.close()
    return checks


# --- Dagster against plain dbt ----------------------------------------------------------


def _parse_off_the_clock(settings: Settings, target_path: Path) -> None:
    """`dbt parse` into `target_path` for this run's profile before the clock starts, as a
    daily schedule finds it: both sides of dagster_vs_dbt then time a build with partial
    parsing, not a first parse (the profile holds the warehouse path, which is new here)."""
    env = child_environment(settings)
    subprocess.run([DBT_EXECUTABLE, *dbt_args(["parse", "--quiet"], target_path)], check=True, env=env)


def stage_dbt_cli(workdir: Path) -> dict:
    """Plain `dbt build` as a subprocess (what Dagster runs underneath) on a copy of base/."""
    fresh_copy(workdir / "base", workdir / "run")
    settings = stage_settings(workdir)
    _parse_off_the_clock(settings, workdir / "target_cli")
    env = child_environment(settings)
    started = time.perf_counter()
    build = [DBT_EXECUTABLE, *dbt_args(["build", "--quiet"], workdir / "target_cli")]
    done = subprocess.run(build, check=False, env=env)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"dbt build exited {done.returncode}")
    return {"seconds": seconds, "rows": None}


def stage_dagster(workdir: Path) -> dict:
    """Dagster materializes the project's dbt assets (same definition and resources as the
    UI's) on a copy of base/, in process with an ephemeral instance."""
    # Lazy: orchestration/ is Dagster (about 80 MiB and 2 s of imports), which no other
    # stage's process should carry into its peak memory.
    import dagster as dg
    from dagster_dbt import DbtCliResource

    from orchestration.modeling import DAGSTER_TARGET_PATH, build_dbt_assets
    from orchestration.resources import WRITER, warehouse_writer

    fresh_copy(workdir / "base", workdir / "run")
    settings = stage_settings(workdir)
    assets, project = build_dbt_assets(settings)
    _parse_off_the_clock(settings, DAGSTER_TARGET_PATH)
    started = time.perf_counter()
    result = dg.materialize(
        [assets],
        resources={
            "dbt": DbtCliResource(project_dir=project, dbt_executable=DBT_EXECUTABLE),
            WRITER: warehouse_writer(settings),
        },
        instance=dg.DagsterInstance.ephemeral(),
        raise_on_error=True,
    )
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "rows": None, "materializations": len(result.get_asset_materialization_events())}


# --- ML and publish ---------------------------------------------------------------------


def stage_ml(workdir: Path) -> dict:
    """Train and score every model of ml.models.MODELS on full/ (registry under the work
    directory), one model at a time so each one's seconds are reported too."""
    fresh_copy(place(workdir, "full"), place(workdir, "run"))
    settings = stage_settings(workdir)
    models: dict[str, dict] = {}
    rows = 0
    started = time.perf_counter()
    for spec in MODELS:
        model_started = time.perf_counter()
        # force: the bench times training itself, also when the data did not change
        (trained,) = steps.train(settings, [spec.name], promote=True, command="bench ml", force=True)
        trained_at = time.perf_counter()
        (scored,) = steps.score(settings, [spec.name], command="bench ml")
        scored_at = time.perf_counter()
        rows += scored.rows
        models[spec.name] = {
            "train_seconds": round(trained_at - model_started, 3),
            "score_seconds": round(scored_at - trained_at, 3),
            "promoted": trained.promoted,
            "sample": trained.sample,
            "rows": scored.rows,
            "table": scored.table,
        }
    topics_started = time.perf_counter()
    topic_rows = steps.complaint_root_causes(settings, command="bench ml")
    rows += topic_rows
    models["complaint_root_causes"] = {
        "score_seconds": round(time.perf_counter() - topics_started, 3),
        "rows": topic_rows,
        "table": "ml_scores.complaint_root_causes",
    }
    return {"seconds": time.perf_counter() - started, "rows": rows, "models": models}


def stage_publish(workdir: Path) -> dict:
    """BI copy (DuckDB 1.4 storage) and role files from run/ (as left by the ML stage)."""
    settings = stage_settings(workdir)
    started = time.perf_counter()
    publication = steps.publish(settings)
    return {
        "seconds": time.perf_counter() - started,
        "rows": sum(publication.bi_copy.tables.values()),
        "role_files": len(publication.role_files),
    }


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
