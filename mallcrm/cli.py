"""`mallcrm`: the command line of the warehouse.

    mallcrm generate   write a demo mall's daily exports into the inbox
    mallcrm ingest     load new inbox files with dlt into DuckDB (raw_* datasets)
    mallcrm build      build the dbt project (staging and above), with its tests
    mallcrm demo       all of the above, then print what was built
    mallcrm dev        start the Dagster UI on 127.0.0.1
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path

import click

from bench.cli import bench
from dashboard.cli import dashboard
from mallcrm import quality_cli
from mallcrm.ml_cli import ml
from mallcrm.runlock import WarehouseBusy, warehouse_lock
from mallcrm.settings import PROJECT_ROOT, load_settings
from privacy import cli as privacy_cli


def _echo_ingest(report) -> None:
    totals = report.totals()
    click.echo(
        f"ingested {totals['files']} new file(s): {totals['rows_loaded']:,} rows loaded, "
        f"{totals['rows_quarantined']:,} quarantined, of {totals['rows_in_file']:,} rows in the files"
    )
    for f in report.files:
        if f["rows_quarantined"] and f["status"] == "loaded":
            click.echo(f"  quarantined {f['rows_quarantined']} row(s) of {f['source_file']}")
    for f in report.files:
        if f.get("rows_suppressed"):
            click.echo(f"  suppressed  {f['rows_suppressed']} row(s) of erased people in {f['source_file']}")
    for f in report.duplicates:
        click.echo(f"  duplicate   {f['source_file']}: {f['reason']}")
    for line in report.unmatched:
        click.secho(f"  ignored     {line}", fg="yellow")
    if report.refused:
        click.secho(f"REFUSED {len(report.refused)} file(s) — their rows are in quarantine:", fg="red", bold=True)
        for f in report.refused:
            click.secho(f"  refused     {f['source_file']}: {f['reason']}", fg="red")


@click.group()
def main() -> None:
    """Mall CRM warehouse: a mall's daily exports -> trusted, privacy-safe marts."""


@main.command()
@click.option("--members", default=5000, show_default=True, help="Members in the demo mall.")
@click.option("--stores", default=60, show_default=True, help="Stores (tenants).")
@click.option("--days", default=365, show_default=True, help="Days of exports.")
@click.option("--start", "start_date", default="2025-11-01", show_default=True, help="First business day.")
@click.option("--seed", default=42, show_default=True)
@click.option("--pos-encoding", type=click.Choice(["utf-8", "gbk"]), default="utf-8", show_default=True,
              help="Write POS and reference files as GBK, like legacy POS systems.")
@click.option("--dirty", is_flag=True, help="Inject bad data (malformed rows, duplicates, late file, drift).")
@click.option("--inbox", type=click.Path(path_type=Path), default=None, help="Defaults to MALLCRM_INBOX.")
def generate(members, stores, days, start_date, seed, pos_encoding, dirty, inbox) -> None:
    """Write a simulated mall's daily exports into the inbox."""
    from simulator.config import SimulationConfig
    from simulator.generate import generate as run_generate

    target = inbox or load_settings().inbox
    config = SimulationConfig(
        seed=seed, members=members, stores=stores, days=days,
        start_date=date.fromisoformat(start_date), pos_encoding=pos_encoding, dirty=dirty,
    )
    started = time.perf_counter()
    report = run_generate(config, target, progress=sys.stderr.isatty())
    files = len(report.files)
    rows = sum(report.rows.values())
    click.echo(f"generated {files:,} files, {rows:,} rows into {target} in {time.perf_counter() - started:.1f}s")
    if dirty:
        click.echo(f"injected {len(report.injected)} defects (see docs/sources.md, 'Dirty data')")


class BusyError(click.ClickException):
    exit_code = 75  # EX_TEMPFAIL: try again later


def _storage_error(error: BaseException) -> BaseException | None:
    """The disk-level cause (full disk, file too large, read-only) inside an error chain."""
    import duckdb

    markers = ("No space left", "File too large", "Read-only file system", "Could not write file")
    seen, found = set(), None
    while error is not None and id(error) not in seen:  # the deepest match says it plainest
        seen.add(id(error))
        if isinstance(error, OSError | duckdb.IOException) or any(m in str(error) for m in markers):
            found = error
        error = error.__cause__ or error.__context__
    return found


