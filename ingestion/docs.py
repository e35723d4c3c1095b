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
- **Multi-line records:** a CSV field in double quotes may contain line breaks (RFC 4180);
  such a record is one row and its `source_line` is its first physical line. Only LF,
  CRLF and CR end a line; U+2028 and similar characters are kept as text. Empty lines are
  skipped and not counted as rows.
- **Encodings:** each entity lists its allowed encodings (`encodings:` below). A file
  mostly in an encoding not on that list (GBK for a UTF-8-only entity, UTF-16 with or
  without a byte-order mark) is refused with a reason naming the encoding, its rows in
  quarantine. Within an allowed file, a row whose bytes do not belong to the file's
  encoding is quarantined with rule `encoding` ("row is UTF-8 in a GBK file", "bytes not
  valid in gbk") — never loaded as garbled text.
- **NUL bytes:** a text value holding a NUL byte is quarantined (`nul_byte:<column>`);
  data is never stripped or changed.
- **Lossy casts:** an INTEGER column takes whole numbers only: `60.7` (a CSV field, a
  JSON number or a Parquet float) is quarantined with `lossy_cast:<column>` ("60.7 is not
  an INTEGER"), never rounded; `7.0` loads as 7.
- **Future dates:** a row is quarantined when its file's date is after the load time
  plus 1 day (`export_day_not_after_load_time`), when one of its timestamps is
  (`<column>_not_after_load_time`), or when a timestamp is later than the day after the
  file's own date (`<column>_not_after_export_day`). A file dated in the future loads
  nothing and cannot move the as-of date (`mallcrm doctor` shows it).
- **JSON lines:** one object per line, keys = columns; a missing key is NULL.
- **Parquet:** columns by name; types are cast to the declared ones.
- **Timestamps:** mall-local time (`{timezone}`) as `YYYY-MM-DD HH:MM:SS`; columns of type
  TIMESTAMPTZ carry an ISO 8601 offset (`2026-03-01T06:12:00Z`). The raw layer stores instants.
- **Incremental by file:** a file already loaded (same name and bytes) is skipped; a late
  file for an old day is loaded when it arrives. A file whose bytes change after it was
  loaded (it grew, or was rewritten under the same name) is a correction of itself: its
  whole new content is loaded again as a later load, recorded as a second `loaded` row of
  `ingested_files` whose reason starts with `correction:`, and staging keeps the rows of
  a file's latest load, so no row of the final file is lost.
- **Corrections:** send a correction as a new file `<entity>_<YYYYMMDD>_v<N>.<ext>`
  (N >= 2) holding the corrected records (for a receipt, its lines too). For every record
  (its primary key) staging keeps the newest copy: the highest file version (`_v10` beats
  `_v9`; a name without `_v<N>` counts as 1), then the latest load. A `_v2` beats the
  original even if the original is re-sent later. Raw keeps every copy. A correction
  cannot delete a line; send a cancelling record instead.
- **Rules across rows (`cross_rules:` in the contract, applied after each system's
  load):** rows that break one are moved to the quarantine with rule `cross:<name>` and
  the counts of `ingested_files` follow, so rows in file = loaded + quarantined still holds.
  `refund_within_original_sale`: a sale's refunds together cannot exceed its net amount
  (absolute values, refunds counted in load order; a refund whose sale has not arrived
  is judged when it arrives). `line_quantity_sign_matches_receipt`: lines of a sale are
  positive, lines of a refund negative. `line_of_quarantined_receipt`: lines follow a
  receipt a cross rule quarantined. Blocking checks in `mallcrm check` catch any such row
  that reaches raw anyway.
- **Complete files only (`completeness:` in the contract, per system):** a file still
  being written is not read; it is listed as `waiting` by `mallcrm ingest` and
  `mallcrm doctor`, and loaded by a later run. `{{mode: settle, seconds: N}}`: the file
  has not changed for N seconds (its modification time; one that will settle within 5 s
  is waited for once per run; a modification time in the future waits).
  `{{mode: marker, suffix: .done}}`: the exporter writes `<file name>.done` (e.g.
  `transactions_20260101.csv.done`, any content) after the file; the marker itself is
  not an export.
- **Misnamed files:** a file whose name or folder fits no export (an impossible date
  such as `_20261340`, an unknown entity or system folder, a wrong extension) is never
  read; `mallcrm ingest` names it and exits with code 3, `mallcrm doctor` lists it as a
  problem until it is renamed or removed.
- **Lineage:** every raw row carries `_source_file`, `_source_line` (physical line; line 1
  is the CSV header) and `_loaded_at` (UTC).
- **Bookkeeping:** each `raw_<system>` dataset has `ingested_files` (one row per file and
  content: rows in file = rows loaded + rows quarantined; a `duplicate` stores nothing and
  counts 0 loaded, 0 quarantined) and `quarantined_rows` (file, line, rule, reason, the raw
  record). Every row counted as quarantined is stored there.

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
| unannounced column | a members file (`id_card_no`) | file refused, all rows quarantined, exit code 3 |
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
        out.append(f"Completeness: {exports[0].completeness.describe()}.\n")
        for e in exports:
            out.append(f"### `{system}/{e.entity}_<YYYYMMDD>.{e.extension}`\n")
            out.append(f"{e.description}\n")
            out.append(
                f"- format: {e.format}; encodings: {', '.join(e.encodings)}; key: ({', '.join(e.primary_key)})\n"
            )
            out.append("| column | type | required | meaning |\n|---|---|---|---|")
            for c in e.columns:
                desc = c.description.replace("|", "\\|")
                presence = "yes" if c.required else "may be absent" if c.optional else ""
                out.append(f"| `{c.name}` | {c.type} | {presence} | {desc} |")
            out.append("")
            if e.rules:
                out.append("Row rules (a row must satisfy every one):\n")
                for name, pred in e.rules:
                    out.append(f"- `{name}`: `{pred}`")
                out.append("")
    return "\n".join(out).rstrip() + "\n"
