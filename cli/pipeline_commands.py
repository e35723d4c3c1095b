"""The pipeline commands: generate, ingest, build, demo, dev, publish, status, docs.

mallcrm generate   write a demo mall's daily exports into the inbox
mallcrm ingest     load new inbox files with dlt into DuckDB (raw_* datasets)
mallcrm build      build the dbt project (staging and above), with its tests
mallcrm demo       all of the above, ML and publishing, then print what was built
mallcrm dev        start the Dagster UI on 127.0.0.1
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import date, timedelta
from pathlib import Path

import click

from activation.export import ExportRefused
from cli import exit_codes
from cli.audiences import echo_exports, summary_lines, uplift_lines
from cli.common import on_terminal, progress, writing
from cli.common import settings as load_cli_settings
from cli.summary import layer_summary, table_counts, warehouse_listing
from ingestion.docs import render_sources_doc
from ingestion.pipeline import IngestReport
from mallcrm.core.contract import load_contract
from mallcrm.core.dbt import DbtResult, DbtUsageError, manifest_path, run_dbt
from mallcrm.core.lock import write_lock
from mallcrm.core.settings import PROJECT_ROOT, Settings, child_environment
from ml.models import MODEL_NAMES
from pipeline import steps
from postgres import server as postgres_server
from privacy.bi_copy import BI_STORAGE_VERSION
from simulator.config import SimulationConfig
from spark.catalog import thrift_cursor


def _echo_ingest(report: IngestReport) -> None:
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
    for f in report.corrections:
        click.echo(f"  corrected   {f['source_file']}: changed since its earlier load; loaded again, supersedes it")
    for line in report.waiting:
        click.echo(f"  waiting     {line}")
    if report.unmatched:
        click.secho(
            f"NOT READ {len(report.unmatched)} file(s) in the inbox that fit no export of the contract "
            "(rename or move them; see docs/sources.md):",
            fg="red",
            bold=True,
        )
        for line in report.unmatched:
            click.secho(f"  not read    {line}", fg="red")
    if report.refused:
        click.secho(f"REFUSED {len(report.refused)} file(s) — their rows are in quarantine:", fg="red", bold=True)
        for f in report.refused:
            click.secho(f"  refused     {f['source_file']}: {f['reason']}", fg="red")


@click.command()
@click.option("--members", default=5000, show_default=True, help="Members in the demo mall.")
@click.option("--stores", default=60, show_default=True, help="Stores (tenants).")
@click.option("--days", default=365, show_default=True, help="Days of exports.")
@click.option("--start", "start_date", default="2025-11-01", show_default=True, help="First business day.")
@click.option("--seed", default=42, show_default=True)
@click.option(
    "--pos-encoding",
    type=click.Choice(["utf-8", "gbk"]),
    default="utf-8",
    show_default=True,
    help="Write POS and reference files as GBK, like legacy POS systems.",
)
@click.option("--dirty", is_flag=True, help="Inject bad data (malformed rows, duplicates, late file, drift).")
@click.option("--inbox", type=click.Path(path_type=Path), default=None, help="Defaults to MALLCRM_INBOX.")
def generate(members, stores, days, start_date, seed, pos_encoding, dirty, inbox) -> None:
    """Write a simulated mall's daily exports into the inbox."""
    try:
        start = date.fromisoformat(start_date)
    except ValueError:
        raise click.BadParameter(f"{start_date!r} is not a date (YYYY-MM-DD)", param_hint="--start") from None
    config = SimulationConfig(
        seed=seed,
        members=members,
        stores=stores,
        days=days,
        start_date=start,
        pos_encoding=pos_encoding,
        dirty=dirty,
    )
    _generate(load_cli_settings(), config, inbox)


