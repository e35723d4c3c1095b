"""Read export files into typed Arrow rows and quarantined rows, with reasons.

All heavy lifting is DuckDB, over many files of one entity at once (one scan costs the
same as a file's worth of start-up; a file at a time would cost ~30 ms each). CSV type
inference is off: the contract declares every column, so mobiles and card numbers stay
text. Python only decides what happens to each file as a whole: its encoding, its
header, its fate.

Every physical data line of a file ends up in exactly one place: the loaded rows or the
quarantine (with file, line, rule and reason). Refused files (wrong columns,
undecodable, empty) quarantine every line, so nothing is lost.
"""

from __future__ import annotations

import csv
import io
import tempfile
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from mallcrm.core.contract import Column, ExportFormat, InboxFile

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

# Files parsed in one DuckDB scan; bounds memory on a first load of a year of history.
BATCH_FILES = 64
BATCH_BYTES = 256 * 1024 * 1024


class RefusedFile(Exception):
    """The file as a whole breaks the contract (its rows all go to quarantine)."""

    def __init__(self, rule: str, reason: str):
        super().__init__(reason)
        self.rule = rule
        self.reason = reason


@dataclass
class FileOutcome:
    """What happened to one file: the numbers that must add up."""

    file: InboxFile
    encoding: str
    rows_in_file: int
    rows_loaded: int = 0
    rows_quarantined: int = 0
    status: str = "loaded"  # loaded | refused
    reason: str | None = None


@dataclass
class ParsedBatch:
    outcomes: list[FileOutcome]
    rows: pa.Table | None
    quarantine: pa.Table


@dataclass
class ParsedFile:
    """A single file's result (the batch API applied to one file)."""

    outcome: FileOutcome
    rows: pa.Table | None
    quarantine: pa.Table

    def __getattr__(self, name):
        return getattr(self.outcome, name)


