"""The gates every audience passes before anything leaves the warehouse.

A gate is a rule of privacy/policy.yml (`activation.gates`) written once, as a query for
the members of a candidate set who break it. The same query is used twice:

- when an audience is built (activation/build.py), the gates run in the policy's order
  and each removes its violators (a member is counted under the first gate that
  excludes them);
- right before the export (activation/export.py), every gate runs again over the members
  about to be exported, as of that moment; any violator refuses the whole export. So a
  consent withdrawn, a complaint opened or a person erased between build and export is
  still honoured, and a gate missing from the build cannot go unnoticed.

Candidate sets are DuckDB temp tables with a `member_id` column; all work is SQL.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from activation.spec import ActivationRules, Audience
from mallcrm.core.settings import Settings
from privacy.policy import load_policy
from privacy.publish import consenting_members_sql
from privacy.suppression import is_listed, load_matchers

MINORS = "marts.dim_member"
MEMBER_360 = "marts.mart_member_360"


@dataclass(frozen=True)
class GateContext:
    """What a gate needs besides the candidates: the audience, its run date, the rules."""

    settings: Settings
    audience: Audience
    run_date: date
    rules: ActivationRules


def consent_violators(con, candidates: str, ctx: GateContext) -> str:
    """Members without the channel's consent as of now: the newest consent event of any
    scope the channel accepts is not a grant, or a withdrawal request was processed."""
    scopes = list(ctx.rules.channels[ctx.audience.channel].consent_scopes)
    consenting = consenting_members_sql(con, load_policy(), scopes)
    return f"select member_id from {candidates} except ({consenting})"


def minor_violators(con, candidates: str, ctx: GateContext) -> str:
    """Members under 14, or whose age is unknown (fail closed: no guardian consent is recorded)."""
    return f"""
        select c.member_id from {candidates} as c
        left join {MINORS} as m on m.member_id = c.member_id
        where coalesce(m.is_minor, true)"""


def erased_violators(con, candidates: str, ctx: GateContext) -> str:
    """Members on the suppression list (an erased person whose member id came back)."""
    matchers = load_matchers(ctx.settings)
    if not matchers:
        return f"select member_id from {candidates} where false"
    ids = [r[0] for r in con.execute(f"select distinct member_id from {candidates}").fetchall()]
    listed = [member_id for member_id in ids if is_listed(member_id, "member_id", matchers)]
    con.execute("create or replace temp table _suppressed_ids (member_id varchar)")
    if listed:
        con.executemany("insert into _suppressed_ids values (?)", [[m] for m in listed])
    return "select member_id from _suppressed_ids"


def open_complaint_violators(con, candidates: str, ctx: GateContext) -> str:
    """For marketing messages: members with a complaint still open at the last build."""
    if ctx.audience.purpose != "marketing":
        return f"select member_id from {candidates} where false"
    return f"""
        select c.member_id from {candidates} as c
        join {MEMBER_360} as m on m.member_id = c.member_id
        where m.open_complaint_count > 0"""


def frequency_cap_violators(con, candidates: str, ctx: GateContext) -> str:
    """Members who already have `messages` messages on this channel in the `days` days
    ending on the run date: exported runs of earlier days (this audience's too), and
    today's runs of audiences with a higher priority (served first). Only treatment
    counts: control gets nothing."""
    first = ctx.run_date - timedelta(days=ctx.rules.cap_days - 1)
    return f"""
        select a.member_id from activation.assignments as a
        join activation.runs as r on r.run_id = a.run_id
        where a.arm = 'treatment'
            and r.channel = '{ctx.audience.channel}'
            and r.run_id <> '{ctx.audience.run_id(ctx.run_date)}'
            and r.status <> 'refused'
            and (
                (r.run_date between date '{first.isoformat()}' and date '{ctx.run_date.isoformat()}'
                    and r.status = 'exported' and r.run_date < date '{ctx.run_date.isoformat()}')
                or (r.run_date = date '{ctx.run_date.isoformat()}' and r.priority < {ctx.audience.priority})
            )
            and a.member_id in (select member_id from {candidates})
        group by a.member_id
        having count(*) >= {ctx.rules.cap_messages}"""


# The gates in the policy's order; privacy/policy.yml `activation.gates` names each.
GATES = {
    "consent": consent_violators,
    "minor": minor_violators,
    "erased": erased_violators,
    "open_complaint": open_complaint_violators,
    "frequency_cap": frequency_cap_violators,
}


def check_gates_declared(rules: ActivationRules) -> None:
    """The gates run are exactly those the policy declares, in its order."""
    if list(rules.gates) != list(GATES):
        raise RuntimeError(
            f"privacy/policy.yml activation.gates {list(rules.gates)} differ from the gates activation/gates.py "
            f"enforces {list(GATES)}"
        )


def apply_gates(con, candidates: str, ctx: GateContext) -> dict[str, int]:
    """Remove each gate's violators from the temp table `candidates`, in order; returns
    how many members each gate excluded."""
    excluded: dict[str, int] = {}
    for name, violators in GATES.items():
        con.execute(f"create or replace temp table _violators as {violators(con, candidates, ctx)}")
        excluded[name] = con.execute(
            f"select count(*) from {candidates} where member_id in (select member_id from _violators)"
        ).fetchall()[0][0]
        con.execute(f"delete from {candidates} where member_id in (select member_id from _violators)")
    return excluded


def count_violations(con, members: str, ctx: GateContext) -> dict[str, int]:
    """How many of the members in the temp table `members` break each gate now."""
    out = {}
    for name, violators in GATES.items():
        out[name] = con.execute(
            f"select count(*) from {members} where member_id in ({violators(con, members, ctx)})"
        ).fetchall()[0][0]
    return out
