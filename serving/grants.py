"""Database roles and GRANTs generated from privacy/policy.yml.

One PostgreSQL role per policy role, `mallcrm_<role>`; a store-scoped role
(store_operations) is a group without login and each store of `marts.dim_store` gets a
login `mallcrm_<role>_<store id, lower case>` that is a member of it. What a role may
read is decided by the rules of privacy/publish.py, the same ones that write the DuckDB
role files: a mart column is granted iff `column_allowed`; a table is granted when the
role keeps at least one column (and, for a store-scoped role, when the table can be
scoped to a store: serving/row_security.py). A table whose every column is allowed is
granted whole (`GRANT SELECT ON`), otherwise column by column (`GRANT SELECT (a, b) ON`):
`SELECT *` then fails for that role and `information_schema.columns` lists only what it
may read, which is what BI tools sync.

Roles are cluster-wide and outlive a publish; everything granted on tables is recreated
with the tables (serving/publish.py builds a fresh schema), so a re-run gives the same
grants. Logins of stores that left `dim_store` are dropped.

Passwords: each login gets a random password when it is first created, written before the
role exists to `<postgres dir>/serving_logins.json` (mode 0600, never in the repository).
A password is set only when the login is created or missing from the file: an admin who
sets a real one (`ALTER ROLE ... PASSWORD`, psql's \\password) and records it in the file,
or removes the login's entry from the file to have a new one generated, keeps it.
Statement logging is switched on per login (`ALTER ROLE ... SET log_statement = 'all'`),
which feeds the access log (serving/access_log.py).
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from psycopg2 import errors, sql

from mallcrm.core.files import write_atomically
from mallcrm.core.settings import Settings
from privacy.publish import column_allowed, store_rule, store_scope

PREFIX = "mallcrm_"
LOGINS_FILE = "serving_logins.json"
NAME_MAX = 63  # PostgreSQL truncates longer names


@dataclass(frozen=True)
class RoleAccess:
    """What one policy role reads: `tables` maps each granted mart table to its granted columns."""

    role: str
    db_role: str
    tables: dict[str, list[str]]
    logins: dict[str, str | None] = field(default_factory=dict)  # login -> store (None: the role's own login)

    @property
    def store_scoped(self) -> bool:
        return any(store is not None for store in self.logins.values())


def db_role(role: str) -> str:
    return f"{PREFIX}{role}"


def store_login(role: str, store: str) -> str:
    return f"{PREFIX}{role}_{store.lower()}"


def access_plan(policy: dict, marts: dict[str, list[str]], stores: list[str]) -> dict[str, RoleAccess]:
    """{policy role: RoleAccess} from the policy's rules over the marts present."""
    plan = {}
    for role in policy.get("roles") or {}:
        scope = store_scope(policy, role)
        tables = {}
        for table, columns in marts.items():
            kept = [c for c in columns if column_allowed(policy, role, c)]
            if kept and (scope is None or store_rule(scope, table, columns) is not None):
                tables[table] = kept
        if scope is None:
            logins: dict[str, str | None] = {db_role(role): None}
        else:
            logins = {store_login(role, s): s for s in stores}
            if len(logins) != len(stores):
                raise ValueError(f"marts.dim_store: store ids {stores} collide once lower-cased for role logins")
            too_long = [s for login, s in logins.items() if len(login) > NAME_MAX]
            if too_long:
                raise ValueError(
                    f"marts.dim_store: store id {too_long[0]!r} makes a login longer than {NAME_MAX} bytes"
                )
        plan[role] = RoleAccess(role, db_role(role), tables, logins)
    return plan


def logins_path(settings: Settings) -> Path:
    return settings.postgres_path / LOGINS_FILE


def read_logins(settings: Settings) -> dict[str, str]:
    """{login: password} of the serving logins (an empty dict before the first publish)."""
    try:
        return json.loads(logins_path(settings).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}


def _role_exists(cur, name: str) -> bool:
    cur.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (name,))
    return cur.fetchone() is not None


