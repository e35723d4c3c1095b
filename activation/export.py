"""Export built audiences for their channels, after every gate is checked again.

For each built run, `export_audiences(settings)`:

1. runs the blocking checks over the members about to leave (activation/gates.py, as of
   now), plus the holdout's sample ratio (chi-square against the audience's holdout
   share over the members new to the audience, refused below p = 0.001) and the fields rule (a file carries only the
   envelope, the channel's fields of privacy/policy.yml and the audience's payload, and
   no personal column the marketing role may not receive). Any violation refuses the
   run: status `refused`, the counts in `activation.gate_results`, an audit entry, and
   `ExportRefused` at the end naming every gate that failed;
2. writes into `<outbox>/audiences/<run date>/`: `<audience>__<channel>.csv` (cells that
   a spreadsheet would read as a formula start with a quote) and `.jsonl` — treatment
   only, the members to contact — and `<audience>__holdout.csv`, the control members'
   ids, which the marketing system registers as the campaign's control group (never
   contacted) so that its next exports carry both arms, as for its own campaigns;
3. rewrites the date's `manifest.json` (counts, sha256 of every file, definition
   version, gate results), records the export in the audit chain and marks the run
   exported.

Files are written beside their target and renamed into place, the manifest after them
and the ledger last, so a killed export is finished by running it again (same files,
same checksums; the audit entry is not written twice).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

from scipy import stats

from activation import ledger
from activation.build import payload_sql
from activation.gates import GATES, GateContext, count_violations
from activation.spec import ActivationRules, Audience, load_audiences, load_rules
from mallcrm.core.files import sha256_of, write_atomically
from mallcrm.core.settings import Settings
from mallcrm.core.warehouse import connect
from privacy import audit
from privacy.policy import load_policy, role_methods
from privacy.publish import column_allowed

ENVELOPE = ("run_id", "audience", "channel", "campaign_id")
SRM_P_VALUE = 0.001
EXTRA_CHECKS = ("holdout_balance", "fields")


class ExportRefused(RuntimeError):
    """A blocking check found violations; nothing of the refused runs left the warehouse.
    `summaries` holds every run of the call, exported and refused."""

    def __init__(self, message: str, summaries: list[ExportSummary] | None = None):
        super().__init__(message)
        self.summaries = summaries or []


class ContactsNotAllowed(RuntimeError):
    """Clear contact details were asked for a channel the policy does not grant them for."""


@dataclass
class ExportSummary:
    run_id: str
    audience: str
    channel: str
    rows: int
    held_out: int
    status: str  # exported | refused
    files: dict[str, str] = field(default_factory=dict)
    violations: dict[str, int] = field(default_factory=dict)


def export_dir(settings: Settings, run_date: date) -> Path:
    return settings.outbox / "audiences" / run_date.isoformat()


def contact_column(rules: ActivationRules, audience: Audience, policy: dict) -> tuple[str, str]:
    """(raw column, column name in the file) of the channel's contact in clear, if the
    policy grants the activation role `clear` on it; else ContactsNotAllowed."""
    channel = rules.channels[audience.channel]
    if not channel.contact_field:
        raise ContactsNotAllowed(f"channel {audience.channel} has no contact_field in privacy/policy.yml")
    table, column = channel.contact_field.rsplit(".", 1)
    spec = policy["tables"][table]["columns"][column]
    granted = role_methods(policy, spec).get(rules.role, [])
    if "clear" not in granted:
        raise ContactsNotAllowed(
            f"privacy/policy.yml grants the {rules.role} role {granted or 'nothing'} of {channel.contact_field}, "
            f"not clear: the {audience.channel} file of {audience.name} cannot carry contact details"
        )
    return channel.contact_field, spec.get("staging_name") or column


def file_fields(rules: ActivationRules, audience: Audience, contact: str | None = None) -> list[str]:
    channel = rules.channels[audience.channel]
    return [*ENVELOPE, *channel.fields, *audience.payload, *([contact] if contact else [])]


def fields_violations(rules: ActivationRules, audience: Audience, fields: list[str], policy: dict) -> int:
    """Columns a file would carry that the channel does not need or the role may not see."""
    channel = rules.channels[audience.channel]
    allowed = {*ENVELOPE, *channel.fields, *audience.payload}
    bad = [f for f in fields if f not in allowed]
    bad += [f for f in audience.payload if not column_allowed(policy, rules.role, f)]
    return len(bad)


def srm_p_value(treatment: int, control: int, holdout_share: float) -> float:
    """Chi-square test of the observed split against the planned one (1.0 when empty)."""
    total = treatment + control
    if total == 0:
        return 1.0
    expected = [total * (1 - holdout_share), total * holdout_share]
    return float(stats.chisquare([treatment, control], expected).pvalue)


def copy_atomically(con, query: str, path: Path, options: str) -> str:
    """COPY a query to `path` atomically; returns the file's sha256."""
    temp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    con.execute(f"copy ({query}) to '{temp}' ({options})")
    os.chmod(temp, 0o640)  # member ids: the owner and the group that runs the channel export only
    digest = sha256_of(temp)
    with open(temp, "rb") as fh:
        os.fsync(fh.fileno())
    os.replace(temp, path)
    return digest


