"""Read one export file into typed Arrow rows and quarantined rows, with reasons.

All heavy lifting is DuckDB over the whole file (CSV sniffing is switched off: the
contract declares every column, so mobiles and card numbers stay text). Python only
decides what happens to the file as a whole: its encoding, its header, its fate.

Every physical data line of a file ends up in exactly one place: the loaded rows or
the quarantine (with file, line, rule and reason). Refused files (wrong columns,
undecodable, empty) quarantine every line, so nothing is lost.
"""

from __future__ import annotations

import csv
import io
import json
import tempfile
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa

from ingestion.contracts import ExportFormat, InboxFile
from mallcrm.settings import load_settings

QUARANTINE_SCHEMA = pa.schema(
    [
        ("source_file", pa.string()),
        ("source_line", pa.int64()),
        ("system", pa.string()),
        ("entity", pa.string()),
        ("rule", pa.string()),
        ("reason", pa.string()),
        ("raw_record", pa.string()),
    ]
)

# Timestamps without zone are mall-local wall-clock time, as the exports write them;
# they are stored as instants (TIMESTAMPTZ), read in the mall's zone (settings.timezone).
TIMESTAMP_FORMAT = "%Y-%m-%d %H:%M:%S"


class RefusedFile(Exception):
    """The file as a whole breaks the contract (its rows all go to quarantine)."""

    def __init__(self, rule: str, reason: str):
        super().__init__(reason)
        self.rule = rule
        self.reason = reason


@dataclass
class ParsedFile:
    file: InboxFile
    encoding: str
    rows_in_file: int
    rows: pa.Table | None
    quarantine: pa.Table
    status: str = "loaded"  # loaded | refused
    reason: str | None = None
    warnings: list[str] = field(default_factory=list)

    @property
    def rows_loaded(self) -> int:
        return 0 if self.rows is None else self.rows.num_rows

    @property
    def rows_quarantined(self) -> int:
        return self.quarantine.num_rows


def _quarantine_table(
    file: InboxFile, lines: list[int], rules: list[str], reasons: list[str], records: list[str]
) -> pa.Table:
    n = len(lines)
    return pa.table(
        {
            "source_file": pa.array([file.relpath] * n, pa.string()),
            "source_line": pa.array(lines, pa.int64()),
            "system": pa.array([file.export.system] * n, pa.string()),
            "entity": pa.array([file.export.entity] * n, pa.string()),
            "rule": pa.array(rules, pa.string()),
            "reason": pa.array(reasons, pa.string()),
            "raw_record": pa.array(records, pa.string()),
        },
        schema=QUARANTINE_SCHEMA,
    )


def _decode(data: bytes, export: ExportFormat) -> tuple[str, str]:
    """Return (text, encoding). UTF-8 (with or without BOM) first, then GB18030 (a GBK superset)."""
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8"), "utf-8-sig"
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError as exc:
        utf8_error = exc
    try:
        return data.decode("gb18030"), "gbk"
    except UnicodeDecodeError:
        raise RefusedFile(
            "encoding",
            f"not UTF-8 ({utf8_error.reason} at byte {utf8_error.start}) and not GBK either",
        ) from None


def _data_lines(text: str) -> list[str]:
    lines = text.splitlines()
    while lines and not lines[-1].strip():
        lines.pop()
    return lines[1:]


def _refuse_all(file: InboxFile, encoding: str, lines: list[str], rule: str, reason: str) -> ParsedFile:
    q = _quarantine_table(
        file,
        list(range(2, len(lines) + 2)),
        [rule] * len(lines),
        [reason] * len(lines),
        lines,
    )
    return ParsedFile(file, encoding, len(lines), None, q, status="refused", reason=reason)


def _check_columns(export: ExportFormat, found: list[str]) -> None:
    declared = export.column_names
    missing = [c for c in declared if c not in found]
    extra = [c for c in found if c not in declared]
    dupes = sorted({c for c in found if found.count(c) > 1})
    problems = []
    if missing:
        problems.append(f"missing column(s) {', '.join(missing)}")
    if extra:
        problems.append(f"unannounced column(s) {', '.join(extra)}")
    if dupes:
        problems.append(f"repeated column(s) {', '.join(dupes)}")
    if problems:
        hint = (
            " — member data may carry personal data, so new columns need a contract change first"
            if export.freeze_columns and extra
            else ""
        )
        raise RefusedFile("schema", f"{'; '.join(problems)} (contract {export.system}/{export.entity}){hint}")