def ensure_roles(cur, settings: Settings, plan: dict[str, RoleAccess]) -> list[str]:
    """Create the group roles and logins (passwords as in the logins file, new ones written
    there first), drop logins of stores no longer present; returns notes for the report."""
    notes = []
    passwords = read_logins(settings)
    wanted = {login for access in plan.values() for login in access.logins}
    new = {login: secrets.token_urlsafe(24) for login in sorted(wanted) if login not in passwords}
    if new:
        passwords.update(new)
        write_atomically(logins_path(settings), json.dumps(passwords, indent=2, sort_keys=True) + "\n", mode=0o600)
    database = sql.Identifier(_database(cur))
    for access in plan.values():
        group = sql.Identifier(access.db_role)
        if access.store_scoped or not access.logins:
            if not _role_exists(cur, access.db_role):
                cur.execute(sql.SQL("CREATE ROLE {} NOLOGIN").format(group))
        for login in access.logins:
            name = sql.Identifier(login)
            if not _role_exists(cur, login):
                cur.execute(sql.SQL("CREATE ROLE {} LOGIN PASSWORD %s").format(name), (passwords[login],))
            elif login in new:  # the file lost it: the role gets the new one
                cur.execute(sql.SQL("ALTER ROLE {} LOGIN PASSWORD %s").format(name), (passwords[login],))
            if login != access.db_role:
                cur.execute(sql.SQL("GRANT {} TO {}").format(group, name))
            cur.execute(sql.SQL("GRANT CONNECT ON DATABASE {} TO {}").format(database, name))
            cur.execute("SAVEPOINT log_statement")
            try:
                cur.execute(sql.SQL("ALTER ROLE {} SET log_statement = 'all'").format(name))
            except errors.InsufficientPrivilege:
                cur.execute("ROLLBACK TO SAVEPOINT log_statement")
                notes.append(f"statements of {login} are not logged: only a superuser can set log_statement")
        stale = _stale_logins(cur, access)
        for login in stale:
            name = sql.Identifier(login)
            cur.execute(sql.SQL("REVOKE CONNECT ON DATABASE {} FROM {}").format(database, name))
            cur.execute(sql.SQL("DROP ROLE {}").format(name))
            notes.append(f"dropped login {login}: its store is no longer in marts.dim_store")
    return notes


def _database(cur) -> str:
    cur.execute("SELECT current_database()")
    return cur.fetchone()[0]


def _stale_logins(cur, access: RoleAccess) -> list[str]:
    """Members of a store-scoped group that are this project's store logins of stores gone."""
    if not access.store_scoped:
        return []
    cur.execute(
        "SELECT m.rolname FROM pg_auth_members a JOIN pg_roles g ON g.oid = a.roleid "
        "JOIN pg_roles m ON m.oid = a.member WHERE g.rolname = %s AND m.rolname LIKE %s",
        (access.db_role, access.db_role.replace("_", r"\_") + r"\_%"),
    )
    return sorted(r[0] for r in cur.fetchall() if r[0] not in access.logins)


def grant_statements(plan: dict[str, RoleAccess], marts: dict[str, list[str]], schemas: list[str]) -> list:
    """USAGE on the serving schemas and SELECT on each granted table (whole or by column)."""
    out = []
    for access in plan.values():
        grantee = sql.Identifier(access.db_role)
        for schema in schemas:
            out.append(sql.SQL("GRANT USAGE ON SCHEMA {} TO {}").format(sql.Identifier(schema), grantee))
        for table, columns in access.tables.items():
            target = sql.Identifier("marts", table)
            if columns == marts[table]:
                out.append(sql.SQL("GRANT SELECT ON {} TO {}").format(target, grantee))
            else:
                cols = sql.SQL(", ").join(sql.Identifier(c) for c in columns)
                out.append(sql.SQL("GRANT SELECT ({}) ON {} TO {}").format(cols, target, grantee))
    return out
