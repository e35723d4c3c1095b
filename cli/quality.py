"""`mallcrm check` (the Soda data contracts) and `mallcrm doctor` (health at a glance)."""

from __future__ import annotations

import sys
from datetime import UTC, datetime

import click
import duckdb

from cli.common import settings as load_cli_settings
from mallcrm.core.warehouse import require_warehouse
from quality.health import health_report, unfinished_privacy_jobs
from quality.runner import contract_paths, run_checks


def _table(rows: list[tuple], header: tuple) -> str:
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows, strict=True)]
    lines = ["  ".join(str(x).ljust(w) for x, w in zip(r, widths, strict=True)) for r in [header, *rows]]
    return "\n".join([lines[0], "  ".join("-" * w for w in widths), *lines[1:]])


def _check_datasets(ctx, param, datasets: tuple[str, ...]) -> tuple[str, ...]:
    """An unknown dataset is a usage error listing the known ones (of its schema when the
    schema is known): a typo must not pass as "0 checks on 0 tables"."""
    known = sorted(path.stem for _, path in contract_paths())
    for dataset in datasets:
        if dataset not in known:
            same_schema = [k for k in known if k.split(".")[0] == dataset.split(".")[0]]
            raise click.BadParameter(
                f"no data contract for {dataset!r}; the contracts are: {', '.join(same_schema or known)}"
            )
    return datasets


@click.command()
@click.option(
    "--layer",
    "layers",
    multiple=True,
    type=click.Choice(["raw", "staging", "masked", "marts"]),
    help="Only these layers (default: all).",
)
@click.option(
    "--dataset",
    "datasets",
    multiple=True,
    callback=_check_datasets,
    help="Only these tables, e.g. raw_pos.transactions.",
)
@click.option("--all", "show_all", is_flag=True, help="List passing checks too.")
def check(layers, datasets, show_all) -> None:
    """Verify the Soda data contracts (quality/contracts/); exit 1 when a check fails."""
    settings = load_cli_settings()
    require_warehouse(settings)
    try:
        results = run_checks(settings, list(layers) or None, list(datasets) or None)
    except FileNotFoundError as exc:
        raise click.ClickException(str(exc)) from exc
    except duckdb.IOException as exc:  # another process (a build, a Dagster run) holds the file
        raise click.ClickException(f"cannot open the warehouse now: {exc}") from exc
    shown = [r for r in results if show_all or r.outcome != "passed"]
    rows = [
        (
            r.outcome.upper(),
            r.layer,
            r.dataset,
            r.column or "",
            r.check,
            r.measure,
            "" if r.failing is None else f"{r.failing:g}",
        )
        for r in shown
    ]
    if rows:
        click.echo(_table(rows, ("RESULT", "LAYER", "DATASET", "COLUMN", "CHECK", "MEASURE", "VALUE")))
    failed = [r for r in results if r.outcome in ("failed", "error")]
    warned = [r for r in results if r.outcome == "warned"]
    unfinished = unfinished_privacy_jobs(settings)
    for problem in unfinished:
        click.secho(f"FAILED {problem}", fg="red")
    skipped = [r for r in results if r.outcome == "skipped"]
    summary = (
        f"{len(results)} checks on {len({r.dataset for r in results})} tables: "
        f"{len(results) - len(failed) - len(warned) - len(skipped)} passed, {len(warned)} warned, "
        f"{len(failed)} failed" + (f", {len(skipped)} skipped (see SKIPPED above)" if skipped else "")
    )
    if failed:
        click.secho(summary, fg="red", bold=True)
        for r in failed:
            click.secho(f"  FAILED {r.reason}", fg="red")
        click.echo("what each check means and what to do: docs/operations.md")
        sys.exit(1)
    if unfinished:
        sys.exit(1)
    for r in skipped:
        click.secho(f"  SKIPPED {r.reason}", fg="yellow")
    click.secho(summary, fg="yellow" if warned or skipped else "green")


@click.command()
def doctor() -> None:
    """The warehouse's health at a glance: as-of date, freshness, last runs, checks, quarantine,
    privacy requests, inbox files not processed (misnamed: exit 1; still being written)."""
    settings = load_cli_settings()
    try:
        report = health_report(settings, dagster_home=str(settings.dagster_home), now=datetime.now(UTC))
    except duckdb.IOException as exc:
        raise click.ClickException(f"cannot open the warehouse now: {exc}") from exc
    click.echo(report.text)
    if report.problems:
        sys.exit(1)
