"""Build the audiences of a run date: definition -> gates -> deterministic holdout -> ledger.

`build_audiences(settings)` reads each audience's dbt model (`audiences.aud_<name>`,
built by `dbt build`), removes the members the gates exclude (activation/gates.py), puts
each remaining member in treatment or control and records it all in the ledger
(activation/ledger.py). The run date is the as-of date of member 360 (the latest POS
business day), so a re-run on the same data builds the same runs.

Holdout: a member's arm is decided by the hash of audience and member id alone
(`holdout_fraction`: the first 48 bits of md5("<audience>:<member_id>") as a fraction
of 1), control when below the audience's holdout share. The same member is therefore
always in the same arm of the same audience, on every run and every engine, and the
arms of different audiences are independent.

Runs already exported are never rebuilt (they are what was sent); a run that is only
built is rebuilt from scratch in one transaction; an audience whose last export is more
recent than its cadence is not due and is skipped. Crash-safe: each audience's run is
one transaction.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

import duckdb

from activation import ledger
from activation.gates import GATES, GateContext, apply_gates, check_gates_declared
from activation.spec import CADENCES, Audience, load_audiences, load_rules
from mallcrm.core.settings import Settings
from mallcrm.core.warehouse import connect, relation_exists
from privacy.policy import load_policy
from privacy.publish import consenting_members_sql

MEMBER_360 = "marts.mart_member_360"


class AudienceNotBuilt(RuntimeError):
    """An audience's dbt model is missing: `mallcrm build` has not built it yet."""


@dataclass
class RunSummary:
    run_id: str
    audience: str
    channel: str
    run_date: date
    status: str  # built | exported | refused | not due
    candidates: int = 0
    eligible: int = 0
    treatment: int = 0
    control: int = 0
    excluded: dict[str, int] = field(default_factory=dict)


def holdout_fraction_sql(audience: str, member_column: str = "member_id") -> str:
    """A uniform fraction in [0, 1) from audience and member id (see module docstring)."""
    return f"(('0x' || substr(md5('{audience}:' || {member_column}), 1, 12))::bigint / 281474976710656.0)"


def campaign_id(audience: Audience, run_date: date) -> str:
    """The id the marketing system runs the activation under, and reports it back with."""
    return f"ACT-{run_date:%Y%m%d}-{audience.name}"


def current_run_date(con: duckdb.DuckDBPyConnection) -> date:
    row = con.execute(f"select max(as_of_date) from {MEMBER_360}").fetchall()[0]
    if row is None or row[0] is None:
        raise AudienceNotBuilt(f"{MEMBER_360} is empty or missing: build the warehouse first (`mallcrm build`)")
    return row[0]


def _due(con, audience: Audience, run_date: date) -> tuple[bool, str | None]:
    """(due?, status of an existing run of the same date)."""
    rows = con.execute("select status from activation.runs where run_id = ?", [audience.run_id(run_date)]).fetchall()
    existing = rows[0] if rows else None
    if existing and existing[0] == "exported":
        return False, "exported"
    since = run_date - timedelta(days=CADENCES[audience.cadence] - 1)
    recent = con.execute(
        "select count(*) from activation.runs where audience = ? and status = 'exported' "
        "and run_date between ? and ? and run_date < ?",
        [audience.name, since, run_date, run_date],
    ).fetchall()[0][0]
    return recent == 0, existing[0] if existing else None


