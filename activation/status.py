"""What the audiences look like now: the latest run of each, from the ledger."""

from __future__ import annotations

from activation.gates import GATES
from mallcrm.core.settings import Settings
from mallcrm.core.warehouse import connect, relation_exists


def latest_runs(settings: Settings) -> list[dict]:
    """Per audience, its newest run: counts, status and the members each gate excluded."""
    if not settings.warehouse.exists():
        return []
    con = connect(settings)
    try:
        if not relation_exists(con, "activation.runs"):
            return []
        gates = ", ".join(
            f"coalesce(sum(g.excluded) filter (where g.gate = '{gate}'), 0) as excluded_{gate}" for gate in GATES
        )
        rows = con.execute(
            f"""
            select r.run_id, r.audience, r.channel, r.run_date, r.status, r.candidates, r.eligible,
                r.treatment, r.control, r.campaign_id, r.exported_at, r.priority, {gates},
                coalesce(sum(g.violations), 0) as violations
            from activation.runs as r
            left join activation.gate_results as g on g.run_id = r.run_id
            where r.run_date = (select max(run_date) from activation.runs as l where l.audience = r.audience)
            group by all
            order by r.priority"""
        )
        names = [d[0] for d in rows.description]
        return [dict(zip(names, row, strict=True)) for row in rows.fetchall()]
    finally:
        con.close()