def _generate(
    settings: Settings,
    config: SimulationConfig,
    inbox: Path | None = None,
    days: range | None = None,
    respond: bool = False,
) -> None:
    started = time.perf_counter()
    report = steps.generate(settings, config, inbox, progress=on_terminal(), days=days, respond=respond)
    rows = sum(report.rows.values())
    click.echo(
        f"generated {len(report.files):,} files, {rows:,} rows into {inbox or settings.inbox} "
        f"in {time.perf_counter() - started:.1f}s"
    )
    if config.dirty:
        click.echo(f"injected {len(report.injected)} defects (see docs/sources.md, 'Dirty data')")


def _check_systems(ctx, param, systems: tuple[str, ...]) -> tuple[str, ...]:
    known = sorted(load_contract().systems)
    unknown = [s for s in systems if s not in known]
    if unknown:
        raise click.BadParameter(f"unknown source system {unknown[0]!r}; the contract has: {', '.join(known)}")
    return systems


@click.command()
@click.option(
    "--system", "systems", multiple=True, callback=_check_systems, help="Only these source systems (default: all)."
)
def ingest(systems) -> None:
    """Load new, complete inbox files with dlt; exits 3 when a file was refused or
    a file in the inbox fits no export of the contract (misnamed, unknown folder)."""
    settings = load_cli_settings()
    with writing(settings, "ingest", creates=True):
        report = steps.ingest(settings, list(systems) or None)
    _echo_ingest(report)
    if report.needs_attention:
        sys.exit(exit_codes.REFUSED_INPUT)


def _echo_dbt(result: DbtResult) -> None:
    """dbt's counts, then each warned, failed or errored node by name with dbt's message."""
    click.echo("dbt build: " + (result.summary() or "nothing ran"))
    for line in result.problem_lines():
        click.secho(f"  {line}", fg="yellow" if line.startswith("WARN") else "red")


@click.command(context_settings={"ignore_unknown_options": True})
@click.option("--select", "-s", default=None, help="dbt selection, e.g. 'staging' or 'mart_member_360+'.")
@click.option("--exclude", default=None, help="dbt selection to leave out.")
@click.option("--full-refresh", is_flag=True, help="Rebuild incremental models from scratch.")
@click.option("--vars", "dbt_vars", default=None, help="dbt variables as YAML, e.g. '{as_of_date: 2026-06-30}'.")
@click.argument("dbt_extra", nargs=-1, type=click.UNPROCESSED, metavar="[-- DBT_ARGS...]")
def build(select, exclude, full_refresh, dbt_vars, dbt_extra) -> None:
    """Build and test the dbt project; `mallcrm build -- ARGS` passes ARGS on to `dbt build`.

    On a terminal dbt runs quietly behind a progress bar, then every warned or failed
    node is named; elsewhere (logs, CI) dbt prints its full log. A selection that
    matches nothing exits 1."""
    settings = load_cli_settings()
    args = (
        (["--select", select] if select else [])
        + (["--exclude", exclude] if exclude else [])
        + (["--full-refresh"] if full_refresh else [])
        + (["--vars", dbt_vars] if dbt_vars else [])
        + list(dbt_extra)
    )
    with writing(settings, "build"):
        try:
            result = steps.build(settings, args, quiet=on_terminal(), progress=on_terminal())
        except DbtUsageError as error:
            raise click.UsageError(str(error)) from None
    _echo_dbt(result)
    if result.success and not result.selected:
        raise click.ClickException(
            f"`dbt build {' '.join(args)}` selects no model, test, seed or snapshot: nothing was built"
        )
    if not result.success:
        raise click.ClickException("dbt build had failures (named above; dbt's log: dbt_project/logs/dbt.log)")