def _rule_filter(con: duckdb.DuckDBPyConnection, file: InboxFile, relation: str) -> tuple[pa.Table, pa.Table]:
    """Split typed rows (a table/view with `_source_line`) by the contract's row rules."""
    export = file.export
    checks = [(f"required:{c.name}", f"{c.name} is not null") for c in export.columns if c.required]
    checks += list(export.rules)
    if checks:
        cases = " ".join(
            f"when not coalesce(({pred}), false) then '{name.replace(chr(39), '')}'" for name, pred in checks
        )
        failed = f"case {cases} end"
    else:
        failed = "cast(null as varchar)"
    con.execute(f"create or replace temp table _checked as select *, {failed} as _failed_rule from {relation}")
    cols = ", ".join(_as_instant(c) for c in export.columns)
    good = con.sql(f"select {cols}, _source_line from _checked where _failed_rule is null order by _source_line").to_arrow_table()
    bad = con.sql(
        f"""
        select _source_line, _failed_rule,
               to_json(struct_pack({", ".join(f'"{c}" := "{c}"' for c in export.column_names)})) as raw_record
        from _checked where _failed_rule is not null order by _source_line
        """
    ).to_arrow_table()
    predicates = dict(checks)
    rules = bad.column("_failed_rule").to_pylist()
    q = _quarantine_table(
        file,
        bad.column("_source_line").to_pylist(),
        [f"rule:{r}" if not r.startswith("required:") else r for r in rules],
        [
            f"{file.relpath} line {line}: breaks rule {r} ({predicates[r]})"
            for line, r in zip(bad.column("_source_line").to_pylist(), rules, strict=True)
        ],
        bad.column("raw_record").to_pylist(),
    )
    return good, q


def _as_instant(column) -> str:
    """Mall-local wall-clock timestamps become instants (TIMESTAMPTZ) in the raw layer."""
    if column.type == "TIMESTAMP":
        return f"timezone({_sql_str(load_settings().timezone)}, \"{column.name}\") as \"{column.name}\""
    return f'"{column.name}"'


