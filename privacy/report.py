"""The compliance report: one HTML file (and its Markdown twin) a reviewer can read.

    from privacy.report import write_report
    html_path, md_path = write_report(settings)

Sections: the policy as a table; the per-role column matrix of the marts (as the role
files apply it); retention status per table (oldest record against its policy); recent
purges and erasures with their evidence (from the audit log); open requests and their
deadlines; policy changes since the last report; the audit chain's verification and its
signed head (entry count, head hash and HMAC: a reviewer who keeps this report can later
tell whether the log was truncated or rewritten since, see `privacy.audit.check_anchor`).
Written to `<privacy dir>/reports/compliance_<UTC time>.{html,md}`; each report is
itself an audit entry, which is how "since the last report" is known.
"""

from __future__ import annotations

import html
from datetime import UTC, date, datetime
from pathlib import Path

from jinja2 import Environment

from mallcrm.core.settings import Settings
from mallcrm.core.warehouse import connect
from privacy import audit
from privacy.policy import load_policy, role_methods
from privacy.publish import _mart_tables, column_allowed
from privacy.requests import list_requests
from privacy.retention import as_of_date, expired_counts

RECENT = 20

MARKDOWN = """# Compliance report

Generated {{ generated }} · policy version {{ policy_version }} (sha256 `{{ policy_sha[:16] }}`) ·
warehouse `{{ warehouse }}` · audit chain: {{ chain }}

## Policy

| table | column | class | pii type | legal basis | retention | {{ roles | join(" | ") }} |
{{ "|---" * 6 }}{{ "|---" * (roles | length) }}|
{% for c in columns -%}
| {{ [c.table, c.column, c.cls, c.pii_type, c.basis, c.retention] | join(" | ") }} | {{ c.methods | join(" | ") }} |
{% endfor %}

## Role column matrix (marts; `yes` = the role file holds the column)

| mart column | {{ roles | join(" | ") }} |
|---{{ "|---" * (roles | length) }}|
{% for name, row in matrix -%}
| {{ name }} | {{ row | join(" | ") }} |
{% endfor %}

## Retention status (as of {{ as_of }})

Counted as of the warehouse's as-of day (`MALLCRM_QUALITY_AS_OF`, else the day after the latest
business day loaded), the day the Soda retention checks and `mallcrm privacy purge` count at.

| table / column | policy | action | rows | oldest record | cutoff | expired now | status |
|---|---|---|---|---|---|---|---|
{% for r in retention -%}
| {{ r.label }} | {{ r.days }} days | {{ r.expiry }} | {{ r.rows }} | {{ r.oldest or "—" }} | {{ r.cutoff }} |
{{- " " }}{{ r.expired }} | {{ r.status }} |
{% endfor %}

## Recent purges and erasures (evidence from the audit log)

| # | when (UTC) | action | subject | evidence |
|---|---|---|---|---|
{% for e in purges -%}
| {{ e.seq }} | {{ e.at[:19] }} | {{ e.action }} | {{ e.subject }} | {{ e.evidence }} |
{% else -%}
| — | | none yet | | |
{% endfor %}

## Data-subject requests

| request | type | jurisdiction | received | deadline | status | days left |
|---|---|---|---|---|---|---|
{% for r in requests -%}
| {{ r.request_id }} | {{ r.request_type }} | {{ r.jurisdiction }} | {{ r.received_on }} | {{ r.deadline }} |
{{- " " }}{{ r.status }}{% if r.overdue %} **OVERDUE**{% endif %} |
{{- " " }}{{ r.days_left if r.days_left is not none else "" }} |
{% else -%}
| — | | | | | none | |
{% endfor %}

## Policy changes since the last report{% if last_report %} ({{ last_report }}){% endif %}

{% for e in changes -%}
- {{ e.at[:19] }}: version {{ e.details.get("old_version", "—") }} → {{ e.details.get("new_version") }}
  (sha256 {{ (e.details.get("old_sha256") or "—")[:12] }} → {{ e.details.get("new_sha256", "")[:12] }}): {{ e.summary }}
{% else -%}
- none
{% endfor %}

## Audit chain

{{ audit_chain }}
{% if access_log %}

{{ access_log }}
{% endif %}
"""

