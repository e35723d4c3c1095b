"""Render docs/sources.md from the export contract, so the docs cannot drift from the code."""

from __future__ import annotations

from mallcrm.core.contract import Contract, load_contract

HEADER = """# Source exports

Generated from `ingestion/export_formats.yml` by `mallcrm docs sources`; do not edit by
hand (a test fails when this page and the contract disagree).

**Contract version {version}.** Every file a source system drops into the inbox is checked
against this contract on arrival: its name, encoding, columns (all declared, none extra),
types and row rules. A row that breaks a rule goes to the quarantine with the file, line,
rule and reason; a file whose columns differ from the contract is refused whole (all its
rows quarantined) and the ingest command exits with code 3.

## Conventions

- **Location and name:** `<inbox>/<system>/<entity>_<YYYYMMDD>.<ext>`; the date is the
  business day. A suffix after the date (`transactions_20260105_resend.csv`) marks a re-sent
  or corrected file; the same bytes under a second name are recorded as a duplicate and not
  loaded twice.
- **CSV:** header row, comma separated, `"` quoting (`""` inside quotes), empty field =
  NULL, booleans `true`/`false`, decimals with a dot, no thousands separator. UTF-8, with or
  without a byte-order mark; GBK (read as GB18030) is detected where UTF-8 fails.
- **JSON lines:** one object per line, keys = columns; a missing key is NULL.
- **Parquet:** columns by name; types are cast to the declared ones.
- **Timestamps:** mall-local time (`{timezone}`) as `YYYY-MM-DD HH:MM:SS`; columns of type
  TIMESTAMPTZ carry an ISO 8601 offset (`2026-03-01T06:12:00Z`). The raw layer stores instants.
- **Incremental by file:** a file already loaded (same name and bytes) is skipped; a late
  file for an old day is loaded when it arrives; a file re-sent under the same name with
  other bytes is refused (send corrections under a new name).
- **Lineage:** every raw row carries `_source_file`, `_source_line` (physical line; line 1
  is the CSV header) and `_loaded_at` (UTC).
- **Bookkeeping:** each `raw_<system>` dataset has `ingested_files` (one row per file:
  rows in file = rows loaded + rows quarantined) and `quarantined_rows` (file, line, rule,
  reason, the raw record).

## Dirty data (simulator `--dirty`)

`mallcrm generate --dirty` injects what real source systems get wrong, and the tests
check that each defect lands where it should:

| defect | where | what ingestion does |
|---|---|---|
| too many / too few columns | a `pos/transactions` row | row quarantined (`parse:too_many_columns` ...) |
| non-numeric amount (`abc`, `"12,5"`) | `net_amount` | row quarantined (`parse:cast`) |
| negative amount on a sale | `net_amount` | row quarantined (`rule:sale_amount_not_negative`) |
| unknown member card | `member_card_no` | loaded; flagged by a dbt relationship test (warn) |
| exact duplicate row | any POS file | loaded; removed in staging |
| re-sent file | `transactions_<day>_resend.csv` | recorded as `duplicate`, not loaded again |
| late file | held back in `<inbox>/../late/` | loaded when it arrives, once |
| unannounced column | a members file (`wechat_openid`) | file refused, all rows quarantined, exit code 3 |
| missing column | a complaints file (no `severity`) | file refused, all rows quarantined, exit code 3 |
"""


def render_sources_doc(contract: Contract | None = None, timezone: str = "Asia/Shanghai") -> str:
    contract = contract or load_contract()
    out = [HEADER.format(version=contract.version, timezone=timezone)]
    for system in contract.systems:
        exports = contract.for_system(system)
        out.append(f"## `{system}` -> dataset `{exports[0].dataset}`\n")
        out.append(contract.system_descriptions[system] + "\n")
        if exports[0].freeze_columns:
            out.append("Schema contract: **frozen** — a file with an unannounced column is refused.\n")
        for e in exports:
            out.append(f"### `{system}/{e.entity}_<YYYYMMDD>.{e.extension}`\n")
            out.append(f"{e.description}\n")
            out.append(
                f"- format: {e.format}; encodings: {', '.join(e.encodings)}; key: ({', '.join(e.primary_key)})\n"
            )
            out.append("| column | type | required | meaning |\n|---|---|---|---|")
            for c in e.columns:
                desc = c.description.replace("|", "\\|")
                out.append(f"| `{c.name}` | {c.type} | {'yes' if c.required else ''} | {desc} |")
            out.append("")
            if e.rules:
                out.append("Row rules (a row must satisfy every one):\n")
                for name, pred in e.rules:
                    out.append(f"- `{name}`: `{pred}`")
                out.append("")
    return "\n".join(out).rstrip() + "\n"