def _sql_str(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _parse_csv(con, file: InboxFile, data: bytes) -> ParsedFile:
    export = file.export
    text, encoding = _decode(data, export)
    all_lines = text.splitlines()
    lines = _data_lines(text)
    if not all_lines or not all_lines[0].strip():
        raise RefusedFile("empty", "empty file: no header row")
    header = next(csv.reader(io.StringIO(all_lines[0])))
    header = [h.strip() for h in header]
    try:
        _check_columns(export, header)
    except RefusedFile as exc:
        return _refuse_all(file, encoding, lines, exc.rule, exc.reason)

    path = file.path
    tmp = None
    if encoding != "utf-8":
        # DuckDB reads UTF-8: hand it the decoded text (BOM stripped, GBK transcoded).
        tmp = tempfile.NamedTemporaryFile("w", suffix=".csv", encoding="utf-8", delete=False)
        tmp.write(text)
        tmp.close()
        path = Path(tmp.name)
    try:
        types = {c: export.column(c).type.replace("TIMESTAMPTZ", "TIMESTAMP WITH TIME ZONE") for c in header}
        columns_sql = "{" + ", ".join(f"{_sql_str(c)}: {_sql_str(t)}" for c, t in types.items()) + "}"
        rel = con.sql(
            f"""
            select * from read_csv({_sql_str(str(path))}, header = true, columns = {columns_sql},
                auto_detect = false, delim = ',', quote = '"', escape = '"', strict_mode = true,
                nullstr = '', timestampformat = '{TIMESTAMP_FORMAT}', dateformat = '%Y-%m-%d',
                store_rejects = true, rejects_scan = '_scan', rejects_table = '_rejects')
            """
        )
        parsed = rel.to_arrow_table()
        rejects = con.sql(
            "select line, error_type, column_name, csv_line, error_message from _rejects order by line"
        ).fetchall()
    finally:
        if tmp is not None:
            Path(tmp.name).unlink(missing_ok=True)

    # Physical line numbers: a reject names its first line (and may swallow more, e.g. an
    # unterminated quote); accepted rows take the remaining lines in file order.
    rejected_lines: dict[int, tuple[str, str, str]] = {}
    swallowed: set[int] = set()
    for line, error_type, column, csv_line, message in rejects:
        if line in rejected_lines:
            continue
        rule = "parse:" + str(error_type).lower().replace(" ", "_")
        where = f", column {column}" if column else ""
        rejected_lines[line] = (rule, f"{file.relpath} line {line}{where}: {message}", csv_line.rstrip("\r\n"))
        span = csv_line.rstrip("\r\n").count("\n")
        swallowed.update(range(line + 1, line + 1 + span))
    candidate = np.arange(2, len(lines) + 2)
    taken = np.isin(candidate, np.fromiter(list(rejected_lines) + list(swallowed), dtype=np.int64))
    accepted_lines = candidate[~taken][: parsed.num_rows]
    if len(accepted_lines) != parsed.num_rows:
        raise RefusedFile("parse:line_count", "could not align rows with physical lines (embedded newlines?)")
    parsed = parsed.append_column("_source_line", pa.array(accepted_lines, pa.int64()))
    con.register("_parsed", parsed)
    good, q_rules = _rule_filter(con, file, "_parsed")
    con.unregister("_parsed")

    r_lines = sorted(rejected_lines)
    q_parse = _quarantine_table(
        file,
        r_lines,
        [rejected_lines[x][0] for x in r_lines],
        [rejected_lines[x][1] for x in r_lines],
        [rejected_lines[x][2] for x in r_lines],
    )
    # Lines swallowed by a multi-line reject are accounted as quarantined too.
    sw = sorted(swallowed - set(rejected_lines))
    q_swallowed = _quarantine_table(
        file,
        sw,
        ["parse:swallowed_by_previous_line"] * len(sw),
        [f"{file.relpath} line {x}: part of a malformed record that starts on an earlier line" for x in sw],
        [lines[x - 2] for x in sw],
    )
    quarantine = pa.concat_tables([q_parse, q_swallowed, q_rules]).sort_by("source_line")
    return ParsedFile(file, encoding, len(lines), good, quarantine)


def _typed_projection(export: ExportFormat, value_sql) -> str:
    parts = []
    for c in export.columns:
        t = c.type.replace("TIMESTAMPTZ", "TIMESTAMP WITH TIME ZONE")
        parts.append(f'try_cast({value_sql(c.name)} as {t}) as "{c.name}"')
    return ", ".join(parts)


def _type_failures(export: ExportFormat, value_sql) -> str:
    """SQL naming the first column whose value is present but does not cast."""
    cases = " ".join(
        f"when {value_sql(c.name)} is not null and try_cast({value_sql(c.name)} as "
        f"{c.type.replace('TIMESTAMPTZ', 'TIMESTAMP WITH TIME ZONE')}) is null then 'type:{c.name}'"
        for c in export.columns
    )
    return f"case {cases} end"


def _split_typed(con, file: InboxFile, source_sql: str, value_sql, record_sql: str) -> tuple[pa.Table, pa.Table]:
    export = file.export
    con.execute(
        f"""
        create or replace temp table _typed as
        select _source_line, {record_sql} as _raw, {_type_failures(export, value_sql)} as _type_error,
               {_typed_projection(export, value_sql)}
        from ({source_sql})
        """
    )
    bad = con.sql("select _source_line, _type_error, _raw from _typed where _type_error is not null order by 1").fetchall()
    q_types = _quarantine_table(
        file,
        [b[0] for b in bad],
        [b[1] for b in bad],
        [
            f"{file.relpath} line {b[0]}: value of {b[1][5:]} is not a valid "
            f"{export.column(b[1][5:]).type}"
            for b in bad
        ],
        [b[2] for b in bad],
    )
    con.execute("create or replace temp view _valid as select * from _typed where _type_error is null")
    good, q_rules = _rule_filter(con, file, "_valid")
    return good, pa.concat_tables([q_types, q_rules])


def _parse_jsonl(con, file: InboxFile, data: bytes) -> ParsedFile:
    text, encoding = _decode(data, file.export)
    lines = text.splitlines()
    while lines and not lines[-1].strip():
        lines.pop()
    con.register("_lines", pa.table({"_source_line": np.arange(1, len(lines) + 1), "line": lines}))
    keys = {k for (k,) in con.sql("select distinct unnest(json_keys(line)) from _lines where json_valid(line)").fetchall()}
    extra = sorted(keys - set(file.export.column_names))
    if extra:
        exc = RefusedFile("schema", f"unannounced key(s) {', '.join(extra)} (contract {file.export.system}/{file.export.entity})")
        q = _quarantine_table(file, list(range(1, len(lines) + 1)), [exc.rule] * len(lines), [exc.reason] * len(lines), lines)
        return ParsedFile(file, encoding, len(lines), None, q, status="refused", reason=exc.reason)
    invalid = con.sql("select _source_line, line from _lines where not coalesce(json_valid(line), false) order by 1").fetchall()
    q_json = _quarantine_table(
        file,
        [i[0] for i in invalid],
        ["parse:invalid_json"] * len(invalid),
        [f"{file.relpath} line {i[0]}: not a valid JSON object" for i in invalid],
        [i[1] for i in invalid],
    )
    good, q_rest = _split_typed(
        con,
        file,
        "select * from _lines where json_valid(line)",
        lambda c: f"json_extract_string(line, '$.{c}')",
        "line",
    )
    con.unregister("_lines")
    quarantine = pa.concat_tables([q_json, q_rest]).sort_by("source_line")
    return ParsedFile(file, encoding, len(lines), good, quarantine)


def _parse_parquet(con, file: InboxFile) -> ParsedFile:
    path = _sql_str(str(file.path))
    try:
        found = [r[0] for r in con.sql(f"describe select * from read_parquet({path})").fetchall()]
        n = con.execute(f"select count(*) from read_parquet({path})").fetchone()[0]
    except duckdb.Error as exc:
        raise RefusedFile("parse:parquet", f"unreadable Parquet file: {exc}") from None
    try:
        _check_columns(file.export, found)
    except RefusedFile as exc:
        q = _quarantine_table(file, list(range(1, n + 1)), [exc.rule] * n, [exc.reason] * n, [""] * n)
        return ParsedFile(file, "binary", n, None, q, status="refused", reason=exc.reason)
    cols = ", ".join(f'"{c}"' for c in file.export.column_names)
    good, quarantine = _split_typed(
        con,
        file,
        f"select file_row_number + 1 as _source_line, {cols} from read_parquet({path}, file_row_number = true)",
        lambda c: f'cast("{c}" as varchar)',
        f"to_json(struct_pack({', '.join(f'{c} := {c}' for c in file.export.column_names)}))",
    )
    return ParsedFile(file, "binary", n, good, quarantine.sort_by("source_line"))


def parse_file(file: InboxFile, loaded_at: datetime) -> ParsedFile:
    """Parse, type and rule-check one file. Never raises for bad content: it refuses."""
    con = duckdb.connect()
    con.execute("set TimeZone = 'UTC'")
    try:
        if file.export.format == "parquet":
            parsed = _parse_parquet(con, file)
        else:
            data = file.path.read_bytes()
            try:
                if not data.strip():
                    raise RefusedFile("empty", "empty file")
                parsed = _parse_csv(con, file, data) if file.export.format == "csv" else _parse_jsonl(con, file, data)
            except RefusedFile as exc:
                try:
                    text = data.decode("utf-8", errors="replace")
                except Exception:  # pragma: no cover - decode with replace cannot fail
                    text = ""
                lines = _data_lines(text) if file.export.format == "csv" else text.splitlines()
                parsed = _refuse_all(file, "unknown", lines, exc.rule, exc.reason)
    except RefusedFile as exc:
        parsed = ParsedFile(file, "unknown", 0, None, _quarantine_table(file, [], [], [], []), "refused", exc.reason)
    finally:
        con.close()
    if parsed.rows is not None:
        parsed.rows = _with_lineage(parsed.rows, file, loaded_at)
    return parsed


def _with_lineage(rows: pa.Table, file: InboxFile, loaded_at: datetime) -> pa.Table:
    n = rows.num_rows
    line = rows.column("_source_line")
    rows = rows.drop_columns(["_source_line"])
    rows = rows.append_column("_source_file", pa.array([file.relpath] * n, pa.string()))
    rows = rows.append_column("_source_line", line)
    return rows.append_column("_loaded_at", pa.array([loaded_at] * n, pa.timestamp("us", tz="UTC")))


def describe(parsed: ParsedFile) -> str:
    return json.dumps(
        {
            "file": parsed.file.relpath,
            "status": parsed.status,
            "rows_in_file": parsed.rows_in_file,
            "loaded": parsed.rows_loaded,
            "quarantined": parsed.rows_quarantined,
            "reason": parsed.reason,
        },
        ensure_ascii=False,
    )