HTML = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Compliance report {{ generated }}</title>
<style>
body{font-family:system-ui,sans-serif;margin:2em;max-width:1200px}
table{border-collapse:collapse;margin:1em 0;font-size:13px}
td,th{border:1px solid #ccc;padding:3px 6px;text-align:left}
th{background:#eee} .bad{color:#b00;font-weight:bold} code{font-size:12px}
</style></head><body>
{{ body }}
</body></html>
"""


def _md_to_html(markdown: str) -> str:
    """Enough Markdown for this report: headings, tables, bullet lists, paragraphs."""
    out, table = [], False
    for line in markdown.splitlines():
        if line.startswith("|"):
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if all(set(c) <= {"-"} and c for c in cells):
                continue
            if not table:
                out.append("<table>")
                tag, table = "th", True
            else:
                tag = "td"
            out.append("<tr>" + "".join(f"<{tag}>{_inline(c)}</{tag}>" for c in cells) + "</tr>")
            continue
        if table:
            out.append("</table>")
            table = False
        if line.startswith("## "):
            out.append(f"<h2>{_inline(line[3:])}</h2>")
        elif line.startswith("# "):
            out.append(f"<h1>{_inline(line[2:])}</h1>")
        elif line.startswith("- "):
            out.append(f"<ul><li>{_inline(line[2:])}</li></ul>")
        elif line.strip():
            out.append(f"<p>{_inline(line)}</p>")
    if table:
        out.append("</table>")
    return "\n".join(out)


def _inline(text: str) -> str:
    escaped = html.escape(text)
    parts = escaped.split("**")
    escaped = "".join(f'<span class="bad">{p}</span>' if i % 2 else p for i, p in enumerate(parts))
    parts = escaped.split("`")
    return "".join(f"<code>{p}</code>" if i % 2 else p for i, p in enumerate(parts))


def _policy_rows(policy: dict, roles: list[str]) -> list[dict]:
    rows = []
    tables = {
        **(policy.get("tables") or {}),
        **{f"raw_*.{k}": v for k, v in (policy.get("bookkeeping_tables") or {}).items()},
    }
    for table, tspec in tables.items():
        for column, spec in (tspec.get("columns") or {}).items():
            spec = spec or {}
            if spec.get("class", "none") == "none":
                continue
            ret = spec.get("retention") or tspec.get("retention") or {}
            methods = role_methods(policy, spec)
            rows.append(
                {
                    "table": table,
                    "column": column,
                    "cls": spec.get("class"),
                    "pii_type": spec.get("pii_type", ""),
                    "basis": spec.get("legal_basis", tspec.get("legal_basis", "")),
                    "retention": f"{ret.get('days')} d from {ret.get('anchor')}, then {ret.get('expiry')}",
                    "methods": [", ".join(methods.get(r, [])) for r in roles],
                }
            )
    return rows


def _evidence(entry: dict) -> str:
    d = entry.get("details") or {}
    if entry["action"] == "retention_purge":
        tables = d.get("tables") or {}
        parts = [f"{t}: {v['rows_before']}→{v['rows_after']} ({v['expiry']} {v['expired']})" for t, v in tables.items()]
        return f"{d.get('rows_expired', 0)} expired; " + ("; ".join(parts) or "nothing expired")
    tables = d.get("tables") or {}
    parts = [f"{t}: {v['before']}→{v['after']}" for t, v in tables.items()]
    return (
        f"{d.get('rows_removed', 0)} rows removed in {len(tables)} tables, "
        f"{d.get('suppression_tokens_added', 0)} tokens suppressed{_suppression_key(d)}, file compacted "
        f"{d.get('compacted_bytes')}; " + "; ".join(parts[:8]) + (" …" if len(parts) > 8 else "")
    )


def _suppression_key(details: dict) -> str:
    """Which suppression key the erasure's tokens were made under (its fingerprint, never the key)."""
    fingerprint = details.get("suppression_key_fingerprint")
    if not fingerprint:
        return ""
    return f" (suppression key {fingerprint}{', PUBLIC DEMO KEY' if details.get('suppression_key_is_demo') else ''})"


def _summary(diff) -> str:
    if isinstance(diff, str):
        return diff
    parts = []
    for key in ("changed", "added", "removed"):
        items = diff.get(key) or []
        if items:
            parts.append(f"{key} " + ", ".join(f"`{i}`" for i in items[:10]) + (" …" if len(items) > 10 else ""))
    return "; ".join(parts) or "no setting changed"


def audit_chain_markdown(settings: Settings, problems: list | None = None) -> str:
    """The report's audit section: verification, and the signed head as of this report."""
    problems = audit.verify(settings) if problems is None else problems
    summary = audit.chain_summary(settings)
    lines = [f"Log `{audit.log_path(settings).name}`, head `{audit.head_path(settings).name}` (privacy dir)."]
    if problems:
        lines += ["", f"**BROKEN**: {len(problems)} problem(s) (`mallcrm privacy audit-verify`):", ""]
        lines += [f"- {p}" for p in problems[:RECENT]] + (["- …"] if len(problems) > RECENT else [])
    else:
        lines += ["", f"Verified intact: {summary['entries']} entries."]
    head = summary["head"]
    demo = ", the PUBLIC DEMO KEY" if summary["demo_key"] else ""
    lines.append("")
    if head is None:
        lines.append("**NO VALID SIGNED HEAD**: a truncation of the log cannot be ruled out.")
        return "\n".join(lines)
    lines += [
        "Signed head as of this report (the report's own `compliance_report` entry comes after it):",
        "",
        "| entries | head hash (entry hash) | HMAC-SHA256 | audit key | signed at (UTC) |",
        "|---|---|---|---|---|",
        f"| {head['count']} | `{head['head_hash']}` | `{head['hmac']}` | {head['key_fingerprint']}{demo} |"
        f" {str(head['updated_at'])[:19]} |",
        "",
        f"Keep this report: the log must hold at least {head['count']} entries from now on, entry "
        f"{head['count']} with the head hash above (`privacy.audit.check_anchor`). Fewer entries or another "
        "hash there means the log was truncated or rewritten after this report.",
    ]
    if summary["head_lag"] == 1:
        lines += ["", "The head lags the log by one entry (an append was interrupted before the head update)."]
    return "\n".join(lines)


def render(settings: Settings, today: date | None = None, access_log: str | None = None) -> str:
    """The report as Markdown; `access_log` is the database-access section its caller adds
    (serving.access_log.markdown: privacy sits below serving in the layers)."""
    today = today or date.today()
    policy = load_policy()
    roles = list(policy.get("roles") or {})
    audit.record_policy_if_changed(settings)
    entries = audit.read_entries(settings)
    reports = [e for e in entries if e.get("action") == "compliance_report"]
    last_seq = reports[-1]["seq"] if reports else 0
    con = connect(settings)
    try:
        marts = _mart_tables(con)
        as_of = as_of_date(con, settings)  # not `today`: the day the checks and the purge count at
        counts = expired_counts(con, policy, as_of)
    finally:
        con.close()
    columns = sorted({c for cols in marts.values() for c in cols})
    matrix = [(c, ["yes" if column_allowed(policy, r, c) else "no" for r in roles]) for c in columns]
    matrix = [(c, row) for c, row in matrix if "no" in row]  # columns every role gets are not listed
    retention = []
    for label, c in counts.items():
        retention.append(
            {**c, "label": label, "status": "**EXPIRED ROWS PRESENT**" if c["expired"] else "within policy"}
        )
    purges = [dict(e, evidence=_evidence(e)) for e in entries if e.get("action") in ("retention_purge", "erasure")]
    changes = [
        dict(e, summary=_summary((e.get("details") or {}).get("diff")))
        for e in entries
        if e.get("action") == "policy_change" and e["seq"] > last_seq
    ]
    problems = audit.verify(settings)
    summary = audit.chain_summary(settings)
    audit_chain = audit_chain_markdown(settings, problems)
    chain = (
        f"{len(entries)} entries, intact ({summary['keyed']} keyed with HMAC-SHA256 under audit key "
        f"{summary['key_fingerprint']}{', the PUBLIC DEMO KEY' if summary['demo_key'] else ''}; "
        f"{summary['unkeyed']} older sha256-only)"
        if not problems
        else f"**BROKEN**: {problems[0]}"
    )
    version, sha = audit.policy_fingerprint()
    env = Environment(autoescape=False, trim_blocks=True, keep_trailing_newline=True)
    return env.from_string(MARKDOWN).render(
        generated=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        policy_version=version,
        policy_sha=sha,
        warehouse=settings.warehouse,
        chain=chain,
        audit_chain=audit_chain,
        roles=roles,
        columns=_policy_rows(policy, roles),
        matrix=matrix,
        retention=retention,
        as_of=as_of,
        purges=purges[-RECENT:][::-1],
        requests=[r for r in list_requests(settings, today) if r["status"] != "done"]
        + [r for r in list_requests(settings, today) if r["status"] == "done"][:RECENT],
        changes=changes,
        last_report=reports[-1]["at"][:19] if reports else None,
        access_log=access_log,
    )


def write_report(
    settings: Settings, out_dir: Path | None = None, today: date | None = None, access_log: str | None = None
) -> tuple[Path, Path]:
    markdown = render(settings, today, access_log)
    out_dir = out_dir or settings.privacy_path / "reports"
    out_dir.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    md_path = out_dir / f"compliance_{stamp}.md"
    html_path = out_dir / f"compliance_{stamp}.html"
    md_path.write_text(markdown, encoding="utf-8")
    body = _md_to_html(markdown)
    html_path.write_text(
        Environment(autoescape=False).from_string(HTML).render(generated=stamp, body=body), encoding="utf-8"
    )
    audit.record(settings, "compliance_report", html_path.name, {"markdown": md_path.name})
    return html_path, md_path
