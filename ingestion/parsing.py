"""Read export files into typed Arrow rows and quarantined rows, with reasons.

All heavy lifting is DuckDB, over many files of one entity at once (one scan costs the
same as a file's worth of start-up; a file at a time would cost ~30 ms each). CSV type
inference is off: the contract declares every column, so mobiles and card numbers stay
text. Python only decides what happens to each file as a whole: its encoding, its
header, its fate.

Every data record of a file ends up in exactly one place: the loaded rows or the
quarantine (with file, line, rule and reason). A CSV record may span lines (RFC 4180: a
line break inside quotes); its line is the first physical line. Refused files (wrong
columns, an encoding the contract does not allow, empty) quarantine every record, so
nothing is lost. Nothing is silently changed either: rows with bytes foreign to the
file's encoding, NUL bytes, integers that only cast by rounding, or times after the load
time are quarantined with the rule they break. The common path (a clean UTF-8 or GBK
file) pays only cheap vectorised checks; the exact, slower paths run only when those
checks find something.
"""

from __future__ import annotations

import csv
import io
import json
import tempfile
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import cached_property
from pathlib import Path
from zoneinfo import ZoneInfo

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

# Files parsed in one DuckDB scan: an entity's new files are read together (a year of
# daily files on a first load, one file on a daily run); bytes bound the memory of a first
# load of a large history, files the length of the file list handed to DuckDB.
BATCH_FILES = 4096
BATCH_BYTES = 256 * 1024 * 1024


class RefusedFile(Exception):
    """The file as a whole breaks the contract (its rows all go to quarantine)."""

    def __init__(self, rule: str, reason: str, text: str | None = None):
        super().__init__(reason)
        self.rule = rule
        self.reason = reason
        self.text = text  # the file's text as best decoded, for quarantining its lines


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


@dataclass
class _Decoded:
    """A file's text, its encoding, and the physical lines (0-based, header = 0) whose bytes
    do not belong to that encoding, with the reason."""

    text: str
    encoding: str
    bad_lines: dict[int, str]
    readable: dict[int, str] = field(default_factory=dict)  # bad line -> its text as the row meant it


def _allowed(export: ExportFormat) -> str:
    return ", ".join(export.encodings)


def _utf16_without_bom(data: bytes) -> str | None:
    """'utf-16-le' / 'utf-16-be' when NUL bytes sit at every other position (ASCII text
    written as UTF-16 without a byte-order mark), else None. Only called when NULs exist."""
    sample = np.frombuffer(data[: 1 << 16], dtype=np.uint8)
    if len(sample) < 4:
        return None
    even, odd = sample[0::2] == 0, sample[1::2] == 0
    if odd.mean() > 0.3 and even.mean() < 0.05:
        return "utf-16-le"
    if even.mean() > 0.3 and odd.mean() < 0.05:
        return "utf-16-be"
    return None


def _line_of_each_char(codepoints: np.ndarray) -> np.ndarray:
    """Physical line (0-based) of every character; a line ends at LF, CRLF or a lone CR."""
    breaks = codepoints == 10
    cr = codepoints == 13
    if cr.any():
        breaks |= cr & np.append(codepoints[1:] != 10, True)
    return np.cumsum(breaks) - breaks


def _undecodable_lines(text: str) -> tuple[np.ndarray, np.ndarray]:
    """For text decoded with errors='surrogateescape': (lines holding undecodable bytes,
    lines holding decodable non-ASCII characters), each a sorted array of 0-based lines."""
    cp = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype="<u4")
    line = _line_of_each_char(cp)
    escaped = (cp >= 0xDC80) & (cp <= 0xDCFF)
    bad = np.unique(line[escaped])
    non_ascii = np.unique(line[(cp >= 0x80) & ~escaped])
    return bad, non_ascii


def _utf8_lines(data: bytes) -> tuple[np.ndarray, int]:
    """(0-based lines whose non-ASCII bytes are valid UTF-8, number of lines with non-ASCII
    bytes), in one vectorised pass over the bytes; lines are split at LF only."""
    raw = np.frombuffer(data, dtype=np.uint8)
    newline = raw == 10
    line = np.cumsum(newline, dtype=np.int32)
    n_lines = int(line[-1]) + 1 if len(line) else 0
    high = raw >= 0x80
    cont = (raw & 0xC0) == 0x80
    starts = high & ~cont  # bytes that must start a sequence: C2-F4 do, C0, C1, F5-FF never can
    broken = starts & ((raw < 0xC2) | (raw > 0xF4))
    broken[1:] |= cont[1:] & ~high[:-1]  # continuation without a start before it
    broken[0] |= bool(cont[0])
    broken[:-1] |= starts[:-1] & ~cont[1:]  # start without a continuation after it
    broken[-1] |= bool(starts[-1])
    has_high = np.bincount(line[high], minlength=n_lines) > 0
    has_broken = np.bincount(line[broken], minlength=n_lines) > 0
    candidates = np.flatnonzero(has_high & ~has_broken)
    non_ascii = int(has_high.sum())
    if len(candidates) == 0:
        return candidates, non_ascii
    # Verify the few candidates exactly (a GBK line can look like UTF-8 byte by byte).
    bounds = np.concatenate([[-1], np.flatnonzero(newline), [len(raw)]])
    valid = []
    for i in candidates.tolist():
        try:
            data[bounds[i] + 1 : bounds[i + 1]].decode("utf-8")
            valid.append(i)
        except UnicodeDecodeError:
            pass
    return np.array(valid, dtype=np.int64), non_ascii


