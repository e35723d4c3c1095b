"""Row-level security: which rows of a mart each database role sees.

The row rules are privacy/publish.py's (the DuckDB role files apply the same ones):

- Members. `_row_filter(policy, role, consenting_sql)` is the rule (no minors but for
  compliance; marketing: consenting adults only, rows without a member left out). It is
  DuckDB SQL over the warehouse, so it is evaluated there, once per publish, over every
  distinct `member_id` the marts hold (NULL included), and the ids it keeps are loaded
  into `serving_access.member_access (role, member_id)`. A table with a `member_id`
  column then gets, for a role whose rule is not `true`, the policy
  `member_id in (<that role's ids>)` (or NULL, when the rule kept NULL). The policy reads
  `member_id` even where the role is not granted the column (management_bi): PostgreSQL
  checks column privileges on the query, not on policies.
- Stores. A store-scoped role (store_operations) is a group; each store's login sees
  the rows of its store(s) through `serving_access.store_access (login, store_id)`:
  a table with the scope's `column` by that column, one with only its `zone_column` by
  the zones of those stores in `marts.dim_store`, `shared_tables` whole, any other
  table not at all (privacy.publish.store_rule, the rule the role files follow too;
  tests/integration/test_postgres_serving.py holds each store login's row counts equal
  to that store's role file).

Both access tables have row-level security themselves: a role reads only its own rows
(`pg_has_role(current_user, role, 'USAGE')`), so no role learns another's member list.
Policies are permissive, one per role per table (`true` for a role without a row rule);
a table no role needs filtered has no RLS at all.
"""

from __future__ import annotations

from psycopg2 import sql

from privacy.publish import SCHEMA as MARTS
from privacy.publish import _row_filter, consenting_members_sql, store_rule
from serving.load import copy_table

ACCESS_SCHEMA = "serving_access"
MEMBER_ACCESS = "member_access"
STORE_ACCESS = "store_access"
MEMBER = "member_id"


def _lit(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def member_filters(duck, policy: dict, roles: list[str]) -> dict[str, str]:
    """{policy role: DuckDB where clause on alias t} for the roles with a member rule."""
    consenting = consenting_members_sql(duck, policy)
    filters = {role: _row_filter(policy, role, consenting) for role in roles}
    return {role: where for role, where in filters.items() if where != "true"}


def load_access_tables(
    duck,
    cur,
    filters: dict[str, str],
    db_roles: dict[str, str],
    marts: dict[str, list[str]],
    store_logins: dict[str, str],
) -> dict[str, int]:
    """Create `serving_access` with member_access (evaluated in DuckDB) and store_access
    (login -> store), each with its own row-level security; returns their row counts."""
    cur.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(ACCESS_SCHEMA)))
    member_tables = [t for t, cols in marts.items() if MEMBER in cols]
    if filters and member_tables:
        ids = " union ".join(f'select {MEMBER} from {MARTS}."{t}"' for t in member_tables)
        per_role = " union all ".join(
            f"select {_lit(db_roles[role])} as role, t.{MEMBER} from ids as t where {where}"
            for role, where in filters.items()
        )
        source = f"(with ids as ({ids}) {per_role}) as access"
    else:
        source = f"(select cast(null as varchar) as role, cast(null as varchar) as {MEMBER} where false) as access"
    counts = {
        MEMBER_ACCESS: copy_table(
            duck, cur, source, [("role", "VARCHAR"), (MEMBER, "VARCHAR")], ACCESS_SCHEMA, MEMBER_ACCESS
        )
    }
    pairs = " union all ".join(f"select {_lit(login)}, {_lit(store)}" for login, store in sorted(store_logins.items()))
    stores = f"({pairs}) as s(login, store_id)" if pairs else "(select '', '' where false) as s(login, store_id)"
    counts[STORE_ACCESS] = copy_table(
        duck, cur, stores, [("login", "VARCHAR"), ("store_id", "VARCHAR")], ACCESS_SCHEMA, STORE_ACCESS
    )
    for table, column in ((MEMBER_ACCESS, "role"), (STORE_ACCESS, "login")):
        name = sql.Identifier(ACCESS_SCHEMA, table)
        cur.execute(sql.SQL("ALTER TABLE {} ENABLE ROW LEVEL SECURITY").format(name))
        cur.execute(
            sql.SQL("CREATE POLICY own_rows ON {} FOR SELECT USING (pg_has_role(current_user, {}, 'USAGE'))").format(
                name, sql.Identifier(column)
            )
        )
    cur.execute(
        sql.SQL("CREATE INDEX ON {} (role, {})").format(
            sql.Identifier(ACCESS_SCHEMA, MEMBER_ACCESS), sql.Identifier(MEMBER)
        )
    )
    return counts


def _member_condition(db_role: str) -> sql.Composable:
    access = sql.Identifier(ACCESS_SCHEMA, MEMBER_ACCESS)
    return sql.SQL(
        "({m} IN (SELECT a.{m} FROM {access} AS a WHERE a.role = {role}) OR ({m} IS NULL AND EXISTS "
        "(SELECT 1 FROM {access} AS a WHERE a.role = {role} AND a.{m} IS NULL)))"
    ).format(m=sql.Identifier(MEMBER), access=access, role=sql.Literal(db_role))


def _store_condition(scope: dict, rule: str) -> sql.Composable | None:
    logins = sql.Identifier(ACCESS_SCHEMA, STORE_ACCESS)
    store = sql.Identifier(scope["column"])
    if rule == "store":
        return sql.SQL("{} IN (SELECT s.store_id FROM {} AS s)").format(store, logins)
    if rule == "zone":
        return sql.SQL(
            "{zone} IN (SELECT d.{zone} FROM {dim} AS d JOIN {logins} AS s ON s.store_id = d.{store})"
        ).format(
            zone=sql.Identifier(scope["zone_column"]),
            dim=sql.Identifier(MARTS, "dim_store"),
            logins=logins,
            store=store,
        )
    return None  # shared


def policy_statements(
    table: str,
    columns: list[str],
    grantees: dict[str, str],
    filtered: set[str],
    scopes: dict[str, dict],
) -> list[sql.Composable]:
    """RLS for one mart table: `grantees` {policy role: db role} granted it, `filtered` the
    roles with a member rule, `scopes` the store scope of store-scoped roles."""
    conditions: dict[str, list[sql.Composable]] = {}
    for role, db_role in grantees.items():
        parts = []
        if MEMBER in columns and role in filtered:
            parts.append(_member_condition(db_role))
        if role in scopes:
            condition = _store_condition(scopes[role], store_rule(scopes[role], table, columns))
            if condition is not None:
                parts.append(condition)
        conditions[role] = parts
    if not any(conditions.values()):
        return []
    target = sql.Identifier(MARTS, table)
    out = [sql.SQL("ALTER TABLE {} ENABLE ROW LEVEL SECURITY").format(target)]
    for role, parts in conditions.items():
        using = sql.SQL(" AND ").join(parts) if parts else sql.SQL("true")
        out.append(
            sql.SQL("CREATE POLICY {} ON {} FOR SELECT TO {} USING ({})").format(
                sql.Identifier(f"{grantees[role]}_rows"), target, sql.Identifier(grantees[role]), using
            )
        )
    return out