def _sql_str(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _sql_type(column: Column) -> str:
    return column.type.replace("TIMESTAMPTZ", "TIMESTAMP WITH TIME ZONE")


def _quarantine(
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


def _empty_quarantine() -> pa.Table:
    return QUARANTINE_SCHEMA.empty_table()


def _decode(data: bytes) -> tuple[str, str]:
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
            "encoding", f"not UTF-8 ({utf8_error.reason} at byte {utf8_error.start}) and not GBK either"
        ) from None


def _physical_lines(text: str) -> list[str]:
    lines = text.splitlines()
    while lines and not lines[-1].strip():
        lines.pop()
    return lines


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


def _refused(file: InboxFile, encoding: str, lines: list[str], first_line: int, exc: RefusedFile):
    n = len(lines)
    outcome = FileOutcome(file, encoding, n, 0, n, "refused", f"{file.relpath}: {exc.reason}")
    q = _quarantine(file, list(range(first_line, first_line + n)), [exc.rule] * n, [outcome.reason] * n, lines)
    return outcome, q


def _as_instant(column: Column, timezone: str) -> str:
    """Mall-local wall-clock timestamps become instants (TIMESTAMPTZ) in the raw layer."""
    if column.type == "TIMESTAMP":
        return f'timezone({_sql_str(timezone)}, "{column.name}") as "{column.name}"'
    return f'"{column.name}"'


# The business day in an export's name (<entity>_<YYYYMMDD>.<ext>), as a timestamp.
_EXPORT_DAY_SQL = r"try_strptime(regexp_extract(_source_file, '_([0-9]{8})\.[a-z]+$', 1), '%Y%m%d')"


def _not_after_export_day(column: Column) -> str:
    """A day's export cannot hold events from after that day: a timestamp later than the end
    of the day after the file's business day (one day of grace for exports written after
    midnight) is a clock or system error, quarantined instead of skewing recency and RFM."""
    return (
        f'"{column.name}" is null or {_EXPORT_DAY_SQL} is null or "{column.name}" < {_EXPORT_DAY_SQL} + interval 2 day'
    )


def _rule_filter(con, export: ExportFormat, relation: str, tz: str) -> tuple[pa.Table, list[tuple]]:
    """Split typed rows (with `_source_file`, `_source_line`) by the contract's row rules.

    Returns the good rows and (file, line, rule, predicate, raw json) for the bad ones.
    """
    checks = [(f"required:{c.name}", f'"{c.name}" is not null') for c in export.columns if c.required]
    checks += [(f"rule:{name}", pred) for name, pred in export.rules]
    checks += [
        (f"rule:{c.name}_not_after_export_day", _not_after_export_day(c))
        for c in export.columns
        if c.type == "TIMESTAMP"
    ]
    cases = " ".join(f"when not coalesce(({pred}), false) then {_sql_str(name)}" for name, pred in checks)
    failed = f"case {cases} end" if checks else "cast(null as varchar)"
    con.execute(f"create or replace temp table _checked as select *, {failed} as _failed_rule from {relation}")
    cols = ", ".join(_as_instant(c, tz) for c in export.columns)
    good = con.sql(
        f"select {cols}, _source_file, _source_line from _checked where _failed_rule is null"
    ).to_arrow_table()
    record = ", ".join(f'"{c}" := "{c}"' for c in export.column_names)
    bad = con.execute(
        f"""
        select _source_file, _source_line, _failed_rule, to_json(struct_pack({record}))
        from _checked where _failed_rule is not null order by _source_file, _source_line
        """
    ).fetchall()
    predicates = dict(checks)
    con.execute("drop table _checked")
    return good, [(f, line, rule, predicates[rule], raw) for f, line, rule, raw in bad]


# ----------------------------------------------------------------------------- CSV


@dataclass
class _Prepared:
    file: InboxFile
    outcome: FileOutcome
    read_path: Path
    lines: list[str]  # data lines (header excluded)
    header: tuple[str, ...]


def _prepare_csv(file: InboxFile, tmpdir: Path) -> _Prepared | tuple[FileOutcome, pa.Table]:
    data = file.path.read_bytes()
    if not data.strip():
        return FileOutcome(file, "unknown", 0, 0, 0, "refused", f"{file.relpath}: empty file, no header row"), (
            _empty_quarantine()
        )
    try:
        text, encoding = _decode(data)
    except RefusedFile as exc:
        lines = _physical_lines(data.decode("utf-8", errors="replace"))[1:]
        return _refused(file, "unknown", lines, 2, exc)
    all_lines = _physical_lines(text)
    lines = all_lines[1:]
    header = tuple(h.strip() for h in next(csv.reader(io.StringIO(all_lines[0]))))
    try:
        _check_columns(file.export, list(header))
    except RefusedFile as exc:
        return _refused(file, encoding, lines, 2, exc)
    read_path = file.path
    if encoding != "utf-8":
        # DuckDB reads UTF-8: hand it the decoded text (BOM stripped, GBK transcoded).
        read_path = tmpdir / f"{len(list(tmpdir.iterdir()))}.csv"
        read_path.write_text(text, encoding="utf-8")
    return _Prepared(file, FileOutcome(file, encoding, len(lines)), read_path, lines, header)


def _read_csv_group(con, group: list[_Prepared]) -> tuple[pa.Table, list[tuple], list[FileOutcome]]:
    """One DuckDB scan over files sharing a header; rows get their file and physical line."""
    export = group[0].file.export
    header = group[0].header
    columns = "{" + ", ".join(f"{_sql_str(c)}: {_sql_str(_sql_type(export.column(c)))}" for c in header) + "}"
    paths = "[" + ", ".join(_sql_str(str(p.read_path)) for p in group) + "]"
    con.execute("drop table if exists _rejects; drop table if exists _scan")
    parsed = con.sql(
        f"""
        select * from read_csv({paths}, header = true, columns = {columns}, filename = true,
            auto_detect = false, delim = ',', quote = '"', escape = '"', strict_mode = true,
            nullstr = '', timestampformat = '{TIMESTAMP_FORMAT}', dateformat = '%Y-%m-%d',
            store_rejects = true, rejects_scan = '_scan', rejects_table = '_rejects')
        """
    ).to_arrow_table()
    rejects = con.execute(
        """
        select s.file_path, e.line, e.error_type, e.column_name, e.csv_line, e.error_message
        from _rejects e join _scan s using (scan_id, file_id) order by 1, 2
        """
    ).fetchall()
    by_path = {str(p.read_path): p for p in group}

    # A reject names its first physical line (and may swallow more: an unterminated quote);
    # accepted rows take each file's remaining lines, in order.
    rejected: dict[str, dict[int, tuple[str, str, str]]] = {str(p.read_path): {} for p in group}
    swallowed: dict[str, set[int]] = {str(p.read_path): set() for p in group}
    for path, line, error_type, column, csv_line, message in rejects:
        prep = by_path[path]
        if line in rejected[path]:
            continue
        where = f", column {column}" if column else ""
        text = csv_line.rstrip("\r\n")
        rule = "parse:" + str(error_type).lower().replace(" ", "_")
        rejected[path][line] = (rule, f"{prep.file.relpath} line {line}{where}: {message}", text)
        swallowed[path].update(range(line + 1, line + 1 + text.count("\n")))

    names = parsed.column("filename").combine_chunks()
    encoded = pc.dictionary_encode(names)
    order = [str(v) for v in encoded.dictionary.to_pylist()]
    bins = np.bincount(encoded.indices.to_numpy(), minlength=len(order))
    counts = Counter(dict(zip(order, bins, strict=True)))
    expected_order = [str(p.read_path) for p in group if counts.get(str(p.read_path), 0)]
    indices = encoded.indices.to_numpy()
    if order != expected_order or (len(indices) > 1 and np.any(np.diff(indices) < 0)):
        raise RefusedFile("parse:order", "rows came back out of file order")

    line_arrays, file_arrays, outcomes, quarantine = [], [], [], []
    for prep in group:
        path = str(prep.read_path)
        taken = set(rejected[path]) | swallowed[path]
        candidate = np.arange(2, len(prep.lines) + 2)
        if taken:
            candidate = candidate[~np.isin(candidate, np.fromiter(taken, dtype=np.int64))]
        n = int(counts.get(path, 0))
        if len(candidate) != n:
            raise RefusedFile("parse:line_count", f"{prep.file.relpath}: rows do not align with lines")
        line_arrays.append(candidate)
        file_arrays.append(np.full(n, prep.file.relpath, dtype=object))
        for line, (rule, reason, text) in sorted(rejected[path].items()):
            quarantine.append((prep.file.relpath, line, rule, reason, text))
        for line in sorted(swallowed[path] - set(rejected[path])):
            quarantine.append(
                (
                    prep.file.relpath,
                    line,
                    "parse:swallowed_by_previous_line",
                    f"{prep.file.relpath} line {line}: part of a malformed record that starts on an earlier line",
                    prep.lines[line - 2],
                )
            )
        outcomes.append(prep.outcome)
    parsed = parsed.drop_columns(["filename"])
    files_col = np.concatenate(file_arrays) if file_arrays else []
    lines_col = np.concatenate(line_arrays) if line_arrays else []
    parsed = parsed.append_column("_source_file", pa.array(files_col, pa.string()))
    parsed = parsed.append_column("_source_line", pa.array(lines_col, pa.int64()))
    return parsed, quarantine, outcomes


# ----------------------------------------------------------------------------- JSONL / Parquet


def _typed_select(export: ExportFormat, value_sql, source_sql: str) -> str:
    casts = ", ".join(f'try_cast({value_sql(c.name)} as {_sql_type(c)}) as "{c.name}"' for c in export.columns)
    failures = " ".join(
        f"when {value_sql(c.name)} is not null and try_cast({value_sql(c.name)} as {_sql_type(c)}) is null "
        f"then '{c.name}'"
        for c in export.columns
    )
    return f"select _source_file, _source_line, _raw, case {failures} end as _type_error, {casts} from ({source_sql})"


def _split_typed(con, export: ExportFormat, select_sql: str, tz: str) -> tuple[pa.Table, list[tuple]]:
    con.execute(f"create or replace temp table _typed as {select_sql}")
    bad = [
        (f, line, f"type:{col}", f"value of {col} is not a valid {export.column(col).type}", raw)
        for f, line, col, raw in con.execute(
            "select _source_file, _source_line, _type_error, _raw from _typed where _type_error is not null"
        ).fetchall()
    ]
    con.execute("create or replace temp view _valid as select * from _typed where _type_error is null")
    good, rule_bad = _rule_filter(con, export, "_valid", tz)
    con.execute("drop view _valid; drop table _typed")
    return good, bad + rule_bad


GroupResult = tuple[pa.Table | None, list[tuple], list[FileOutcome], list[pa.Table]]


def _parse_jsonl_group(con, files: list[InboxFile], tz: str) -> GroupResult:
    export = files[0].export
    outcomes, refused_q, line_tables = [], [], []
    for file in files:
        data = file.path.read_bytes()
        try:
            text, encoding = _decode(data)
        except RefusedFile as exc:
            outcome, q = _refused(file, "unknown", _physical_lines(data.decode("utf-8", "replace")), 1, exc)
            outcomes.append(outcome)
            refused_q.append(q)
            continue
        lines = _physical_lines(text)
        outcomes.append(FileOutcome(file, encoding, len(lines)))
        line_tables.append(
            pa.table(
                {
                    "_source_file": pa.array([file.relpath] * len(lines), pa.string()),
                    "_source_line": pa.array(np.arange(1, len(lines) + 1), pa.int64()),
                    "line": pa.array(lines, pa.string()),
                }
            )
        )
    if not line_tables:
        return None, [], outcomes, refused_q
    con.register("_lines", pa.concat_tables(line_tables))
    # Unannounced keys refuse their file, as unannounced columns do in CSV.
    extra = {}
    for f, key in con.execute(
        "select distinct _source_file, unnest(json_keys(line)) from _lines where json_valid(line)"
    ).fetchall():
        if key not in export.column_names:
            extra.setdefault(f, []).append(key)
    keep = []
    for outcome in outcomes:
        if outcome.file.relpath in extra and outcome.status == "loaded":
            exc = RefusedFile(
                "schema",
                f"unannounced key(s) {', '.join(sorted(extra[outcome.file.relpath]))} "
                f"(contract {export.system}/{export.entity})",
            )
            lines = _physical_lines(outcome.file.path.read_bytes().decode(outcome.encoding.replace("gbk", "gb18030")))
            new_outcome, q = _refused(outcome.file, outcome.encoding, lines, 1, exc)
            outcome.__dict__.update(new_outcome.__dict__)
            refused_q.append(q)
        elif outcome.status == "loaded":
            keep.append(outcome.file.relpath)
    keep_sql = "[" + ", ".join(_sql_str(k) for k in keep) + "]" if keep else "[]::varchar[]"
    bad = [
        (f, line, "parse:invalid_json", "not a valid JSON object", raw)
        for f, line, raw in con.execute(
            f"select _source_file, _source_line, line from _lines "
            f"where list_contains({keep_sql}, _source_file) and not coalesce(json_valid(line), false)"
        ).fetchall()
    ]
    good, more_bad = _split_typed(
        con,
        export,
        _typed_select(
            export,
            lambda c: f"json_extract_string(line, '$.{c}')",
            f"select *, line as _raw from _lines where list_contains({keep_sql}, _source_file) and json_valid(line)",
        ),
        tz,
    )
    con.unregister("_lines")
    return good, bad + more_bad, outcomes, refused_q


def _parse_parquet_group(con, files: list[InboxFile], tz: str) -> GroupResult:
    export = files[0].export
    outcomes, refused_q, readable = [], [], []
    for file in files:
        try:
            meta = pq.read_metadata(file.path)
            found = pq.read_schema(file.path).names
        except Exception as exc:  # noqa: BLE001 - any unreadable file is refused, with pyarrow's reason
            reason = f"{file.relpath}: unreadable Parquet ({exc})"
            outcomes.append(FileOutcome(file, "binary", 0, 0, 0, "refused", reason))
            continue
        n = meta.num_rows
        try:
            _check_columns(export, found)
        except RefusedFile as exc:
            outcome, q = _refused(file, "binary", [""] * n, 1, exc)
            outcomes.append(outcome)
            refused_q.append(q)
            continue
        outcomes.append(FileOutcome(file, "binary", n))
        readable.append(file)
    if not readable:
        return None, [], outcomes, refused_q
    con.register(
        "_paths",
        pa.table(
            {
                "filename": [str(f.path) for f in readable],
                "_source_file": [f.relpath for f in readable],
            }
        ),
    )
    paths = "[" + ", ".join(_sql_str(str(f.path)) for f in readable) + "]"
    cols = ", ".join(f'"{c}"' for c in export.column_names)
    record = ", ".join(f'"{c}" := "{c}"' for c in export.column_names)
    source = (
        f"select p._source_file, r.file_row_number + 1 as _source_line, "
        f"to_json(struct_pack({record})) as _raw, {cols} "
        f"from read_parquet({paths}, filename = true, file_row_number = true, union_by_name = true) r "
        f"join _paths p using (filename)"
    )
    good, bad = _split_typed(con, export, _typed_select(export, lambda c: f'cast("{c}" as varchar)', source), tz)
    con.unregister("_paths")
    return good, bad, outcomes, refused_q


# ----------------------------------------------------------------------------- entry points

_ENGINE: duckdb.DuckDBPyConnection | None = None


def _connection() -> duckdb.DuckDBPyConnection:
    """A fresh connection to one shared in-memory DuckDB (opening a database costs ~20 ms,
    a cursor microseconds; temp tables stay private to each cursor)."""
    global _ENGINE
    if _ENGINE is None:
        _ENGINE = duckdb.connect()
    con = _ENGINE.cursor()
    con.execute("set TimeZone = 'UTC'")
    return con


def _bad_rows_table(bad: list[tuple], files: dict[str, InboxFile]) -> pa.Table:
    if not bad:
        return _empty_quarantine()
    bad = sorted(bad, key=lambda b: (b[0], b[1]))
    first = next(iter(files.values())).export
    return pa.table(
        {
            "source_file": pa.array([b[0] for b in bad], pa.string()),
            "source_line": pa.array([b[1] for b in bad], pa.int64()),
            "system": pa.array([first.system] * len(bad), pa.string()),
            "entity": pa.array([first.entity] * len(bad), pa.string()),
            "rule": pa.array([b[2] for b in bad], pa.string()),
            "reason": pa.array(
                [b[3] if b[3].startswith(b[0]) else f"{b[0]} line {b[1]}: {_explain(b[2], b[3])}" for b in bad],
                pa.string(),
            ),
            "raw_record": pa.array([b[4] for b in bad], pa.string()),
        },
        schema=QUARANTINE_SCHEMA,
    )


def _explain(rule: str, detail: str) -> str:
    if rule.startswith(("rule:", "required:")):
        return f"breaks rule {rule.split(':', 1)[1]} ({detail})"
    return detail


def _parse_group(con, files: list[InboxFile], tmpdir: Path, tz: str):
    """Parse files of one entity; returns (rows, bad tuples, outcomes, refused quarantine tables)."""
    fmt = files[0].export.format
    if fmt == "jsonl":
        return _parse_jsonl_group(con, files, tz)
    if fmt == "parquet":
        return _parse_parquet_group(con, files, tz)
    outcomes, refused_q, by_header = [], [], {}
    for file in files:
        prepared = _prepare_csv(file, tmpdir)
        if isinstance(prepared, tuple):
            outcomes.append(prepared[0])
            refused_q.append(prepared[1])
        else:
            outcomes.append(prepared.outcome)
            by_header.setdefault(prepared.header, []).append(prepared)
    tables, bad = [], []
    for group in by_header.values():
        try:
            table, group_bad, _ = _read_csv_group(con, group)
        except RefusedFile:
            if len(group) == 1:
                raise
            # Fall back to one file at a time to find the file that does not align.
            for prep in group:
                try:
                    table, group_bad, _ = _read_csv_group(con, [prep])
                except RefusedFile as exc:
                    outcome, q = _refused(prep.file, prep.outcome.encoding, prep.lines, 2, exc)
                    prep.outcome.__dict__.update(outcome.__dict__)
                    refused_q.append(q)
                    continue
                tables.append(table)
                bad.extend(group_bad)
            continue
        tables.append(table)
        bad.extend(group_bad)
    if not tables:
        return None, bad, outcomes, refused_q
    con.register("_parsed", pa.concat_tables(tables))
    good, rule_bad = _rule_filter(con, files[0].export, "_parsed", tz)
    con.unregister("_parsed")
    return good, bad + rule_bad, outcomes, refused_q


def _with_loaded_at(rows: pa.Table, loaded_at: datetime) -> pa.Table:
    return rows.append_column("_loaded_at", pa.array([loaded_at] * rows.num_rows, pa.timestamp("us", tz="UTC")))


def parse_batch(files: list[InboxFile], loaded_at: datetime, timezone: str) -> ParsedBatch:
    """Parse, type and rule-check files of ONE entity together. Bad content never raises:
    it is quarantined or the file refused."""
    assert len({(f.export.system, f.export.entity) for f in files}) <= 1, "one entity per batch"
    con = _connection()
    with tempfile.TemporaryDirectory(prefix="mallcrm-parse-") as tmp:
        try:
            rows, bad, outcomes, refused_q = _parse_group(con, files, Path(tmp), timezone)
        finally:
            con.close()
    quarantine = pa.concat_tables([*refused_q, _bad_rows_table(bad, {f.relpath: f for f in files})])
    q_counts = Counter(quarantine.column("source_file").to_pylist())
    loaded_counts: Counter = Counter()
    if rows is not None and rows.num_rows:
        vc = pc.value_counts(rows.column("_source_file")).to_pylist()
        loaded_counts = Counter({v["values"]: v["counts"] for v in vc})
    for outcome in outcomes:
        if outcome.status == "loaded":
            outcome.rows_loaded = loaded_counts.get(outcome.file.relpath, 0)
            outcome.rows_quarantined = q_counts.get(outcome.file.relpath, 0)
    if rows is not None:
        rows = _with_loaded_at(rows, loaded_at)
    return ParsedBatch(outcomes, rows, quarantine)


def batches(files: list[InboxFile]) -> Iterator[list[InboxFile]]:
    """Split one entity's files into scans of bounded size."""
    batch, size = [], 0
    for f in files:
        fsize = f.path.stat().st_size
        if batch and (len(batch) >= BATCH_FILES or size + fsize > BATCH_BYTES):
            yield batch
            batch, size = [], 0
        batch.append(f)
        size += fsize
    if batch:
        yield batch


def parse_file(file: InboxFile, loaded_at: datetime, timezone: str) -> ParsedFile:
    """One file on its own (tests, diagnostics)."""
    result = parse_batch([file], loaded_at, timezone)
    return ParsedFile(result.outcomes[0], result.rows, result.quarantine.sort_by("source_line"))


def count_lines(file: InboxFile) -> int:
    """Data rows in a file without parsing it (for duplicates and already-seen files)."""
    if file.export.format == "parquet":
        try:
            return pq.read_metadata(file.path).num_rows
        except Exception:  # noqa: BLE001 - unreadable: nothing countable
            return 0
    lines = _physical_lines(file.path.read_bytes().decode("utf-8", errors="replace"))
    return max(len(lines) - (1 if file.export.format == "csv" else 0), 0)