@contextmanager
def _writing(command: str) -> Iterator[None]:
    """Hold the warehouse's run lock for a writing command, or refuse with a clear message.

    A disk that is full or read-only ends the command with one sentence naming the
    warehouse; every step is idempotent, so the operator frees space and runs it again."""
    warehouse = load_settings().warehouse
    try:
        with warehouse_lock(warehouse, f"mallcrm {command}"):
            yield
    except WarehouseBusy as error:
        raise BusyError(str(error)) from None
    except Exception as error:
        cause = _storage_error(error)
        if cause is None:
            raise
        raise click.ClickException(
            f"could not write the warehouse {warehouse} ({type(cause).__name__}: {str(cause).strip()[:300]}). "
            f"Free disk space or fix permissions, then run `mallcrm {command}` again: "
            "what was committed stays, what was not is redone."
        ) from None


def _check_systems(ctx, param, systems: tuple[str, ...]) -> tuple[str, ...]:
    from ingestion.contracts import load_contract

    known = sorted(load_contract().systems)
    unknown = [s for s in systems if s not in known]
    if unknown:
        raise click.BadParameter(f"unknown source system {unknown[0]!r}; the contract has: {', '.join(known)}")
    return systems


@main.command()
@click.option("--system", "systems", multiple=True, callback=_check_systems,
              help="Only these source systems (default: all).")
def ingest(systems) -> None:
    """Load new inbox files with dlt; exits 3 when a file was refused."""
    from ingestion.pipeline import run_ingestion

    with _writing("ingest"):
        report = run_ingestion(systems=list(systems) or None)
    _echo_ingest(report)
    if report.refused:
        sys.exit(3)


@main.command()
@click.option("--select", default=None, help="dbt selection, e.g. 'staging'.")
def build(select) -> None:
    """Build and test the dbt project."""
    from mallcrm.dbt_runner import run_dbt

    command = ["build"] + (["--select", select] if select else [])
    with _writing("build"):
        ok = run_dbt(command)
    if not ok:
        raise click.ClickException("dbt build had failures (see the log above)")


@main.command()
@click.option("--members", default=5000, show_default=True)
@click.option("--stores", default=60, show_default=True)
@click.option("--days", default=365, show_default=True)
@click.pass_context
def demo(ctx, members, stores, days) -> None:
    """Generate, ingest and build the demo mall end to end, then print what was built."""
    from ingestion.pipeline import run_ingestion
    from mallcrm.dbt_runner import LAST_STATUS_COUNTS, run_dbt
    from mallcrm.summary import warehouse_summary

    with _writing("demo"):
        settings = load_settings()
        started = time.perf_counter()
        has_exports = settings.inbox.exists() and any(p.is_file() for p in settings.inbox.rglob("*"))
        if not has_exports:
            ctx.invoke(generate, members=members, stores=stores, days=days)
        else:
            click.echo(f"inbox {settings.inbox} already holds exports: not generating again")
        click.echo("loading new exports with dlt ...")
        report = run_ingestion(settings)
        _echo_ingest(report)
        click.echo("building the dbt project (models, snapshots, data and unit tests) ...")
        ok = run_dbt(["build"], settings, quiet=True)
        click.echo("dbt build: " + ", ".join(f"{n} {status}" for status, n in sorted(LAST_STATUS_COUNTS.items())))
        if ok:
            ok = _demo_ml(settings)
        click.echo(warehouse_summary(settings))
        if ok:
            from mallcrm.bi_copy import publish_bi_copy
            from privacy.publish import publish_role_files

            copy = publish_bi_copy(settings)
            click.echo(f"BI copy of the marts (DuckDB 1.4 storage, for BI tools): {copy.path}")
            roles = publish_role_files(settings)
            click.echo(f"role files ({', '.join(roles)}): {settings.warehouse_dir / 'roles'}")
            click.echo("audit log of publishes, purges and requests: `mallcrm privacy audit-verify`")
        click.echo(f"done in {time.perf_counter() - started:.0f}s")
        click.echo("open the Dagster UI with `make dev` (http://127.0.0.1:3000)")
        if not ok:
            raise click.ClickException("dbt build had failures (see the log above)")


