"""Publish the marts to PostgreSQL for BI tools: `publish_postgres(settings) -> PublishReport`
(`mallcrm publish-postgres`, the Dagster asset `serving/postgres`, pipeline.steps.publish_postgres).

Crash-safe, in two phases:

1. Load: every mart is copied (serving/load.py) into a fresh schema `marts__load_<id>`,
   committed. Readers see nothing of it. A publish killed here leaves that schema
   behind; the next publish drops it first.
2. Swap, one transaction: `marts` is renamed away and dropped (with the policies and
   metric views on it), the new schema renamed to `marts`, then `serving_access` (the
   row-security lists), the roles and logins, GRANTs, row-level security, the dbt docs as
   comments and one view per dbt metric are created. Readers see the old marts until
   the commit and the new ones, complete, after it; a failure rolls all of it back.

Re-running gives the same end state: tables, grants and policies are rebuilt, roles and
logins are created only when missing (serving/grants.py). One publish at a time per
database (an advisory lock; a second one is refused, `ServingBusy`).

Connects as the local server's superuser (credentials.json, postgres/server.py) or as
the user of MALLCRM_POSTGRES_DSN, which must be able to create roles and schemas.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg2
from psycopg2 import sql
from psycopg2.extensions import parse_dsn

from mallcrm.core.dbt import load_manifest
from mallcrm.core.settings import Settings
from mallcrm.core.warehouse import connect
from postgres import server
from privacy.audit import record
from privacy.policy import load_policy
from privacy.publish import SCHEMA as MARTS
from privacy.publish import _stores, store_scope
from semantic.comments import comment_statements
from semantic.docs import docs_from_manifest
from semantic.metrics import DEFINITIONS, create_metric_views, metrics_from_manifest
from semantic.metrics import SCHEMA as METRICS
from serving import grants, row_security
from serving.load import copy_table, mart_types

LOAD_PREFIX = "marts__load_"
OLD_PREFIX = "marts__old_"
LOCK_KEY = 0x6D616C6C  # pg advisory lock of the serving publish ("mall")
SWAP_LOCK_TIMEOUT = "60s"  # how long the swap waits for readers' locks before giving up


class ServingUnavailable(RuntimeError):
    """No PostgreSQL to publish to (none configured, or not running)."""


class ServingBusy(RuntimeError):
    """Another publish to the same database is running."""


@dataclass
class PublishReport:
    address: str  # host:port/database, never a password
    tables: dict[str, int]  # "marts.table" -> rows
    roles: dict[str, dict[str, Any]]  # policy role -> {"db_role", "tables", "logins"}
    access_rows: dict[str, int]
    metric_views: list[str]
    comments: int
    logins_file: Path
    seconds: float
    notes: list[str] = field(default_factory=list)

    def describe(self) -> str:
        lines = [
            f"published {len(self.tables)} mart(s), {sum(self.tables.values()):,} rows, to {self.address} "
            f"in {self.seconds:.1f} s: {len(self.metric_views)} metric view(s), {self.comments} comment(s)"
        ]
        for role, info in self.roles.items():
            logins = info["logins"]
            shown = ", ".join(logins[:3]) + (f", ... ({len(logins)} logins)" if len(logins) > 3 else "")
            lines.append(f"  {role:<17} {info['tables']:>3} table(s)  login {shown}")
        lines.append(f"  passwords of the logins: {self.logins_file} (mode 0600)")
        lines += [f"  note: {n}" for n in self.notes]
        return "\n".join(lines)


def admin_dsn(settings: Settings) -> str:
    """MALLCRM_POSTGRES_DSN, or the local server's superuser; ServingUnavailable when the
    local server is not running."""
    if settings.postgres_dsn:
        return settings.postgres_dsn
    state = server.status(settings)
    if not state.running:
        raise ServingUnavailable(
            f"the local PostgreSQL server ({state.address}) is not running: start it with "
            "`mallcrm postgres up` (make pg-up), or set MALLCRM_POSTGRES_DSN to an existing server"
        )
    return server.superuser_dsn(settings)  # the superuser: roles, grants and row security need it


def address(dsn_text: str) -> str:
    parts = parse_dsn(dsn_text)
    return f"{parts.get('host', 'localhost')}:{parts.get('port', '5432')}/{parts.get('dbname', '')}"


def _drop_leftovers(cur) -> list[str]:
    cur.execute(
        "SELECT nspname FROM pg_namespace WHERE nspname LIKE %s OR nspname LIKE %s ORDER BY 1",
        (LOAD_PREFIX.replace("_", r"\_") + "%", OLD_PREFIX.replace("_", r"\_") + "%"),
    )
    names = [r[0] for r in cur.fetchall()]
    for name in names:
        cur.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(name)))
    return names


def _schema_exists(cur, name: str) -> bool:
    cur.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", (name,))
    return cur.fetchone() is not None


def publish_postgres(settings: Settings, policy: dict | None = None) -> PublishReport:
    """Load the marts into PostgreSQL and swap them in with roles, grants, RLS, comments
    and metric views (see the module docstring)."""
    started = time.monotonic()
    policy = load_policy() if policy is None else policy
    dsn_text = admin_dsn(settings)
    try:
        conn = psycopg2.connect(dsn_text, connect_timeout=10)
    except psycopg2.OperationalError as error:
        reason = (str(error).strip().splitlines() or ["refused"])[0]
        raise ServingUnavailable(f"cannot connect to PostgreSQL at {address(dsn_text)}: {reason}") from None
    duck = connect(settings)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT pg_try_advisory_lock(%s)", (LOCK_KEY,))
            if not cur.fetchone()[0]:
                raise ServingBusy(f"another publish to {address(dsn_text)} is running; run again when it ends")
        try:
            return _publish(settings, policy, conn, duck, dsn_text, started)
        finally:
            conn.rollback()
            with conn.cursor() as cur:
                cur.execute("SELECT pg_advisory_unlock(%s)", (LOCK_KEY,))
            conn.commit()
    finally:
        duck.close()
        conn.close()


@dataclass(frozen=True)
class _Plan:
    """Everything decided before PostgreSQL is touched (a broken manifest fails first)."""

    types: dict[str, list[tuple[str, str]]]  # mart -> [(column, DuckDB type)]
    marts: dict[str, list[str]]
    access: dict[str, grants.RoleAccess]
    filters: dict[str, str]  # policy role -> its member rule (DuckDB SQL)
    scopes: dict[str, dict]  # store-scoped policy role -> its scope
    metrics: dict
    docs: dict


def _plan(settings: Settings, policy: dict, duck) -> _Plan:
    types = mart_types(duck, MARTS)
    marts = {table: [c for c, _ in columns] for table, columns in types.items()}
    if not marts:
        raise ServingUnavailable(f"the warehouse {settings.warehouse} has no marts: run `mallcrm build` first")
    roles = list(policy.get("roles") or {})
    scopes = {r: s for r in roles if (s := store_scope(policy, r)) is not None}
    access = grants.access_plan(policy, marts, _stores(duck) if scopes else [])
    filters = row_security.member_filters(duck, policy, roles)
    manifest = load_manifest(settings)  # read once: metrics and docs from the same parse
    return _Plan(types, marts, access, filters, scopes, metrics_from_manifest(manifest), docs_from_manifest(manifest))


def _publish(settings: Settings, policy: dict, conn, duck, dsn_text: str, started: float) -> PublishReport:
    notes = []
    with conn, conn.cursor() as cur:
        left = _drop_leftovers(cur)
        if left:
            notes.append(f"dropped what a killed publish left: {', '.join(left)}")
    plan = _plan(settings, policy, duck)
    load_schema = f"{LOAD_PREFIX}{uuid.uuid4().hex[:12]}"
    rows = {}
    try:
        with conn, conn.cursor() as cur:  # phase 1: load, committed, invisible to readers
            cur.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(load_schema)))
            for table, columns in plan.types.items():
                rows[f"{MARTS}.{table}"] = copy_table(duck, cur, f'{MARTS}."{table}"', columns, load_schema, table)
                cur.execute(sql.SQL("ANALYZE {}").format(sql.Identifier(load_schema, table)))
        with conn, conn.cursor() as cur:  # phase 2: the swap, one transaction
            access_rows, views, comments = _swap(settings, cur, duck, load_schema, plan, notes)
    except Exception:
        conn.rollback()
        with conn, conn.cursor() as cur:  # a failed publish leaves nothing (a killed one: the next drops it)
            cur.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(load_schema)))
        raise
    report = PublishReport(
        address=address(dsn_text),
        tables=rows,
        roles={
            r: {"db_role": a.db_role, "tables": len(a.tables), "logins": sorted(a.logins)}
            for r, a in plan.access.items()
        },
        access_rows=access_rows,
        metric_views=views,
        comments=comments,
        logins_file=grants.logins_path(settings),
        seconds=time.monotonic() - started,
        notes=notes,
    )
    record(
        settings,
        "publish_postgres",
        report.address,
        {
            "tables": rows,
            "roles": {r: {"tables": i["tables"], "logins": len(i["logins"])} for r, i in report.roles.items()},
            "metric_views": len(views),
        },
    )
    return report


def _swap(settings: Settings, cur, duck, load_schema: str, plan: _Plan, notes: list[str]):
    """Phase 2 inside the caller's transaction: (access rows, metric views, comments)."""
    cur.execute(sql.SQL("SET LOCAL lock_timeout = {}").format(sql.Literal(SWAP_LOCK_TIMEOUT)))
    notes += grants.ensure_roles(cur, settings, plan.access)
    if _schema_exists(cur, MARTS):
        old = f"{OLD_PREFIX}{uuid.uuid4().hex[:12]}"
        cur.execute(sql.SQL("ALTER SCHEMA {} RENAME TO {}").format(sql.Identifier(MARTS), sql.Identifier(old)))
        cur.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(old)))
    for schema in (row_security.ACCESS_SCHEMA, METRICS):
        cur.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))
    cur.execute(sql.SQL("ALTER SCHEMA {} RENAME TO {}").format(sql.Identifier(load_schema), sql.Identifier(MARTS)))
    store_logins = {
        login: store for a in plan.access.values() for login, store in a.logins.items() if store is not None
    }
    db_roles = {role: a.db_role for role, a in plan.access.items()}
    access_rows = row_security.load_access_tables(duck, cur, plan.filters, db_roles, plan.marts, store_logins)
    documented = {f"{MARTS}.{t}": cols for t, cols in plan.marts.items()}
    views = create_metric_views(cur, "postgres", documented, plan.metrics)
    for statement in grants.grant_statements(plan.access, plan.marts, [MARTS, METRICS, row_security.ACCESS_SCHEMA]):
        cur.execute(statement)
    for a in plan.access.values():
        for table in (row_security.MEMBER_ACCESS, row_security.STORE_ACCESS):
            target = sql.Identifier(row_security.ACCESS_SCHEMA, table)
            cur.execute(sql.SQL("GRANT SELECT ON {} TO {}").format(target, sql.Identifier(a.db_role)))
    for table, columns in plan.marts.items():
        grantees = {role: a.db_role for role, a in plan.access.items() if table in a.tables}
        for statement in row_security.policy_statements(table, columns, grantees, set(plan.filters), plan.scopes):
            cur.execute(statement)
    comments = comment_statements(plan.docs, documented, "postgres")
    for statement in comments:
        cur.execute(statement)
    cur.execute(
        sql.SQL("COMMENT ON SCHEMA {} IS {}").format(
            sql.Identifier(row_security.ACCESS_SCHEMA),
            sql.Literal("Row-level security lists of the serving layer (serving/row_security.py)."),
        )
    )
    _grant_metric_views(cur, plan.access, views, plan.metrics)
    return access_rows, views, len(comments)


def _grant_metric_views(cur, plan: dict[str, grants.RoleAccess], views: list[str], metrics: dict) -> None:
    """Metric views run as the reader (security_invoker): its grants and row security hold.
    A role gets a view when it may read every column the metric needs."""
    for name in views:
        view = sql.Identifier(METRICS, name)
        cur.execute(sql.SQL("ALTER VIEW {} SET (security_invoker = true)").format(view))
        metric = metrics[name]
        table = metric.relation.split(".", 1)[1]
        for access in plan.values():
            if table in access.tables and metric.needs <= set(access.tables[table]):
                cur.execute(sql.SQL("GRANT SELECT ON {} TO {}").format(view, sql.Identifier(access.db_role)))
    for access in plan.values():
        cur.execute(
            sql.SQL("GRANT SELECT ON {} TO {}").format(
                sql.Identifier(METRICS, DEFINITIONS), sql.Identifier(access.db_role)
            )
        )
