"""`mallcrm audiences build|export|status|render`: audiences leave the warehouse, gated.

build    every due audience of audiences/*.yml: definition -> gates -> holdout -> ledger
export   check every gate again, write the files into the outbox (--deliver: and into
         PostgreSQL for the marketing tool); exit 1 when a run was refused
status   the newest run of each audience: size, held out, excluded by each gate
render   compile audiences/*.yml into their dbt models (--check: exit 1 when stale)

See docs/activation.md.
"""

from __future__ import annotations

import sys
from datetime import date

import click

from activation import render as audience_render
from activation.build import AudienceNotBuilt
from activation.export import ContactsNotAllowed, ExportRefused, ExportSummary
from activation.gates import GATES
from activation.spec import SpecError
from activation.status import latest_runs
from cli import exit_codes
from cli.common import settings as load_cli_settings
from cli.common import writing
from mallcrm.core.settings import Settings
from mallcrm.core.warehouse import connect, relation_exists
from pipeline import steps
from postgres import server as postgres_server

GATE_ABBREVIATIONS = {
    "consent": "consent",
    "minor": "minor",
    "erased": "erased",
    "open_complaint": "complaint",
    "frequency_cap": "cap",
}


def _date(ctx, param, value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a date (YYYY-MM-DD)") from None


def summary_lines(settings: Settings) -> list[str]:
    """One line per audience: its newest run's size, hold-out and exclusions per gate."""
    rows = latest_runs(settings)
    if not rows:
        return ["no audience has been built yet (`mallcrm audiences build`)"]
    gates = "  ".join(f"{GATE_ABBREVIATIONS[g]:>9}" for g in GATES)
    out = [
        f"{'audience':<28} {'channel':<8} {'run date':<10} {'status':<9} {'candidates':>10} {'contact':>7} "
        f"{'held out':>8}  excluded: {gates}"
    ]
    for r in rows:
        excluded = "  ".join(f"{r[f'excluded_{g}']:>9,}" for g in GATES)
        out.append(
            f"{r['audience']:<28} {r['channel']:<8} {r['run_date']!s:<10} {r['status']:<9} {r['candidates']:>10,} "
            f"{r['treatment']:>7,} {r['control']:>8,}            {excluded}"
        )
    return out


def uplift_lines(settings: Settings) -> list[str]:
    """The measured uplift of every activation the marketing system has reported back."""
    con = connect(settings)
    try:
        if not relation_exists(con, "marts.mart_audience_runs"):
            return []
        rows = con.execute(
            """
            select run_id, treatment_conversion_rate, control_conversion_rate, conversion_uplift,
                conversion_uplift_ci_low, conversion_uplift_ci_high, conversion_p_value, has_sample_ratio_mismatch
            from marts.mart_audience_runs where is_measured order by run_date, run_id"""
        ).fetchall()
    finally:
        con.close()
    out = ["measured activations (treatment vs control conversion, uplift with 95% interval):"] if rows else []
    for run_id, treated, control, uplift, low, high, p_value, srm in rows:
        # an arm without members (a tiny audience's empty holdout) leaves its figures unknown
        p_text = "n/a" if p_value is None else f"{p_value:.3g}"
        out.append(
            f"  {run_id:<42} {_rate(treated)} vs {_rate(control)}  uplift {_rate(uplift, '+')} "
            f"[{_rate(low, '+')}, {_rate(high, '+')}]  p={p_text}{'  SAMPLE RATIO MISMATCH' if srm else ''}"
        )
    return out


def _rate(value: float | None, sign: str = "") -> str:
    return f"{'n/a':>6}" if value is None else f"{value:{sign}6.1%}"


def echo_exports(summaries: list[ExportSummary]) -> None:
    for s in summaries:
        if s.status == "exported":
            click.echo(f"  exported  {s.run_id}: {s.rows:,} to contact, {s.held_out:,} held out")
        else:
            failed = ", ".join(f"{g} {c}" for g, c in s.violations.items() if c)
            click.secho(f"  REFUSED   {s.run_id}: {failed}", fg="red", bold=True)


@click.group("audiences")
def audiences() -> None:
    """Build, gate, export and inspect the audiences of audiences/*.yml (docs/activation.md)."""


@audiences.command("build")
@click.option("--date", "run_date", callback=_date, help="Run date (default: member 360's as-of date).")
@click.option("--audience", "names", multiple=True, help="Only these audiences (default: every due one).")
def build(run_date, names) -> None:
    """Build every due audience: its dbt model, minus the gates' exclusions, split by the holdout hash."""
    settings = load_cli_settings()
    try:
        with writing(settings, "audiences build"):
            runs = steps.audiences_build(settings, run_date, list(names) or None)
    except (AudienceNotBuilt, SpecError, ValueError) as error:
        raise click.ClickException(str(error)) from None
    for r in runs:
        if r.status == "built":
            excluded = ", ".join(f"{g} {n:,}" for g, n in r.excluded.items() if n) or "none"
            click.echo(
                f"  built     {r.run_id}: {r.candidates:,} candidates, {r.treatment:,} treatment, "
                f"{r.control:,} control; excluded {excluded}"
            )
        else:
            click.echo(f"  {r.status:<9} {r.run_id}")


@audiences.command("export")
@click.option("--date", "run_date", callback=_date, help="Only the runs of this date (default: every built run).")
@click.option("--audience", "names", multiple=True, help="Only these audiences.")
@click.option(
    "--contacts",
    is_flag=True,
    help="Add the channel's contact in clear, only where privacy/policy.yml grants it to the marketing role.",
)
@click.option("--deliver", is_flag=True, help="Also load the exports into PostgreSQL (dlt) for the marketing tool.")
def export(run_date, names, contacts, deliver) -> None:
    """Check every gate again and write each built audience's files into the outbox."""
    settings = load_cli_settings()
    refused = None
    try:
        with writing(settings, "audiences export"):
            summaries = steps.audiences_export(settings, run_date, contacts, list(names) or None)
    except ExportRefused as error:
        summaries, refused = error.summaries, error
    except ContactsNotAllowed as error:
        raise click.ClickException(str(error)) from None
    echo_exports(summaries)
    click.echo(f"files and manifest: {settings.outbox / 'audiences'}")
    if deliver:
        dates = [date.fromisoformat(s.run_id.split("@")[1]) for s in summaries if s.status == "exported"]
        try:
            if dates:
                postgres_server.up(settings)
            for report in steps.audiences_deliver(settings, dates):
                click.echo(report.describe())
        except postgres_server.PostgresServerError as error:
            raise click.ClickException(f"not delivered: {error}") from None
    if refused is not None:
        click.secho(str(refused), fg="red", err=True)
        sys.exit(exit_codes.FAILED)


@audiences.command("status")
def status() -> None:
    """The newest run of each audience: size, held out, excluded by each gate, export status."""
    for line in summary_lines(load_cli_settings()):
        click.echo(line)


@audiences.command("render")
@click.option("--check", is_flag=True, help="Exit 1 when a generated dbt model is out of date.")
def render(check) -> None:
    """Compile audiences/*.yml into the dbt models dbt_project/models/audiences/aud_*."""
    sys.exit(audience_render.main(["--check"] if check else []))
