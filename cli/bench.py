"""`mallcrm bench`: the pipeline at a scale factor, timed beside DuckDB itself."""

from __future__ import annotations

import json
from pathlib import Path

import click

from bench.harness import ALL_GROUPS, BASELINES_BELOW_SCALE, RESULTS_DIR, format_table, run_bench


@click.command()
@click.option(
    "--scale",
    "-s",
    default=1.0,
    show_default=True,
    type=float,
    help="Scale factor: S=1 is the demo mall (5,000 members); members grow with S.",
)
@click.option(
    "--reps",
    default=5,
    show_default=True,
    type=click.IntRange(1),
    help="Alternating rounds per compared group (a group whose first round takes over 60 s runs once).",
)
@click.option(
    "--only", "groups", multiple=True, type=click.Choice(ALL_GROUPS), help="Only these stage groups (default: all)."
)
@click.option(
    "--days",
    type=click.IntRange(2),
    default=None,
    help="Days of history to simulate (default 365): the daily run's cost against history length.",
)
@click.option(
    "--baselines/--no-baselines",
    default=None,
    help="Run the comparison stages (DuckDB readers, direct SQL, dbt CLI, Dagster). "
    f"Default: on below S={BASELINES_BELOW_SCALE:g}, where they would add hours.",
)
@click.option(
    "--workdir",
    type=click.Path(path_type=Path),
    default=None,
    help="Scratch directory (default: <warehouse dir>/bench/S<scale>[-D<days>]).",
)
@click.option(
    "--engine",
    type=click.Choice(["duckdb", "spark"]),
    default="duckdb",
    show_default=True,
    help="spark: also run ingest, the dbt builds, ML and publish on the local Spark cluster "
    "and report spark_vs_duckdb per stage (docs/scale-out.md).",
)
@click.option("--results-dir", type=click.Path(path_type=Path), default=RESULTS_DIR, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print the JSON report instead of the table.")
def bench(scale, reps, groups, days, baselines, workdir, engine, results_dir, as_json) -> None:
    """Time generate, ingest, dbt (full, direct SQL, daily), Dagster, ML and publish."""
    report = run_bench(
        scale,
        reps=reps,
        groups=tuple(groups) or ALL_GROUPS,
        days=days,
        baselines=scale < BASELINES_BELOW_SCALE if baselines is None else baselines,
        workdir=workdir,
        engine=engine,
        results_dir=results_dir,
        log=lambda line: click.echo(line, err=True),
    )
    click.echo(json.dumps(report, indent=2, default=str) if as_json else format_table(report))
    click.echo(f"wrote {report['path']}", err=True)