def _demo_ml(settings) -> bool:
    """Train and score every model (churn, CLV, segmentation, basket rules,
    recommendations), then rebuild member 360 so it shows the scores."""
    from mallcrm.dbt_runner import run_dbt
    from ml import behaviour, pipeline
    from ml.registry import Registry

    click.echo("training and scoring churn, lifetime value, segments, basket rules and recommendations ...")
    registry = Registry()
    model_started = time.perf_counter()
    for train in (pipeline.train_clv, pipeline.train_churn, *behaviour.TRAINERS.values()):
        result = train(settings, registry, promote=True)
        state = "promoted" if result.promoted else "not promoted"
        click.echo(f"  {result.version.model} {result.version.version}: {state} ({result.reason})")
    scorers = {"clv": pipeline.score_clv, "churn": pipeline.score_churn, **behaviour.SCORERS}
    for model, score in scorers.items():
        if registry.current(model) is not None:
            click.echo(f"  {model}: {len(score(settings, registry)):,} rows scored")
    click.echo(f"  model time (train + score): {time.perf_counter() - model_started:.1f}s")
    return run_dbt(["build", "--select", "mart_member_360+"], settings, quiet=True)


@main.command()
@click.option("--port", default=3000, show_default=True)
def dev(port) -> None:
    """Start the Dagster UI on 127.0.0.1 (Ctrl-C stops it)."""
    from mallcrm.dbt_runner import export_dbt_environment

    settings = load_settings()
    export_dbt_environment(settings)
    home = Path(os.environ.setdefault("DAGSTER_HOME", str(PROJECT_ROOT / ".dagster_home")))
    home.mkdir(parents=True, exist_ok=True)
    instance_yaml = home / "dagster.yaml"
    if not instance_yaml.exists():
        instance_yaml.symlink_to(PROJECT_ROOT / "dagster.yaml")
    # Run dagster in its own process group and forward signals to it: started from a
    # shell in the background, `dagster dev` would otherwise ignore SIGTERM.
    cmd = [sys.executable, "-m", "dagster", "dev", "-h", "127.0.0.1", "-p", str(port),
           "-m", "orchestration.definitions"]
    proc = subprocess.Popen(cmd, cwd=PROJECT_ROOT, start_new_session=True)

    stop_requested: list[float] = []

    def forward(signum, _frame):
        stop_requested.append(time.monotonic())
        os.killpg(proc.pid, signum)

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, forward)
    while proc.poll() is None:
        time.sleep(0.5)
        # Dagster's daemon can hang on a sensor thread: give it 20 s, then end the group.
        if stop_requested and time.monotonic() - stop_requested[0] > 20:
            os.killpg(proc.pid, signal.SIGKILL)
            break
    sys.exit(proc.wait())


@main.command("publish-bi")
def publish_bi() -> None:
    """Write the marts into a DuckDB file that BI tools with DuckDB 1.4 can open."""
    from mallcrm.bi_copy import BI_STORAGE_VERSION, publish_bi_copy

    copy = publish_bi_copy(load_settings())
    click.echo(f"wrote {len(copy.tables)} tables to {copy.path} (storage version {BI_STORAGE_VERSION})")


@main.command("publish-roles")
def publish_roles() -> None:
    """Write one DuckDB file per role with only what privacy/policy.yml lets it see."""
    from privacy.publish import publish_role_files

    for role, f in publish_role_files(load_settings()).items():
        click.echo(f"{role:<18} {len(f.tables)} tables -> {f.path}")


@main.group()
def docs() -> None:
    """Generate documentation from the code."""


@docs.command("sources")
@click.option("--check", is_flag=True, help="Fail if docs/sources.md is out of date.")
def docs_sources(check) -> None:
    """Write docs/sources.md from ingestion/export_formats.yml."""
    from ingestion.docs import render_sources_doc

    path = PROJECT_ROOT / "docs" / "sources.md"
    text = render_sources_doc()
    if check:
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            raise click.ClickException("docs/sources.md is out of date: run `mallcrm docs sources`")
        click.echo("docs/sources.md is up to date")
        return
    path.write_text(text, encoding="utf-8")
    click.echo(f"wrote {path}")


@main.command()
def status() -> None:
    """Print the warehouse's tables and row counts as JSON."""
    from mallcrm.summary import table_counts

    click.echo(json.dumps(table_counts(load_settings()), indent=2))


main.add_command(ml)
main.add_command(quality_cli.check)
main.add_command(quality_cli.doctor)
main.add_command(privacy_cli.privacy)
main.add_command(privacy_cli.compliance_report)
main.add_command(dashboard)
main.add_command(bench)


if __name__ == "__main__":
    main()