@click.command()
@click.option("--members", default=5000, show_default=True)
@click.option("--stores", default=60, show_default=True)
@click.option("--days", default=365, show_default=True)
def demo(members, stores, days) -> None:
    """Generate, ingest and build the demo mall end to end, then print what was built."""
    settings = load_cli_settings()
    started = time.perf_counter()
    if settings.engine == "spark":  # the same steps, with the marts built on the cluster
        _require_spark(settings)
    config = SimulationConfig(members=members, stores=stores, days=days)
    with writing(settings, "demo", creates=True), write_lock(settings, "mallcrm demo"):
        has_exports = settings.inbox.exists() and any(p.is_file() for p in settings.inbox.rglob("*"))
        if not has_exports:  # the last RESPONSE_DAYS days are the mall's answer to the audiences
            _generate(settings, config, days=range(0, max(1, days - RESPONSE_DAYS)))
        else:
            click.echo(f"inbox {settings.inbox} already holds exports: not generating again")
        click.echo("loading new exports with dlt ...")
        _echo_ingest(steps.ingest(settings))
        click.echo("building the dbt project (models, snapshots, data and unit tests) ...")
        result = steps.build(settings, quiet=True, progress=on_terminal())
        _echo_dbt(result)
        ok = result.success and _demo_ml(settings)
        if ok:
            ok = _demo_activation(settings, config)
        click.echo(layer_summary(settings))
        if ok:
            click.echo("publishing the BI copy and one file per role (privacy/policy.yml) ...")
            published = steps.publish(settings)
            click.echo(f"BI copy (management_bi role, DuckDB 1.4 storage, for BI tools): {published.bi_copy.path}")
            click.echo(f"role files ({', '.join(published.role_files)}): {settings.warehouse_dir / 'roles'}")
            if settings.postgres_dsn or postgres_server.status(settings).running:  # started for the delivery
                served = steps.publish_postgres(settings)
                click.echo(
                    f"PostgreSQL for BI tools: {served.address}, {len(served.tables)} marts, a login per role "
                    f"(passwords in {served.logins_file}; docs/bi-tools.md)"
                )
    click.echo(f"done in {time.perf_counter() - started:.0f}s")
    if not ok:
        raise click.ClickException("the demo stopped on a failure (named above)")
    click.echo("next:")
    for command, what in NEXT_COMMANDS:
        click.echo(f"  {command:<30} {what}")


# What a newcomer runs after the demo (README, "Other commands").
NEXT_COMMANDS = (
    ("make dashboard [PORT=8050]", "the management dashboards on http://127.0.0.1:8050"),
    ("make dev [PORT=3000]", "the Dagster UI (assets, lineage, checks) on http://127.0.0.1:3000"),
    ("mallcrm docs dbt --serve", "dbt's documentation of every model and column on http://127.0.0.1:8080"),
    ("mallcrm status", "every table with its row count"),
    ("mallcrm privacy audit-verify", "the audit log of publishes, purges and requests"),
)


# The demo holds back the window's last days and writes them after the audiences are
# exported: the simulated mall answers them, the loop closes (simulator/activation.py).
RESPONSE_DAYS = 21


def _demo_activation(settings: Settings, config: SimulationConfig) -> bool:
    """Build, gate and export every audience; deliver them to PostgreSQL when the server
    can run here; let the mall answer; load and build its answer; print the uplift."""
    click.echo("building, gating and exporting the audiences (audiences/*.yml) ...")
    steps.audiences_build(settings, command="mallcrm demo")
    try:
        exported = steps.audiences_export(settings, command="mallcrm demo")
    except ExportRefused as error:
        exported = error.summaries
        click.secho(str(error), fg="red")
    echo_exports(exported)
    dates = [date.fromisoformat(s.run_id.split("@")[1]) for s in exported if s.status == "exported"]
    if dates and (settings.postgres_dsn or postgres_server.binaries_installed()):
        try:
            postgres_server.up(settings)
            for report in steps.audiences_deliver(settings, dates):
                click.echo(report.describe())
        except postgres_server.PostgresServerError as error:
            click.echo(f"not delivered to PostgreSQL: {error}")
    elif dates:
        click.echo("not delivered to PostgreSQL: no server here (`make postgres-deps` installs Debian's)")
    last = config.start_date + timedelta(days=config.days - 1)
    if config.days > RESPONSE_DAYS and not any(settings.inbox.rglob(f"*_{last:%Y%m%d}.*")):
        click.echo(f"the mall answers: its last {RESPONSE_DAYS} days, with the exported campaigns ...")
        _generate(settings, config, days=range(config.days - RESPONSE_DAYS, config.days), respond=True)
        _echo_ingest(steps.ingest(settings))
        result = steps.build(settings, quiet=True, progress=on_terminal())
        _echo_dbt(result)
        if not result.success:
            return False
    for line in summary_lines(settings):
        click.echo(line)
    for line in uplift_lines(settings):
        click.echo(line)
    return True


