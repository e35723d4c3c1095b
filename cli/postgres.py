"""`mallcrm postgres up|down|status`: the local PostgreSQL server audiences are delivered to.

With MALLCRM_POSTGRES_DSN set, the project uses that server instead and starts nothing."""

from __future__ import annotations

import click

from cli.common import settings as load_cli_settings
from postgres import server


@click.group("postgres")
def postgres() -> None:
    """Start, stop or show the local PostgreSQL server (127.0.0.1, MALLCRM_POSTGRES_PORT)."""


@postgres.command("up")
def up() -> None:
    """Create (first time) and start the server; a running one is left alone."""
    try:
        click.echo(server.up(load_cli_settings()).describe())
    except server.PostgresServerError as error:
        raise click.ClickException(str(error)) from None


@postgres.command("down")
def down() -> None:
    """Stop the server; its data stays."""
    click.echo(server.down(load_cli_settings()).describe())


@postgres.command("status")
def status() -> None:
    """Running or not, and where."""
    click.echo(server.status(load_cli_settings()).describe())
