"""`mallcrm dashboard`: serve the dashboards on 127.0.0.1, read-only.

The dashboards read a role file, never the warehouse: by default the management_bi
role's output (warehouse/roles/management_bi.duckdb, or the BI copy, which holds the same
role's marts in DuckDB 1.4 storage, when no role files were published). They are served
by waitress, a production WSGI server (pure Python, no C build, runs on Linux, macOS and
Windows), not by Flask's development server."""

from __future__ import annotations

from pathlib import Path

import click
import waitress

from cli.common import settings as load_cli_settings
from dashboard.app import create_app
from privacy.bi_copy import BI_ROLE, bi_copy_path
from privacy.policy import load_policy
from privacy.publish import role_file_path, store_scope


@click.command("dashboard")
@click.option(
    "--db",
    "db_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="DuckDB file to read (default: the management_bi role file, else the BI copy of `mallcrm publish-bi`).",
)
@click.option(
    "--role",
    help=f"Open this role's file instead of {BI_ROLE}'s (warehouse/roles/<role>.duckdb).",
)
@click.option("--store", help="The store whose file to open, for a role scoped per store (store_operations).")
@click.option(
    "--port",
    envvar="PORT",
    default=8050,
    show_default=True,
    type=click.IntRange(1024, 65535),
    help="Port on 127.0.0.1 (or the environment's PORT, as `make dashboard PORT=8051` passes it).",
)
@click.option("--threads", default=4, show_default=True, type=click.IntRange(1, 64), help="waitress worker threads.")
def dashboard(db_path: Path | None, role: str | None, store: str | None, port: int, threads: int) -> None:
    """Serve the mall's dashboards on http://127.0.0.1:PORT (lifecycle, basket, traffic, campaigns,
    audiences, RFM, loyalty, NPS and complaints)."""

    settings = load_cli_settings()
    if db_path and (role or store):
        raise click.UsageError("use either --db or --role/--store")
    policy = load_policy()
    if role or store:
        role = role or BI_ROLE
        roles = policy["roles"]
        if role not in roles:
            raise click.UsageError(f"unknown role {role!r}; the policy declares: {', '.join(sorted(roles))}")
        scoped = store_scope(policy, role) is not None
        if scoped and not store:
            raise click.UsageError(f"role {role} is scoped per store: give --store")
        if store and not scoped:
            raise click.UsageError(f"role {role} is not scoped per store: drop --store")
        try:
            db_path = role_file_path(settings, role, store)
        except ValueError as error:
            raise click.UsageError(str(error)) from error
    if role or store:
        source = f"role {role}" + (f", store {store}" if store else "") + " 角色文件"
    elif db_path is not None:
        source = f"file {db_path.name}"
    else:
        db_path, source = role_file_path(settings, BI_ROLE), f"role {BI_ROLE} 角色文件"
        if not db_path.exists():
            db_path, source = bi_copy_path(settings), f"BI copy of role {BI_ROLE} BI副本"
    try:
        app = create_app(db_path, source)
    except FileNotFoundError as error:
        raise click.ClickException(str(error)) from error
    click.echo(f"dashboards on http://127.0.0.1:{port}/  (reading {db_path}: {source}, read-only; Ctrl-C stops)")
    waitress.serve(app.server, host="127.0.0.1", port=port, threads=threads, ident="mallcrm-dashboard")