def _build_one(con, settings: Settings, audience: Audience, run_date: date, rules) -> RunSummary:
    run_id = audience.run_id(run_date)
    relation = f"audiences.{audience.model}"
    if not relation_exists(con, relation):
        raise AudienceNotBuilt(f"{relation} does not exist: run `mallcrm build` (the audience models are dbt models)")
    con.execute("begin")
    try:
        for table in ("assignments", "gate_results", "runs"):
            con.execute(f"delete from activation.{table} where run_id = ?", [run_id])
        con.execute(f"create or replace temp table _candidates as select distinct member_id from {relation}")
        candidates = con.execute("select count(*) from _candidates").fetchall()[0][0]
        excluded = apply_gates(con, "_candidates", GateContext(settings, audience, run_date, rules))
        cid = campaign_id(audience, run_date)
        con.execute(
            f"""
            insert into activation.assignments
            select ?, ?, ?, ?, ?, c.member_id,
                case when {holdout_fraction_sql(audience.name, "c.member_id")} < ? then 'control' else 'treatment' end
            from _candidates as c
            order by c.member_id""",
            [run_id, cid, audience.name, audience.channel, run_date, audience.holdout_share],
        )
        arms = dict(
            con.execute(
                "select arm, count(*) from activation.assignments where run_id = ? group by arm", [run_id]
            ).fetchall()
        )
        summary = RunSummary(
            run_id,
            audience.name,
            audience.channel,
            run_date,
            "built",
            candidates=candidates,
            eligible=sum(arms.values()),
            treatment=arms.get("treatment", 0),
            control=arms.get("control", 0),
            excluded=excluded,
        )
        con.execute(
            "insert into activation.runs values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'built', ?, null, null)",
            [
                run_id,
                audience.name,
                audience.label,
                audience.channel,
                audience.purpose,
                run_date,
                cid,
                audience.version,
                audience.holdout_share,
                audience.priority,
                candidates,
                summary.eligible,
                summary.treatment,
                summary.control,
                datetime.now(UTC),
            ],
        )
        con.executemany(
            "insert into activation.gate_results values (?, ?, ?, ?, null, null)",
            [[run_id, gate, i + 1, excluded[gate]] for i, gate in enumerate(GATES)],
        )
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise
    return summary


def payload_sql(audience: Audience, run_id: str) -> str:
    """The members of a run with their arm and the payload columns, from the audience model."""
    columns = "".join(f", cast(a.{name} as varchar) as {name}" for name in audience.payload)
    return f"""
        select s.run_id, s.audience, s.channel, s.campaign_id, s.member_id, s.arm{columns}
        from activation.assignments as s
        left join audiences.{audience.model} as a on a.member_id = s.member_id
        where s.run_id = '{run_id}'"""


def record_coverage(con, rules, run_date: date) -> None:
    """Per channel: active adult members, and those holding its consent now (the gate's rule)."""
    policy = load_policy()
    con.execute("begin")
    try:
        con.execute("delete from activation.channel_coverage where run_date = ?", [run_date])
        for channel in rules.channels.values():
            consenting = consenting_members_sql(con, policy, list(channel.consent_scopes))
            con.execute(
                f"""
                insert into activation.channel_coverage
                select ?, ?, ?, count(*), count(*) filter (where m.member_id in ({consenting}))
                from {MEMBER_360} as m
                join marts.dim_member as d on d.member_id = m.member_id
                where m.member_status = 'active' and not coalesce(d.is_minor, true)""",
                [run_date, channel.name, ",".join(channel.consent_scopes)],
            )
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise


def build_audiences(
    settings: Settings, run_date: date | None = None, names: list[str] | None = None
) -> list[RunSummary]:
    """Build every due audience (or `names`) for `run_date` (default: member 360's as-of date)."""
    rules = load_rules()
    check_gates_declared(rules)
    audiences = [a for a in load_audiences(rules=rules) if not names or a.name in names]
    unknown = set(names or []) - {a.name for a in audiences}
    if unknown:
        raise ValueError(f"no audience named {sorted(unknown)} in audiences/")
    con = connect(settings)
    try:
        ledger.ensure_tables(con)
        run_date = run_date or current_run_date(con)
        record_coverage(con, rules, run_date)
        out = []
        for audience in audiences:  # priority order: the frequency cap serves them in turn
            due, existing = _due(con, audience, run_date)
            if not due:
                out.append(
                    RunSummary(
                        audience.run_id(run_date), audience.name, audience.channel, run_date, existing or "not due"
                    )
                )
                continue
            out.append(_build_one(con, settings, audience, run_date, rules))
        ledger.publish_to_lake(settings, con)
        return out
    finally:
        con.close()