def _clean_gbk(data: bytes) -> _Decoded | None:
    """The common GBK case, fast: the file decodes as GB18030 and holds no (or few) UTF-8
    rows. None when the slow path must decide (undecodable bytes, lone CRs, mostly UTF-8)."""
    try:
        text = data.decode("gb18030")
    except UnicodeDecodeError:
        return None
    if b"\r" in data and data.count(b"\r") != data.count(b"\r\n"):
        return None  # lone CRs end lines too: let the slow path number them
    utf8_rows, non_ascii_rows = _utf8_lines(data)
    if len(utf8_rows) == 0:
        return _Decoded(text, "gbk", {})
    if 2 * len(utf8_rows) >= non_ascii_rows:
        return None  # as much UTF-8 as GBK: the slow path weighs them
    lines = data.split(b"\n")
    bad = {int(i): "row is UTF-8 in a GBK file" for i in utf8_rows}
    readable = {int(i): lines[i].decode("utf-8").rstrip("\r") for i in utf8_rows}
    return _Decoded(text, "gbk", bad, readable)


def _decode(data: bytes, export: ExportFormat) -> _Decoded:
    """Decode a text export in one of the encodings its contract allows.

    The common case costs one strict UTF-8 decode. Anything else takes a slower path that
    finds, line by line (vectorised), which bytes do not fit: a UTF-8 row in a GBK file,
    bytes valid in neither. Those lines are quarantined, never decoded into mojibake. A file
    in an encoding the entity does not allow (or UTF-16, with or without byte-order mark)
    is refused naming the encoding; RefusedFile.text then holds the best-effort text.
    """
    allowed = export.encodings
    where = f"the contract allows {_allowed(export)} for {export.system}/{export.entity}"
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        enc = "utf-16-le" if data.startswith(b"\xff\xfe") else "utf-16-be"
        raise RefusedFile("encoding", f"file is UTF-16 (byte-order mark); {where}", data[2:].decode(enc, "replace"))
    if b"\x00" in data:
        enc = _utf16_without_bom(data)
        if enc is not None:
            raise RefusedFile(
                "encoding", f"looks like UTF-16 without a byte-order mark; {where}", data.decode(enc, "replace")
            )
    encoding = "utf-8"
    if data.startswith(b"\xef\xbb\xbf"):
        data, encoding = data[3:], "utf-8-sig"
    try:
        return _Decoded(data.decode("utf-8"), encoding, {})
    except UnicodeDecodeError as exc:
        utf8_error = exc

    if "gbk" in allowed:
        clean_gbk = _clean_gbk(data)
        if clean_gbk is not None:
            return clean_gbk

    # Slow path: not valid UTF-8 as a whole, and not plain GBK either.
    as_utf8 = data.decode("utf-8", "surrogateescape")
    not_utf8, utf8_rows = _undecodable_lines(as_utf8)
    utf8_rows = np.setdiff1d(utf8_rows, not_utf8)  # lines that are valid, non-ASCII UTF-8
    as_gbk = data.decode("gb18030", "surrogateescape")
    not_gbk, _ = _undecodable_lines(as_gbk)
    gbk_rows = np.setdiff1d(not_utf8, not_gbk)  # not UTF-8, but valid GBK
    if len(gbk_rows) > len(utf8_rows):
        if "gbk" not in allowed:
            raise RefusedFile(
                "encoding",
                f"file is GBK, not UTF-8 ({utf8_error.reason} at byte {utf8_error.start}); {where}",
                as_gbk if not len(not_gbk) else data.decode("utf-8", "replace"),
            )
        bad = {int(i): "bytes not valid in gbk" for i in not_gbk}
        bad.update({int(i): "row is UTF-8 in a GBK file" for i in utf8_rows})
        readable = {}
        if len(utf8_rows):
            utf8_lines = _physical_lines(as_utf8)
            readable = {int(i): utf8_lines[i] for i in utf8_rows if i < len(utf8_lines)}
        return _Decoded(as_gbk, "gbk", bad, readable)
    if len(utf8_rows) == 0 and "gbk" in allowed:
        raise RefusedFile(
            "encoding",
            f"not UTF-8 ({utf8_error.reason} at byte {utf8_error.start}) and not GBK either",
            data.decode("utf-8", "replace"),
        )
    looks_gbk = set(gbk_rows.tolist())
    bad = {int(i): "bytes not valid in utf-8" + (" (the row looks like GBK)" * (i in looks_gbk)) for i in not_utf8}
    readable = {}
    if looks_gbk:
        gbk_lines = _physical_lines(as_gbk)
        readable = {i: _printable(gbk_lines[i]) for i in looks_gbk if i < len(gbk_lines)}
    return _Decoded(as_utf8, encoding, bad, readable)


