"""`mallcrm dashboard`: serve the dashboards on 127.0.0.1, read-only."""

from __future__ import annotations

from pathlib import Path

import click

from cli.common import settings as load_cli_settings
from dashboard.app import create_app
from privacy.bi_copy import bi_copy_path
from privacy.policy import load_policy
from privacy.publish import role_file_path


@click.command("dashboard")
@click.option(
    "--db",
    "db_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="DuckDB file to read (default: the BI copy written by `mallcrm publish-bi`).",
)
@click.option("--role", help="Open a role file instead, e.g. management_bi (warehouse/roles/<role>.duckdb).")
@click.option("--port", default=8050, show_default=True, type=click.IntRange(1024, 65535))
def dashboard(db_path: Path | None, role: str | None, port: int) -> None:
    """Serve the mall's dashboards on http://127.0.0.1:PORT (lifecycle, basket, traffic, campaigns,
    RFM, loyalty, NPS and complaints)."""

    settings = load_cli_settings()
    if db_path and role:
        raise click.UsageError("use either --db or --role")
    if role:
        roles = load_policy()["roles"]
        if role not in roles:
            raise click.UsageError(f"unknown role {role!r}; the policy declares: {', '.join(sorted(roles))}")
        db_path = role_file_path(settings, role)
    db_path = db_path or bi_copy_path(settings)
    try:
        app = create_app(db_path)
    except FileNotFoundError as error:
        raise click.ClickException(str(error)) from error
    click.echo(f"dashboards on http://127.0.0.1:{port}/  (reading {db_path}, read-only; Ctrl-C stops)")
    app.run(host="127.0.0.1", port=port, debug=False)
