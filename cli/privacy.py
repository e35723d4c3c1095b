"""`mallcrm privacy ...`: retention purge, data-subject requests, audit chain, report."""

from __future__ import annotations

import sys
from datetime import date

import click

from cli import exit_codes
from cli.common import settings as load_cli_settings
from cli.common import writing
from mallcrm.core.warehouse import require_warehouse
from pipeline import steps
from privacy.audit import KEY_ENV, chain_summary, check_anchor, log_path, seal, verify
from privacy.report import write_report
from privacy.requests import list_requests, read_inbox
from privacy.suppression import KEY_VERSION, SuppressionKeyError, list_path, load_entries, load_matchers
from serving import access_log


@click.group()
def privacy() -> None:
    """Retention, data-subject requests, audit log and compliance report (privacy/policy.yml)."""


@privacy.command()
@click.option("--dry-run", is_flag=True, help="Only count what would be purged.")
@click.option(
    "--as-of",
    "as_of",
    default=None,
    help="Purge as of this day (YYYY-MM-DD; default: the warehouse's as-of day, MALLCRM_QUALITY_AS_OF, else the "
    "day after the latest business day loaded).",
)
@click.option("--no-rebuild", is_flag=True, help="Do not rebuild the dbt tables afterwards.")
def purge(dry_run, as_of, no_rebuild) -> None:
    """Apply the policy's retention periods to every table (counts go to the audit log)."""
    try:
        day = date.fromisoformat(as_of) if as_of else None
    except ValueError:
        raise click.BadParameter(f"{as_of!r} is not a date (YYYY-MM-DD)", param_hint="--as-of") from None
    settings = load_cli_settings()
    with writing(settings, "privacy purge"):
        result = steps.purge(settings, as_of=day, dry_run=dry_run, rebuild=not no_rebuild)
    verb = "would purge" if dry_run else "purged"
    resumed = " (finished a purge a killed run had started)" if result.resumed else ""
    click.echo(f"retention as of {result.as_of}: {verb} {result.affected:,} row(s){resumed}")
    for label, t in result.tables.items():
        if t["expired"]:
            after = "" if dry_run else f" -> {t['rows_after']:,} rows"
            click.echo(f"  {label:<45} {t['expiry']:<9} {t['expired']:>8,} of {t['rows_before']:,}{after}")
    if not dry_run and not result.finished:
        raise click.ClickException(
            "dbt rebuild after the purge failed (see the log above); run `mallcrm privacy purge` again to finish it"
        )


@privacy.command()
@click.option("--process", is_flag=True, help="Act on the requests waiting in the inbox first.")
def requests(process) -> None:
    """List data-subject requests with their deadlines (and process the inbox with --process)."""
    settings = load_cli_settings()
    problems: list[str]
    if process:
        with writing(settings, "privacy requests --process"):
            done, problems = steps.process_requests(settings)
        for d in done:
            answer = f" ({d['answer']})" if d.get("answer") else ""
            click.echo(f"processed {d['request_id']} ({d['type']}): {d['status']}{answer}")
    else:
        _, problems = read_inbox(settings.requests_path)
    rows = list_requests(settings)
    click.echo(f"{'request':<20} {'type':<19} {'law':<5} {'received':<10} {'deadline':<10} {'status':<7} days left")
    for r in rows:
        left = "" if r["days_left"] is None else str(r["days_left"])
        flag = "  OVERDUE" if r["overdue"] else ""
        click.echo(
            f"{r['request_id']:<20} {r['request_type']:<19} {r['jurisdiction']:<5} {r['received_on']!s:<10} "
            f"{r['deadline']!s:<10} {r['status']:<7} {left}{flag}"
        )
    for p in problems:
        click.secho(f"  problem: {p}", fg="red")
    if problems:
        sys.exit(exit_codes.REFUSED_INPUT)


@privacy.command("audit-verify")
@click.option(
    "--anchor",
    default=None,
    metavar="COUNT:HASH",
    help="Also check a signed head kept from an earlier compliance report (entries, head hash).",
)
def audit_verify(anchor) -> None:
    """Verify the keyed chain of the audit log and its signed head; exit 1 naming every problem."""

    settings = load_cli_settings()
    problems = [str(p) for p in verify(settings)]
    if anchor:
        count, _, head_hash = anchor.partition(":")
        if not count.isdigit() or len(head_hash) != 64:
            raise click.BadParameter(f"{anchor!r} is not COUNT:HASH", param_hint="--anchor")
        problems += [f"earlier head ({count} entries): {m}" for m in check_anchor(settings, int(count), head_hash)]
    if problems:
        for p in problems:
            click.secho(f"TAMPERED {p}", fg="red")
        sys.exit(1)
    s = chain_summary(settings)
    click.echo(
        f"audit log intact: {s['entries']} entries ({log_path(settings)}); {s['keyed']} keyed (HMAC-SHA256, "
        f"audit key {s['key_fingerprint']}), {s['unkeyed']} older sha256-only"
    )
    head = s["head"]
    if head:
        click.echo(f"signed head: {head['count']} entries, head hash {head['head_hash']}, hmac {head['hmac']}")
    if s["head_lag"] == 1:
        click.echo("note: the head lags the log by one entry (an interrupted append); the next entry moves it")
    if s["demo_key"]:
        click.secho(f"WARNING: {KEY_ENV} is unset: the chain is keyed with the public DEMO key", fg="yellow")


@privacy.command("audit-seal")
@click.option(
    "--reanchor",
    is_flag=True,
    help="After investigating a head problem: record it in the log and move the signed head onto the log.",
)
def audit_seal(reanchor) -> None:
    """Append a keyed entry after older entries (once, after upgrading), writing the signed head."""

    entry = seal(load_cli_settings(), reanchor=reanchor)
    if entry is None:
        click.echo(
            "the signed head already agrees with the log" if reanchor else "audit log already ends with a keyed entry"
        )
    else:
        click.echo(f"{'re-anchored' if reanchor else 'sealed'}: entry {entry['seq']}")


@privacy.command("suppression-check")
def suppression_check() -> None:
    """Check the suppression list can be matched with the keys at hand; exit 1 saying why not."""

    settings = load_cli_settings()
    try:
        matchers = load_matchers(settings)
    except SuppressionKeyError as error:
        click.secho(f"SUPPRESSION LIST UNUSABLE: {error}", fg="red")
        sys.exit(1)
    click.echo(f"suppression list: {len(load_entries(settings))} entries ({list_path(settings)})")
    for key, listed in matchers:
        kind = "suppression key" if key.version == KEY_VERSION else f"masking key {key.version} (older entries)"
        demo = ", PUBLIC DEMO KEY" if key.is_demo else ""
        click.echo(f"  {len(listed)} token(s) matched under the {kind}, fingerprint {key.fingerprint}{demo}")


@privacy.command()
def report() -> None:
    """Write the compliance report (HTML and Markdown)."""

    settings = load_cli_settings()
    require_warehouse(settings)  # before the report's audit entry: nothing is written without a warehouse
    html_path, md_path = write_report(settings, access_log=access_log.markdown(access_log.summarize(settings)))
    click.echo(f"wrote {html_path}\nwrote {md_path}")


@click.command("compliance-report")
def compliance_report() -> None:
    """Write the compliance report (HTML and Markdown); same as `mallcrm privacy report`."""
    report.callback()