def _printable(text: str) -> str:
    """Text with undecodable bytes (surrogate escapes) shown as \\xNN, safe to store."""
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def _physical_lines(text: str) -> list[str]:
    """Lines end at LF, CRLF or a lone CR: what DuckDB, editors and RFC 4180 call a line
    (str.splitlines would also break at U+2028, form feeds and the like, inside a field)."""
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    lines = text.split("\n")
    while lines and not lines[-1].strip():
        lines.pop()
    return lines


@dataclass
class _Rows:
    """The CSV records of a file as DuckDB counts them: a record ends at a line break outside
    quotes; an empty line is a (skipped) record of its own. Record i (0 = header) is what
    DuckDB calls line i + 1; `starts` is its first physical line (1-based)."""

    texts: list[str]
    starts: np.ndarray

    @cached_property
    def data(self) -> np.ndarray:
        """Indices of the records holding data (not the header, not empty lines)."""
        idx = np.arange(1, len(self.texts))
        if len(idx) and "" in self.texts:
            lengths = np.fromiter(map(len, self.texts), dtype=np.int64, count=len(self.texts))
            idx = idx[lengths[1:] > 0]
        return idx


def _quoted_line_break(text: str, raw: bytes | None = None) -> bool:
    """Cheap check: is any line break inside double quotes (odd number of quotes before it)?
    Also true for stray quotes, which then take the exact path (harmless, only slower).
    `raw`: the text's UTF-8 bytes when at hand (saves encoding it again)."""
    if '"' not in text:
        return False
    raw = np.frombuffer(raw if raw is not None else text.encode("utf-8", "surrogatepass"), dtype=np.uint8)
    quotes = np.cumsum(raw == 34)
    return bool(np.any(quotes[raw == 10] & 1))


def _csv_rows(text: str, exact: bool = False, raw: bytes | None = None) -> _Rows:
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    lines = _physical_lines(text)
    if not exact and not _quoted_line_break(text, raw):
        return _Rows(lines, np.arange(1, len(lines) + 1))
    # Exact path (only for files with a quoted line break or stray quotes): the csv module
    # finds where each record ends, as DuckDB does; texts are re-joined for multi-line ones.
    reader = csv.reader(io.StringIO("\n".join(lines), newline=""))
    try:
        ends = np.fromiter((reader.line_num for _ in reader), dtype=np.int64)
    except csv.Error:
        return _Rows(lines, np.arange(1, len(lines) + 1))
    starts = np.concatenate([[1], ends[:-1] + 1]) if len(ends) else np.arange(1, 1)
    texts = np.array(lines, dtype=object)[starts - 1] if len(lines) else np.array([], dtype=object)
    for i in np.flatnonzero(ends > starts):  # multi-line records only
        texts[i] = "\n".join(lines[starts[i] - 1 : ends[i]])
    return _Rows(texts.tolist(), starts)


def _check_columns(export: ExportFormat, found: list[str]) -> None:
    declared = export.column_names
    missing = [c for c in declared if c not in found and not export.column(c).optional]
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


# A load may run up to a day "ahead" of the data's clocks (time zones, late exports): a
# business time later than the load time plus this tolerance cannot have happened yet.
LOAD_TIME_TOLERANCE = timedelta(days=1)


@dataclass(frozen=True)
class _Context:
    """What every check of one parse shares: the mall's zone and the load time."""

    tz: str
    loaded_at: datetime
    file_days: dict[str, date] = field(default_factory=dict)  # relpath -> business day in its name

    @property
    def local_bound(self) -> datetime:
        """Latest acceptable mall-local wall-clock time (load time + tolerance)."""
        local = self.loaded_at.astimezone(ZoneInfo(self.tz)).replace(tzinfo=None)
        return local + LOAD_TIME_TOLERANCE

    @property
    def utc_bound(self) -> datetime:
        return self.loaded_at.astimezone(UTC).replace(tzinfo=None) + LOAD_TIME_TOLERANCE


def _load_time_checks(export: ExportFormat, ctx: _Context) -> list[tuple[str, str, str]]:
    """A row cannot describe something after it was loaded: the file's business day and
    every timestamp must lie before the load time plus LOAD_TIME_TOLERANCE. A file dated in
    the future is quarantined row by row instead of moving the warehouse's as-of date."""
    local = f"TIMESTAMP '{ctx.local_bound:%Y-%m-%d %H:%M:%S}'"
    utc = f"TIMESTAMPTZ '{ctx.utc_bound:%Y-%m-%d %H:%M:%S}+00'"
    when = f"the load time plus {LOAD_TIME_TOLERANCE.days} day ({ctx.local_bound:%Y-%m-%d %H:%M:%S} {ctx.tz})"
    # Decided per file in Python (the day is in its name), so the common case costs nothing.
    future = [f for f, day in ctx.file_days.items() if datetime.combine(day, time()) > ctx.local_bound]
    checks = []
    if future:
        checks.append(
            (
                "rule:export_day_not_after_load_time",
                f"_source_file not in ({', '.join(_sql_str(f) for f in future)})",
                f"the file is dated after {when}: a clock error or a file from the future",
            )
        )
    # Local timestamps of a file older than that are already bounded by *_not_after_export_day.
    recent = not ctx.file_days or any(
        datetime.combine(day, time()) + timedelta(days=2) > ctx.local_bound for day in ctx.file_days.values()
    )
    for c in export.columns:
        if c.type == "TIMESTAMPTZ" or (c.type == "TIMESTAMP" and recent):
            bound = local if c.type == "TIMESTAMP" else utc
            checks.append(
                (
                    f"rule:{c.name}_not_after_load_time",
                    f'"{c.name}" is null or "{c.name}" <= {bound}',
                    f"{c.name} is after {when}",
                )
            )
    return checks