def _formula_safe(fields: list[str]) -> str:
    """CSV cells that start like a formula (= + - @ tab CR) get a leading quote."""
    return ", ".join(
        f"case when regexp_matches({f}, '^[=+\\-@\\t\\r]') then '''' || {f} else {f} end as {f}" for f in fields
    )


def _write_files(con, settings, audience, run_id, run_date, fields, contact) -> dict[str, tuple[str, str]]:
    folder = export_dir(settings, run_date)
    folder.mkdir(parents=True, exist_ok=True)
    members = payload_sql(audience, run_id)
    if contact:
        members = f"""
            select m.*, s.{contact} from ({members}) as m
            left join (
                select member_id, {contact} from staging.stg_membership__members
                qualify row_number() over (partition by member_id order by updated_at desc) = 1
            ) as s on s.member_id = m.member_id"""
    treatment = f"select {', '.join(fields)} from ({members}) where arm = 'treatment' order by member_id"
    stem = f"{audience.name}__{audience.channel}"
    files = {
        "csv": (
            f"{stem}.csv",
            copy_atomically(
                con,
                f"select {_formula_safe(fields)} from ({treatment})",
                folder / f"{stem}.csv",
                "format csv, header true",
            ),
        ),
        "jsonl": (f"{stem}.jsonl", copy_atomically(con, treatment, folder / f"{stem}.jsonl", "format json")),
        "holdout": (
            f"{audience.name}__holdout.csv",
            copy_atomically(
                con,
                f"select run_id, campaign_id, member_id, arm from ({members}) where arm = 'control' order by member_id",
                folder / f"{audience.name}__holdout.csv",
                "format csv, header true",
            ),
        ),
    }
    return files


def _update_manifest(settings: Settings, run_date: date, entry: dict) -> Path:
    path = export_dir(settings, run_date) / "manifest.json"
    manifest = (
        json.loads(path.read_text(encoding="utf-8"))
        if path.exists()
        else {"run_date": run_date.isoformat(), "exports": []}
    )
    manifest["exports"] = [e for e in manifest["exports"] if e["run_id"] != entry["run_id"]] + [entry]
    manifest["exports"].sort(key=lambda e: e["run_id"])
    write_atomically(path, json.dumps(manifest, ensure_ascii=False, indent=2) + "\n", mode=0o640)
    return path


def _audited(settings: Settings, run_id: str, digest: str) -> bool:
    return any(
        e.get("action") == "audience_export"
        and e.get("subject") == run_id
        and (e.get("details") or {}).get("sha256") == digest
        for e in audit.read_entries(settings)
    )


def _check(con, settings, audience, run, rules, policy, contact) -> dict[str, int]:
    run_id, run_date = run
    con.execute(
        "create or replace temp table _exported as select member_id from activation.assignments where run_id = ?",
        [run_id],
    )
    ctx = GateContext(settings, audience, run_date, rules)
    violations = count_violations(con, "_exported", ctx)
    # The split is tested on the members new to the audience. A returning member's presence
    # depends on their earlier arm (a contacted member who came back leaves a win-back
    # audience, a held-out one stays), so the whole run's split drifts from the plan by
    # design of a persistent holdout; the hash itself is what this check guards.
    new_treatment, new_control = con.execute(
        """
        select count(*) filter (where a.arm = 'treatment'), count(*) filter (where a.arm = 'control')
        from activation.assignments as a
        where a.run_id = ? and a.member_id not in (
            select e.member_id from activation.assignments as e
            where e.audience = a.audience and e.run_date < a.run_date
        )""",
        [run_id],
    ).fetchall()[0]
    violations["holdout_balance"] = int(srm_p_value(new_treatment, new_control, audience.holdout_share) < SRM_P_VALUE)
    violations["fields"] = fields_violations(rules, audience, file_fields(rules, audience, contact), policy)
    return violations


def pending_violations(settings: Settings) -> dict[str, dict[str, int]]:
    """For every gate, the built (not yet exported) runs whose members break it now:
    {gate: {run_id: violations}}. What Dagster's blocking checks report before the export."""
    audiences = {a.name: a for a in load_audiences()}
    rules = load_rules()
    out: dict[str, dict[str, int]] = {gate: {} for gate in GATES}
    con = connect(settings)
    try:
        ledger.ensure_tables(con)
        runs = con.execute("select run_id, audience, run_date from activation.runs where status = 'built'").fetchall()
        for run_id, name, run_date in runs:
            con.execute(
                "create or replace temp table _members as "
                "select member_id from activation.assignments where run_id = ?",
                [run_id],
            )
            found = count_violations(con, "_members", GateContext(settings, audiences[name], run_date, rules))
            for gate, count in found.items():
                if count:
                    out[gate][run_id] = count
    finally:
        con.close()
    return out