def _require_spark(settings: Settings) -> None:
    """Engine spark: fail before generating anything when the Thrift server is not there."""
    try:
        with thrift_cursor(settings) as cursor:
            cursor.execute("select 1")
    except Exception as error:  # noqa: BLE001 - any driver or socket error: not reachable
        raise click.ClickException(
            f"MALLCRM_ENGINE=spark, but no Spark Thrift server answers on {settings.spark_host}:{settings.spark_port} "
            f"({type(error).__name__}); start the local cluster with `mallcrm spark up`"
        ) from None
    click.echo(f"engine spark: building on the Spark cluster at {settings.spark_host}:{settings.spark_port}")


def _demo_ml(settings: Settings) -> bool:
    """Train and score every model, then rebuild member 360 so it shows the scores."""
    click.echo(f"training and scoring {', '.join(MODEL_NAMES)} ...")
    model_started = time.perf_counter()
    # One model at a time behind a bar; the lines follow each bar, which they would garble.
    trained = [r for name in progress(MODEL_NAMES, "training", unit="model") for r in steps.train(settings, [name])]
    for result in trained:
        state = "promoted" if result.promoted else "not promoted"
        click.echo(f"  {result.version.model} {result.version.version}: {state} ({result.reason})")
    scored = [r for name in progress(MODEL_NAMES, "scoring", unit="model") for r in steps.score(settings, [name])]
    for score in scored:
        if score.model_version is not None:
            click.echo(f"  {score.model}: {score.rows:,} rows scored")
    click.echo(f"  model time (train + score): {time.perf_counter() - model_started:.1f}s")
    rows = steps.complaint_root_causes(settings)
    click.echo(f"  complaint root causes: {rows:,} rows (ml_scores.complaint_root_causes)")
    refreshed = steps.refresh_after_scoring(settings, progress=on_terminal())
    if not refreshed.success:
        _echo_dbt(refreshed)
    return refreshed.success


def _dagster_home(settings: Settings) -> Path:
    """DAGSTER_HOME, created, with the project's dagster.yaml linked into it (Dagster reads
    its instance settings there only); an instance folder with its own dagster.yaml keeps it."""
    home = settings.dagster_home.resolve()
    home.mkdir(parents=True, exist_ok=True)
    instance_yaml = home / "dagster.yaml"
    if instance_yaml.is_symlink() and not instance_yaml.exists():  # left dangling by a moved checkout
        instance_yaml.unlink()
    if not instance_yaml.exists():
        instance_yaml.symlink_to(PROJECT_ROOT / "dagster.yaml")
    return home