def _file_line(bad: tuple) -> tuple:
    return bad[0], bad[1]


def _rule_filter(
    con, export: ExportFormat, relation: str, ctx: _Context, nul_check: bool = False, typed: bool = False
) -> tuple[pa.Table, list[tuple]]:
    """Split typed rows (with `_source_file`, `_source_line`) by the contract's row rules.

    Returns the good rows and (file, line, rule, detail, raw json) for the bad ones.
    `typed`: the relation is a `_typed_select` (its `_type_error` fails a row first).
    `nul_check` (set when the cheap byte check found a NUL) keeps rows with NUL bytes in
    text out: a NUL is quarantined with its reason, never stored or silently stripped.
    """
    checks: list[tuple[str, str, str]] = []
    if nul_check:
        checks += [
            (
                f"nul_byte:{c.name}",
                f'"{c.name}" is null or not contains("{c.name}", chr(0))',
                f"{c.name} contains a NUL byte (\\x00); the row is kept out rather than changed",
            )
            for c in export.columns
            if c.type == "VARCHAR"
        ]
    checks += [(f"required:{c.name}", f'"{c.name}" is not null', "") for c in export.columns if c.required]
    checks += [(f"rule:{name}", pred, pred) for name, pred in export.rules]
    checks += [
        (f"rule:{c.name}_not_after_export_day", _not_after_export_day(c), _not_after_export_day(c))
        for c in export.columns
        if c.type == "TIMESTAMP"
    ]
    checks += _load_time_checks(export, ctx)
    cases = " ".join(f"when not coalesce(({pred}), false) then {_sql_str(name)}" for name, pred, _ in checks)
    failed = f"case {cases} end" if checks else "cast(null as varchar)"
    record = ", ".join(f'"{c}" := "{c}"' for c in export.column_names)
    bad_record = f"to_json(struct_pack({record}))"
    if typed:
        # A value that did not cast fails first, with its text as the file had it (`_raw`).
        failed = f"coalesce(_type_error, {failed})"
        bad_record = f"case when _type_error is not null then _raw else {bad_record} end"
    cols = ", ".join(_as_instant(c, ctx.tz) for c in export.columns)
    # One pass, streamed to Arrow: the verdict and, for failing rows only, their record.
    checked = con.sql(
        f"select {cols}, _source_file, _source_line, _failed_rule, "
        f"case when _failed_rule is not null then {bad_record} end as _bad_record "
        f"from (select *, {failed} as _failed_rule from {relation})"
    ).to_arrow_table()
    verdict = checked.column("_failed_rule")
    helper = ["_failed_rule", "_bad_record"]
    if verdict.null_count == checked.num_rows:
        return checked.drop_columns(helper), []
    ok = pc.is_null(verdict)
    failing = checked.filter(pc.invert(ok)).select(["_source_file", "_source_line", "_failed_rule", "_bad_record"])
    good = checked.filter(ok).drop_columns(helper)
    details = {name: detail or pred for name, pred, detail in checks}
    bad = []
    for f, line, rule, raw in sorted(zip(*(c.to_pylist() for c in failing.columns), strict=True), key=_file_line):
        detail = details.get(rule) if rule in details else _type_reason(export, rule, raw)
        bad.append((f, line, rule, detail, raw))
    return good, bad


# ----------------------------------------------------------------------------- CSV


@dataclass
class _Prepared:
    file: InboxFile
    outcome: FileOutcome
    read_path: Path
    rows: _Rows  # records as DuckDB numbers them (0 = header)
    header: tuple[str, ...]
    excluded: dict[int, tuple[str, str, str | None]]  # record -> (rule, detail, raw text): kept from DuckDB
    exact: bool  # records split by the exact (csv module) path
    has_nul: bool  # the cheap byte check found a NUL: rows are checked for it in SQL


def _refused(file: InboxFile, encoding: str, texts: list[str], lines, exc: RefusedFile):
    n = len(texts)
    outcome = FileOutcome(file, encoding, n, 0, n, "refused", f"{file.relpath}: {exc.reason}")
    q = _quarantine(file, [int(x) for x in lines], [exc.rule] * n, [outcome.reason] * n, texts)
    return outcome, q


def _refused_rows(file: InboxFile, encoding: str, rows: _Rows, exc: RefusedFile):
    data = rows.data
    texts = [_printable(t) for t in np.array(rows.texts, dtype=object)[data]] if len(data) else []
    return _refused(file, encoding, texts, rows.starts[data], exc)


