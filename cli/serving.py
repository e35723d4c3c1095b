"""`mallcrm publish-postgres`: the marts into PostgreSQL for BI tools (serving/, docs/bi-tools.md)."""

from __future__ import annotations

import click

from cli import exit_codes
from cli.common import BusyError, writing
from cli.common import settings as load_cli_settings
from pipeline import steps
from serving.load import LoadError
from serving.publish import ServingBusy, ServingUnavailable


class PublishFailed(click.ClickException):
    exit_code = exit_codes.FAILED


@click.command("publish-postgres")
def publish_postgres() -> None:
    """Publish the marts to PostgreSQL: a login per policy role (one per store for
    store_operations), GRANTs, row-level security, dbt docs as comments, metric views.

    Uses the local server (`mallcrm postgres up`) or MALLCRM_POSTGRES_DSN. Exit 1 when no
    server is reachable or a mart cannot be loaded, 75 when another publish is running."""
    settings = load_cli_settings()
    if not settings.warehouse.exists():
        raise PublishFailed(f"no warehouse at {settings.warehouse}: run `mallcrm demo` or ingest and build first")
    try:
        with writing(settings, "publish-postgres"):
            report = steps.publish_postgres(settings)
    except ServingBusy as error:
        raise BusyError(str(error)) from None
    except (ServingUnavailable, LoadError) as error:
        raise PublishFailed(str(error)) from None
    click.echo(report.describe())