@click.command()
@click.option(
    "--port",
    type=click.IntRange(1, 65535),
    default=3000,
    show_default=True,
    envvar="PORT",
    show_envvar=True,
    help="Port of the Dagster UI.",
)
def dev(port) -> None:
    """Start the Dagster UI on 127.0.0.1 (Ctrl-C stops it).

    Schedules and sensors start stopped: turn them on in the UI, or see MALLCRM_AUTOMATION
    in docs/operations.md."""
    settings = load_cli_settings()
    dg_executable = Path(sys.executable).parent / "dg"  # dagster-dg-cli, pinned in pyproject.toml
    if not dg_executable.exists():
        raise click.ClickException(f"{dg_executable} not found: install the pinned environment (make dev) first")
    home = _dagster_home(settings)
    # `dg dev` with the module as its target is `dagster dev` without its supersession
    # warning. It runs in DAGSTER_HOME, not the project root: Dagster warns about a
    # dagster.yaml in its working folder that is not the instance's; -d puts the project
    # on the code server's import path. Its own process group, signals forwarded: started
    # from a shell in the background, it would otherwise ignore SIGTERM.
    cmd = [
        str(dg_executable),
        "dev",
        "-h",
        "127.0.0.1",
        "-p",
        str(port),
        "-m",
        "orchestration.definitions",
        "-d",
        str(PROJECT_ROOT),
    ]
    env = {**child_environment(settings), "DAGSTER_HOME": str(home)}  # resolved, as Dagster compares it
    proc = subprocess.Popen(cmd, cwd=home, env=env, start_new_session=True)

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


@click.command("publish-bi")
def publish_bi() -> None:
    """Write the marts into a DuckDB file that BI tools with DuckDB 1.4 can open."""
    settings = load_cli_settings()
    with writing(settings, "publish-bi"):
        copy = steps.publish_bi(settings)
    click.echo(f"wrote {len(copy.tables)} tables to {copy.path} (storage version {BI_STORAGE_VERSION})")


@click.command("publish-roles")
def publish_roles() -> None:
    """Write one DuckDB file per role with only what privacy/policy.yml lets it see."""
    settings = load_cli_settings()
    with writing(settings, "publish-roles"):
        files = steps.publish_roles(settings)
    for role, f in files.items():
        click.echo(f"{role:<18} {len(f.tables)} tables -> {f.path}")


@click.group()
def docs() -> None:
    """Generate documentation from the code."""


@docs.command("sources")
@click.option("--check", is_flag=True, help="Fail if docs/sources.md is out of date.")
def docs_sources(check) -> None:
    """Write docs/sources.md from ingestion/export_formats.yml."""
    path = PROJECT_ROOT / "docs" / "sources.md"
    text = render_sources_doc()
    if check:
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            raise click.ClickException("docs/sources.md is out of date: run `mallcrm docs sources`")
        click.echo("docs/sources.md is up to date")
        return
    path.write_text(text, encoding="utf-8")
    click.echo(f"wrote {path}")


@docs.command("dbt")
@click.option("--serve", is_flag=True, help="Then serve them on http://127.0.0.1:PORT (Ctrl-C stops).")
@click.option("--port", default=8080, show_default=True, type=click.IntRange(1024, 65535))
def docs_dbt(serve, port) -> None:
    """dbt's documentation of every model, column and test, with the warehouse's catalog:
    one static HTML file (dbt docs generate --static), served with --serve."""
    settings = load_cli_settings()
    result = run_dbt(["docs", "generate", "--static"], settings, quiet=on_terminal(), progress=on_terminal())
    if not result.success:
        raise click.ClickException("dbt docs generate failed (dbt's log: dbt_project/logs/dbt.log)")
    click.echo(f"wrote {manifest_path(settings).parent / 'static_index.html'} (one file: open it in a browser)")
    if serve:
        click.echo(f"dbt docs on http://127.0.0.1:{port}/ (Ctrl-C stops)")
        run_dbt(["docs", "serve", "--host", "127.0.0.1", "--port", str(port), "--no-browser"], settings, quiet=True)


@click.command()
@click.option("--json", "as_json", is_flag=True, help="As JSON: {schema: {table: rows}}.")
def status(as_json) -> None:
    """Every table of the warehouse with its row count, per schema."""
    settings = load_cli_settings()
    click.echo(json.dumps(table_counts(settings), indent=2) if as_json else warehouse_listing(settings))


COMMANDS = (generate, ingest, build, demo, dev, publish_bi, publish_roles, docs, status)