def _prepare_csv(file: InboxFile, tmpdir: Path, exact: bool = False) -> _Prepared | tuple[FileOutcome, pa.Table]:
    data = file.path.read_bytes()
    if not data.strip():
        return FileOutcome(file, "unknown", 0, 0, 0, "refused", f"{file.relpath}: empty file, no header row"), (
            _empty_quarantine()
        )
    try:
        decoded = _decode(data, file.export)
    except RefusedFile as exc:
        return _refused_rows(file, "unknown", _csv_rows(exc.text or data.decode("utf-8", "replace")), exc)
    text, encoding = decoded.text, decoded.encoding
    rows = _csv_rows(text, exact, data if encoding == "utf-8" else None)
    if not rows.texts:
        return FileOutcome(file, encoding, 0, 0, 0, "refused", f"{file.relpath}: empty file, no header row"), (
            _empty_quarantine()
        )
    excluded: dict[int, tuple[str, str, str | None]] = {}
    if decoded.bad_lines:
        # Map each bad physical line to its record (a multi-line record is bad as a whole).
        bad = np.fromiter(decoded.bad_lines, dtype=np.int64)
        records = np.searchsorted(rows.starts, bad + 1, side="right") - 1
        for line, record in zip(bad.tolist(), records.tolist(), strict=True):
            raw = decoded.readable.get(line) if rows.texts[record].count("\n") == 0 else None
            excluded.setdefault(record, ("encoding", decoded.bad_lines[line], raw))
        if 0 in excluded:
            exc = RefusedFile("encoding", f"header row: {excluded[0][1]}")
            return _refused_rows(file, encoding, rows, exc)
    header = tuple(h.strip() for h in next(csv.reader(io.StringIO(rows.texts[0]))))
    try:
        _check_columns(file.export, list(header))
    except RefusedFile as exc:
        return _refused_rows(file, encoding, rows, exc)
    read_path = file.path
    if excluded:
        # Excluded records become empty lines: DuckDB skips them, and numbers the rest as before.
        texts = rows.texts.copy()
        for record in excluded:
            texts[record] = ""
        text = "\n".join(texts) + "\n"
    if encoding != "utf-8" or excluded:
        # DuckDB reads UTF-8: hand it the decoded text (BOM stripped, GBK transcoded).
        read_path = tmpdir / f"{len(list(tmpdir.iterdir()))}.csv"
        read_path.write_text(text, encoding="utf-8")
    outcome = FileOutcome(file, encoding, len(rows.data))
    return _Prepared(file, outcome, read_path, rows, header, excluded, exact, b"\x00" in data)


