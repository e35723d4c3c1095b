"""The activation ledger: what was built, held out, excluded and exported, in the warehouse.

Schema `activation` of the warehouse file (the system of record on both engines; on
Spark the tables are also written to the lake, like the ML scores, so the marts built
there read them):

- `runs`: one row per audience and run date — the campaign id the marketing system
  gets, the definition's version, counts, status (built -> exported, or refused) and
  where the files went;
- `gate_results`: per run and gate, the members the gate excluded and the violations
  the blocking check found before the export (0, or the export was refused);
- `assignments`: per run, every member who passed the gates and their arm (treatment
  is contacted, control is held out). Personal (member_id): covered by retention
  (privacy/policy.yml derived_retention) and erasure (member_id columns everywhere);
- `channel_coverage`: per run date and channel, the active adult members and how many
  of them hold the channel's consent (the consent gate's own rule), for the dashboard.

The dbt source `activation` (models/marts/activation) reads them through
`source_or_empty`, so the first build, before any audience ran, still works.
"""

from __future__ import annotations

import duckdb

from mallcrm.core.settings import Settings
from mallcrm.core.warehouse import connect, relation_exists
from spark.lake import write_table

SCHEMA = "activation"
TABLES = ("runs", "gate_results", "assignments", "channel_coverage")

DDL = f"""
create schema if not exists {SCHEMA};
create table if not exists {SCHEMA}.runs (
    run_id varchar primary key,
    audience varchar not null,
    label varchar not null,
    channel varchar not null,
    purpose varchar not null,
    run_date date not null,
    campaign_id varchar not null,
    definition_version varchar not null,
    holdout_share double not null,
    priority integer not null,
    candidates integer not null,
    eligible integer not null,
    treatment integer not null,
    control integer not null,
    status varchar not null,
    built_at timestamp with time zone not null,
    exported_at timestamp with time zone,
    export_path varchar
);
create table if not exists {SCHEMA}.gate_results (
    run_id varchar not null,
    gate varchar not null,
    gate_order integer not null,
    excluded integer not null,
    violations integer,
    checked_at timestamp with time zone
);
create table if not exists {SCHEMA}.assignments (
    run_id varchar not null,
    campaign_id varchar not null,
    audience varchar not null,
    channel varchar not null,
    run_date date not null,
    member_id varchar not null,
    arm varchar not null
);
create table if not exists {SCHEMA}.channel_coverage (
    run_date date not null,
    channel varchar not null,
    consent_scopes varchar not null,
    active_adult_members integer not null,
    consenting_members integer not null
);
"""


def ensure_tables(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(DDL)


def publish_to_lake(settings: Settings, con: duckdb.DuckDBPyConnection) -> None:
    """Engine spark: the ledger's tables become the Spark tables `activation.<table>`."""
    if settings.engine != "spark":
        return
    for table in TABLES:
        write_table(settings, f"{SCHEMA}.{table}", con.sql(f"select * from {SCHEMA}.{table}").to_arrow_table())


def republish(settings: Settings) -> None:
    """Engine spark: write the ledger to the lake again (after an erasure or a purge
    removed rows from it in the warehouse file)."""
    if settings.engine != "spark":
        return
    con = connect(settings)
    try:
        if relation_exists(con, f"{SCHEMA}.runs"):
            publish_to_lake(settings, con)
    finally:
        con.close()