def export_audiences(
    settings: Settings, run_date: date | None = None, contacts: bool = False, names: list[str] | None = None
) -> list[ExportSummary]:
    """Export every built run (of `run_date`, of `names`); raises ExportRefused after
    exporting the others when a run failed a blocking check."""
    rules = load_rules()
    policy = load_policy()
    audiences = {a.name: a for a in load_audiences(rules=rules)}
    con = connect(settings)
    out: list[ExportSummary] = []
    try:
        ledger.ensure_tables(con)
        query = (
            "select run_id, audience, run_date, treatment, control, campaign_id, definition_version "
            "from activation.runs where status = 'built'"
        )
        params: list = []
        if run_date:
            query += " and run_date = ?"
            params.append(run_date)
        for run_id, name, rdate, treatment, control, cid, version in con.execute(
            query + " order by priority", params
        ).fetchall():
            if names and name not in names:
                continue
            audience = audiences.get(name)
            if audience is None:
                raise ExportRefused(
                    f"run {run_id}: audience {name} is no longer in audiences/; rebuild or remove the run"
                )
            if audience.version != version:
                raise ExportRefused(
                    f"run {run_id} was built from definition version {version}, but audiences/{name}.yml is now "
                    f"{audience.version}: run `mallcrm build` and `mallcrm audiences build` again before exporting"
                )
            contact = contact_column(rules, audience, policy)[1] if contacts else None
            violations = _check(con, settings, audience, (run_id, rdate), rules, policy, contact)
            now = datetime.now(UTC)
            for gate, count in violations.items():
                if gate in GATES:
                    con.execute(
                        "update activation.gate_results set violations = ?, checked_at = ? "
                        "where run_id = ? and gate = ?",
                        [count, now, run_id, gate],
                    )
                else:
                    con.execute("delete from activation.gate_results where run_id = ? and gate = ?", [run_id, gate])
                    con.execute(
                        "insert into activation.gate_results values (?, ?, ?, 0, ?, ?)",
                        [run_id, gate, len(GATES) + 1 + EXTRA_CHECKS.index(gate), count, now],
                    )
            failed = {g: c for g, c in violations.items() if c}
            if failed:
                con.execute("update activation.runs set status = 'refused' where run_id = ?", [run_id])
                audit.record(
                    settings, "audience_export_refused", run_id, {"violations": failed, "definition_version": version}
                )
                out.append(
                    ExportSummary(run_id, name, audience.channel, treatment, control, "refused", violations=violations)
                )
                continue
            fields = file_fields(rules, audience, contact)
            files = _write_files(con, settings, audience, run_id, rdate, fields, contact)
            entry = {
                "run_id": run_id,
                "audience": name,
                "label": audience.label,
                "channel": audience.channel,
                "purpose": audience.purpose,
                "campaign_id": cid,
                "definition_version": version,
                "holdout_share": audience.holdout_share,
                "rows": treatment,
                "held_out": control,
                "fields": fields,
                "contacts_in_clear": bool(contact),
                "files": {kind: f for kind, (f, _) in files.items()},
                "sha256": {kind: digest for kind, (_, digest) in files.items()},
                "gates": violations,
            }
            manifest = _update_manifest(settings, rdate, entry)
            if not _audited(settings, run_id, files["jsonl"][1]):
                audit.record(
                    settings,
                    "audience_export",
                    run_id,
                    {
                        "campaign_id": cid,
                        "channel": audience.channel,
                        "rows": treatment,
                        "held_out": control,
                        "definition_version": version,
                        "sha256": files["jsonl"][1],
                        "contacts_in_clear": bool(contact),
                        "gates": violations,
                    },
                )
            con.execute(
                "update activation.runs set status = 'exported', exported_at = ?, export_path = ? where run_id = ?",
                [now, str(manifest.parent), run_id],
            )
            out.append(
                ExportSummary(
                    run_id,
                    name,
                    audience.channel,
                    treatment,
                    control,
                    "exported",
                    {k: f for k, (f, _) in files.items()},
                    violations,
                )
            )
        ledger.publish_to_lake(settings, con)
    finally:
        con.close()
    refused = [s for s in out if s.status == "refused"]
    if refused:
        raise ExportRefused(
            "; ".join(
                f"{s.run_id} refused: " + ", ".join(f"{g} {c}" for g, c in s.violations.items() if c) for s in refused
            )
            + " (nothing of these runs left the warehouse; see `mallcrm audiences status`)",
            out,
        )
    return out