def _read_csv_group(con, group: list[_Prepared]) -> tuple[pa.Table, list[tuple], list[FileOutcome]]:
    """One DuckDB scan over files sharing a header; rows get their file and first physical line."""
    export = group[0].file.export
    header = group[0].header
    # Integer columns are read as text and cast here: DuckDB's CSV reader would round 60.7
    # into 61 without a word. A value that only casts by rounding is a lossy cast.
    ints = [c for c in header if export.column(c).type in _INTEGER_TYPES]
    read_type = {c: "VARCHAR" if c in ints else _sql_type(export.column(c)) for c in header}
    columns = "{" + ", ".join(f"{_sql_str(c)}: {_sql_str(read_type[c])}" for c in header) + "}"
    paths = "[" + ", ".join(_sql_str(str(p.read_path)) for p in group) + "]"
    select = "*"
    if ints:
        casts = ", ".join(f'try_cast("{c}" as {_sql_type(export.column(c))}) as "{c}"' for c in ints)
        errors, values = [], []
        for c in ints:
            typ = _sql_type(export.column(c))
            cast_failed = f'"{c}" is not null and try_cast("{c}" as {typ}) is null'
            fraction = f"""(contains("{c}", '.') or contains("{c}", 'e') or contains("{c}", 'E'))"""
            lossy = f'{fraction} and try_cast("{c}" as DOUBLE) <> try_cast("{c}" as {typ})'
            errors.append(f"when {cast_failed} then 'parse:cast:{c}' when {lossy} then 'lossy_cast:{c}'")
            values.append(f'when {cast_failed} or {lossy} then "{c}"')
        select = (
            f"* replace ({casts}), case {' '.join(errors)} end as _cast_error, "
            f"case {' '.join(values)} end as _cast_value"
        )
    # an optional column the file predates (older export): NULL of its type
    select += "".join(
        f', cast(null as {_sql_type(c)}) as "{c.name}"' for c in export.columns if c.optional and c.name not in header
    )
    con.execute("drop table if exists _rejects; drop table if exists _scan")
    parsed = con.sql(
        f"""
        select {select} from read_csv({paths}, header = true, columns = {columns}, filename = true,
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

    # DuckDB's `line` of a reject is its record number (a quoted line break does not count);
    # it is reported at the record's first physical line. A reject may swallow more lines
    # (an unterminated quote): records starting inside it are quarantined with it.
    rejected: dict[str, dict[int, tuple[str, str, str]]] = {str(p.read_path): {} for p in group}
    swallowed: dict[str, set[int]] = {str(p.read_path): set() for p in group}
    for path, line, error_type, column, csv_line, message in rejects:
        prep = by_path[path]
        record = int(line) - 1
        if record in rejected[path] or not 0 < record < len(prep.rows.texts):
            continue
        first = int(prep.rows.starts[record])
        where = f", column {column}" if column else ""
        text = csv_line.rstrip("\r\n")
        rule = "parse:" + str(error_type).lower().replace(" ", "_")
        rejected[path][record] = (rule, f"{prep.file.relpath} line {first}{where}: {message}", text)
        extra = text.count("\n") - prep.rows.texts[record].count("\n")
        if extra > 0:
            inside = np.flatnonzero(
                (prep.rows.starts > first + prep.rows.texts[record].count("\n"))
                & (prep.rows.starts <= first + text.count("\n"))
            )
            swallowed[path].update(inside.tolist())

    names = parsed.column("filename").combine_chunks()
    encoded = pc.dictionary_encode(names)
    order = [str(v) for v in encoded.dictionary.to_pylist()]
    bins = np.bincount(encoded.indices.to_numpy(), minlength=len(order))
    counts = Counter(dict(zip(order, bins, strict=True)))
    expected_order = [str(p.read_path) for p in group if counts.get(str(p.read_path), 0)]
    indices = encoded.indices.to_numpy()
    if order != expected_order or (len(indices) > 1 and np.any(np.diff(indices) < 0)):
        raise RefusedFile("parse:order", "rows came back out of file order")

    line_arrays, file_names, file_counts, record_arrays, outcomes, quarantine = [], [], [], [], [], []
    for prep in group:
        path = str(prep.read_path)
        relpath = prep.file.relpath
        taken = set(rejected[path]) | swallowed[path] | set(prep.excluded)
        candidate = prep.rows.data
        if taken:
            candidate = candidate[~np.isin(candidate, np.fromiter(taken, dtype=np.int64))]
        n = int(counts.get(path, 0))
        if len(candidate) != n:
            raise RefusedFile("parse:line_count", f"{relpath}: rows do not align with lines")
        line_arrays.append(prep.rows.starts[candidate])
        record_arrays.append(candidate)
        file_names.append(relpath)
        file_counts.append(n)
        for record, (rule, reason, text) in sorted(rejected[path].items()):
            quarantine.append((relpath, int(prep.rows.starts[record]), rule, reason, text))
        for record in sorted(swallowed[path] - set(rejected[path]) - set(prep.excluded)):
            line = int(prep.rows.starts[record])
            quarantine.append(
                (
                    relpath,
                    line,
                    "parse:swallowed_by_previous_line",
                    f"{relpath} line {line}: part of a malformed record that starts on an earlier line",
                    prep.rows.texts[record],
                )
            )
        for record, (rule, detail, raw) in sorted(prep.excluded.items()):
            line = int(prep.rows.starts[record])
            text = raw if raw is not None else _printable(prep.rows.texts[record])
            quarantine.append((relpath, line, rule, f"{relpath} line {line}: {detail}", text))
        outcomes.append(prep.outcome)
    parsed = parsed.drop_columns(["filename"])
    # The file of each row, built from the per-file counts (rows come in file order).
    which = np.repeat(np.arange(len(file_names), dtype=np.int32), file_counts)
    files_col = pa.DictionaryArray.from_arrays(pa.array(which, pa.int32()), pa.array(file_names, pa.string()))
    lines_col = np.concatenate(line_arrays) if line_arrays else []
    parsed = parsed.append_column("_source_file", files_col.dictionary_decode())
    parsed = parsed.append_column("_source_line", pa.array(lines_col, pa.int64()))
    if ints:
        parsed, cast_bad = _split_cast_errors(parsed, group, np.concatenate(record_arrays) if record_arrays else [])
        quarantine.extend(cast_bad)
    return parsed, quarantine, outcomes


def _split_cast_errors(parsed: pa.Table, group: list[_Prepared], records) -> tuple[pa.Table, list[tuple]]:
    """Take out the rows whose integer values did not cast, or only by rounding."""
    errors = parsed.column("_cast_error")
    helper = ["_cast_error", "_cast_value"]
    if errors.null_count == len(errors):
        return parsed.drop_columns(helper), []
    failed = pc.is_valid(errors)
    bad_idx = np.flatnonzero(failed.to_numpy(zero_copy_only=False))
    texts = {p.file.relpath: p.rows.texts for p in group}
    export = group[0].file.export
    bad = []
    for i in bad_idx.tolist():  # the failing rows only
        f, line = parsed["_source_file"][i].as_py(), parsed["_source_line"][i].as_py()
        error, value = errors[i].as_py(), parsed["_cast_value"][i].as_py()
        kind, col = error.rsplit(":", 1)
        typ = export.column(col).type
        if kind == "lossy_cast":
            detail = f"{col}: {value} is not an {typ} (casting would round it; a lossy cast is refused)"
        else:
            detail = f'column {col}: could not convert "{value}" to {typ}'
        rule = error if kind == "lossy_cast" else kind  # lossy_cast:<col>, as for JSON and Parquet
        bad.append((f, line, rule, f"{f} line {line}: {detail}", texts[f][int(records[i])]))
    return parsed.filter(pc.invert(failed)).drop_columns(helper), bad


# ----------------------------------------------------------------------------- JSONL / Parquet


_INTEGER_TYPES = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT")


def _typed_select(export: ExportFormat, value_sql, source_sql: str, raw_sql: str) -> str:
    """Cast text values to the contract's types; `_type_error` names the first value that
    does not cast (`type:<col>`) or would only cast by rounding (`lossy_cast:<col>`: a float
    60.7 is not an INTEGER; DuckDB would silently make it 61). `_raw` (`raw_sql` over the
    source's columns: the record as the file had it) is computed for those rows only."""
    casts = ", ".join(f'try_cast({value_sql(c.name)} as {_sql_type(c)}) as "{c.name}"' for c in export.columns)
    whens = []
    for c in export.columns:
        value, typ = value_sql(c.name), _sql_type(c)
        whens.append(f"when {value} is not null and try_cast({value} as {typ}) is null then 'type:{c.name}'")
        if c.type in _INTEGER_TYPES:
            whens.append(f"when try_cast({value} as DOUBLE) <> try_cast({value} as {typ}) then 'lossy_cast:{c.name}'")
    failures = " ".join(whens)
    return (
        f"select _source_file, _source_line, _type_error, "
        f"case when _type_error is not null then {raw_sql} end as _raw, {casts} "
        f"from (select *, case {failures} end as _type_error from ({source_sql}))"
    )


def _type_reason(export: ExportFormat, error: str, raw: str) -> str:
    kind, col = error.split(":", 1)
    typ = export.column(col).type
    if kind == "lossy_cast":
        try:
            value = json.loads(raw).get(col)
        except (ValueError, AttributeError):
            value = "the value"
        return f"{col}: {value} is not an {typ} (casting would round it; a lossy cast is refused)"
    return f"value of {col} is not a valid {typ}"


def _split_typed(
    con, export: ExportFormat, select_sql: str, ctx: _Context, nul_check: bool = False
) -> tuple[pa.Table, list[tuple]]:
    """Rows of a `_typed_select`: values that do not cast and rows breaking a rule out, in
    one pass (_rule_filter)."""
    return _rule_filter(con, export, f"({select_sql})", ctx, nul_check, typed=True)


GroupResult = tuple[pa.Table | None, list[tuple], list[FileOutcome], list[pa.Table]]


def _lines_refused(file: InboxFile, encoding: str, text: str, exc: RefusedFile):
    lines = _physical_lines(_printable(text))
    return _refused(file, encoding, lines, np.arange(1, len(lines) + 1), exc)


def _parse_jsonl_group(con, files: list[InboxFile], ctx: _Context) -> GroupResult:
    export = files[0].export
    outcomes, refused_q, line_tables, encoding_bad = [], [], [], []
    nul_check = False
    for file in files:
        data = file.path.read_bytes()
        try:
            decoded = _decode(data, export)
        except RefusedFile as exc:
            outcome, q = _lines_refused(file, "unknown", exc.text or data.decode("utf-8", "replace"), exc)
            outcomes.append(outcome)
            refused_q.append(q)
            continue
        nul_check = nul_check or b"\x00" in data or "\\u0000" in decoded.text
        lines = _physical_lines(decoded.text)
        outcomes.append(FileOutcome(file, decoded.encoding, len(lines)))
        numbers = np.arange(1, len(lines) + 1)
        texts = lines
        if decoded.bad_lines:
            keep = np.ones(len(lines), dtype=bool)
            for i, detail in decoded.bad_lines.items():
                if i < len(lines):
                    keep[i] = False
                    reason = f"{file.relpath} line {i + 1}: {detail}"
                    raw = decoded.readable.get(i, _printable(lines[i]))
                    encoding_bad.append((file.relpath, i + 1, "encoding", reason, raw))
            numbers = numbers[keep]
            texts = np.array(lines, dtype=object)[keep]
        line_tables.append(
            pa.table(
                {
                    "_source_file": pa.array([file.relpath] * len(numbers), pa.string()),
                    "_source_line": pa.array(numbers, pa.int64()),
                    "line": pa.array(texts, pa.string()),
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
            text = _decode(outcome.file.path.read_bytes(), export).text
            new_outcome, q = _lines_refused(outcome.file, outcome.encoding, text, exc)
            outcome.__dict__.update(new_outcome.__dict__)
            refused_q.append(q)
        elif outcome.status == "loaded":
            keep.append(outcome.file.relpath)
    encoding_bad = [b for b in encoding_bad if b[0] in keep]
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
            f"select * from _lines where list_contains({keep_sql}, _source_file) and json_valid(line)",
            "line",
        ),
        ctx,
        nul_check,
    )
    con.unregister("_lines")
    return good, encoding_bad + bad + more_bad, outcomes, refused_q


def _parse_parquet_group(con, files: list[InboxFile], ctx: _Context) -> GroupResult:
    export = files[0].export
    outcomes, refused_q, readable, schemas = [], [], [], set()
    for file in files:
        try:
            meta = pq.read_metadata(file.path)  # the footer, read once
            schema = meta.schema.to_arrow_schema()
            found = schema.names
        except Exception as exc:  # noqa: BLE001 - any unreadable file is refused, with pyarrow's reason
            reason = f"{file.relpath}: unreadable Parquet ({exc})"
            outcomes.append(FileOutcome(file, "binary", 0, 0, 0, "refused", reason))
            continue
        n = meta.num_rows
        try:
            _check_columns(export, found)
        except RefusedFile as exc:
            outcome, q = _refused(file, "binary", [""] * n, np.arange(1, n + 1), exc)
            outcomes.append(outcome)
            refused_q.append(q)
            continue
        outcomes.append(FileOutcome(file, "binary", n))
        readable.append(file)
        schemas.add(tuple((f.name, str(f.type)) for f in schema))
    if not readable:
        return None, [], outcomes, refused_q
    # Matching by name costs a schema merge over every file: only when their columns differ.
    by_name = ", union_by_name = true" if len(schemas) > 1 else ""
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
    present = {name for schema in schemas for name, _ in schema}
    cols = ", ".join(  # an optional column no file has (older exports): NULL of its type
        f'"{c.name}"' if c.name in present else f'cast(null as {_sql_type(c)}) as "{c.name}"' for c in export.columns
    )
    record = ", ".join(f'"{c}" := "{c}"' for c in export.column_names)
    source = (
        f"select p._source_file, r.file_row_number + 1 as _source_line, {cols} "
        f"from read_parquet({paths}, filename = true, file_row_number = true{by_name}) r "
        f"join _paths p using (filename)"
    )
    # Parquet strings may hold NULs too: the check is one cheap SQL predicate per text column.
    select = _typed_select(export, lambda c: f'cast("{c}" as varchar)', source, f"to_json(struct_pack({record}))")
    good, bad = _split_typed(con, export, select, ctx, nul_check=True)
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


def _read_csv_alone(con, prep: _Prepared, tmpdir: Path):
    """One file on its own, after its group did not align. Records found by the cheap split
    that DuckDB counts differently get the exact split; a file that still does not align is
    refused with every record quarantined (never an exception that stops the run)."""
    try:
        table, bad, _ = _read_csv_group(con, [prep])
        return table, bad, None
    except RefusedFile as exc:
        failure = exc
    if not prep.exact:
        exact = _prepare_csv(prep.file, tmpdir, exact=True)
        if isinstance(exact, _Prepared):
            try:
                table, bad, _ = _read_csv_group(con, [exact])
                prep.outcome.__dict__.update(exact.outcome.__dict__)
                return table, bad, None
            except RefusedFile as exc:
                failure = exc
    outcome, q = _refused_rows(prep.file, prep.outcome.encoding, prep.rows, failure)
    prep.outcome.__dict__.update(outcome.__dict__)
    return None, [], q


def _parse_group(con, files: list[InboxFile], tmpdir: Path, ctx: _Context):
    """Parse files of one entity; returns (rows, bad tuples, outcomes, refused quarantine tables)."""
    fmt = files[0].export.format
    if fmt == "jsonl":
        return _parse_jsonl_group(con, files, ctx)
    if fmt == "parquet":
        return _parse_parquet_group(con, files, ctx)
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
    nul_check = any(p.has_nul for group in by_header.values() for p in group)
    for group in by_header.values():
        try:
            table, group_bad, _ = _read_csv_group(con, group)
        except RefusedFile:
            # Fall back to one file at a time: only a file that does not align is refused.
            for prep in group:
                table, group_bad, refused = _read_csv_alone(con, prep, tmpdir)
                if refused is not None:
                    refused_q.append(refused)
                    continue
                tables.append(table)
                bad.extend(group_bad)
            continue
        tables.append(table)
        bad.extend(group_bad)
    if not tables:
        return None, bad, outcomes, refused_q
    # by name: files with and without an optional column, in any column order
    con.register("_parsed", pa.concat_tables(tables, promote_options="default"))
    good, rule_bad = _rule_filter(con, files[0].export, "_parsed", ctx, nul_check)
    con.unregister("_parsed")
    return good, bad + rule_bad, outcomes, refused_q


def _with_loaded_at(rows: pa.Table, loaded_at: datetime) -> pa.Table:
    stamp = pa.repeat(pa.scalar(loaded_at, pa.timestamp("us", tz="UTC")), rows.num_rows)
    return rows.append_column("_loaded_at", stamp)


def parse_batch(files: list[InboxFile], loaded_at: datetime, timezone: str) -> ParsedBatch:
    """Parse, type and rule-check files of ONE entity together. Bad content never raises:
    it is quarantined or the file refused."""
    assert len({(f.export.system, f.export.entity) for f in files}) <= 1, "one entity per batch"
    con = _connection()
    with tempfile.TemporaryDirectory(prefix="mallcrm-parse-") as tmp:
        try:
            ctx = _Context(timezone, loaded_at, {f.relpath: f.business_date for f in files})
            rows, bad, outcomes, refused_q = _parse_group(con, files, Path(tmp), ctx)
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
    text = file.path.read_bytes().decode("utf-8", errors="replace")
    if file.export.format == "csv":
        return len(_csv_rows(text).data)  # records, not lines: a quoted line break is one row
    return len(_physical_lines(text))
