"""The export contract (`export_formats.yml`) as typed objects.

Ingestion, the simulator, the docs and the tests all read the same yml through this
module, so a column added in one place is added everywhere or fails loudly.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from functools import lru_cache
from pathlib import Path

import yaml

from mallcrm.core.settings import EXPORT_FORMATS_FILE

# <entity>_<YYYYMMDD>[<suffix>].<ext>; a suffix such as "_resend" marks a re-sent file.
FILE_NAME_PATTERN = re.compile(
    r"^(?P<entity>[a-z][a-z_]*?)_(?P<day>\d{8})(?P<suffix>[._-][A-Za-z0-9._-]*)?\.(?P<ext>csv|jsonl|parquet)$"
)
EXTENSIONS = {"csv": "csv", "jsonl": "jsonl", "parquet": "parquet"}


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    required: bool
    description: str
    # may be absent from a file (exports older than the column): read as NULL, not refused
    optional: bool = False


COMPLETENESS_MODES = ("settle", "marker")


@dataclass(frozen=True)
class Completeness:
    """When a file in the inbox is complete enough to load (`completeness:` in the yml).

    settle: the file has not changed for `seconds` (its mtime is that old; a file that
    would settle within a few seconds is waited for, once per run). marker: the exporter
    writes `<file name><suffix>` (e.g. `transactions_20260101.csv.done`) after the file.
    A file not yet complete is left in the inbox, listed as waiting, and loaded by a
    later run; nothing of it is read before."""

    mode: str = "settle"
    seconds: float = 2.0
    suffix: str = ".done"

    def describe(self) -> str:
        if self.mode == "marker":
            return f"marker: a file is loaded once `<file name>{self.suffix}` exists beside it"
        return f"settle: a file is loaded once it has not changed for {self.seconds:g} s (its modification time)"


def parse_completeness(spec: dict | None, default: Completeness | None = None) -> Completeness:
    base = default or Completeness()
    if not spec:
        return base
    unknown = set(spec) - {"mode", "seconds", "suffix"}
    if unknown:
        raise ValueError(f"completeness: unknown key(s) {', '.join(sorted(unknown))} (mode, seconds, suffix)")
    mode = str(spec.get("mode", base.mode))
    if mode not in COMPLETENESS_MODES:
        raise ValueError(f"completeness: mode {mode!r} is not one of {', '.join(COMPLETENESS_MODES)}")
    seconds = float(spec.get("seconds", base.seconds))
    if seconds < 0:
        raise ValueError(f"completeness: seconds must be >= 0, not {seconds:g}")
    suffix = str(spec.get("suffix", base.suffix))
    if mode == "marker" and (not suffix.startswith(".") or FILE_NAME_PATTERN.match(f"x_20260101{suffix}")):
        raise ValueError(f"completeness: marker suffix {suffix!r} must start with '.' and not look like an export")
    return Completeness(mode=mode, seconds=seconds, suffix=suffix)


@dataclass(frozen=True)
class ExportFormat:
    """One entity of one source system: how its files look and what a valid row is."""

    system: str
    entity: str
    dataset: str
    format: str
    encodings: tuple[str, ...]
    primary_key: tuple[str, ...]
    description: str
    columns: tuple[Column, ...]
    rules: tuple[tuple[str, str], ...]
    freeze_columns: bool
    completeness: Completeness = Completeness()

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def extension(self) -> str:
        return EXTENSIONS[self.format]

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(name)

    def file_name(self, day: date) -> str:
        return f"{self.entity}_{day:%Y%m%d}.{self.extension}"


@dataclass(frozen=True)
class Contract:
    version: str
    formats: tuple[ExportFormat, ...]
    system_descriptions: dict[str, str]

    def get(self, system: str, entity: str) -> ExportFormat:
        for f in self.formats:
            if f.system == system and f.entity == entity:
                return f
        raise KeyError(f"{system}/{entity} is not in the export contract")

    @property
    def systems(self) -> list[str]:
        return list(dict.fromkeys(f.system for f in self.formats))

    def for_system(self, system: str) -> list[ExportFormat]:
        return [f for f in self.formats if f.system == system]

    def dataset(self, system: str) -> str:
        return self.for_system(system)[0].dataset

    def completeness(self, system: str) -> Completeness:
        return self.for_system(system)[0].completeness


def parse_contract(raw: dict) -> Contract:
    formats = []
    default_completeness = parse_completeness(raw.get("completeness"))
    for system, sys_spec in raw["systems"].items():
        completeness = parse_completeness(sys_spec.get("completeness"), default_completeness)
        for entity, spec in sys_spec["entities"].items():
            columns = tuple(
                Column(
                    name=name,
                    type=str(col["type"]).upper(),
                    required=bool(col.get("required", False)),
                    description=col.get("description", ""),
                    optional=bool(col.get("optional", False)),
                )
                for name, col in spec["columns"].items()
            )
            formats.append(
                ExportFormat(
                    system=system,
                    entity=entity,
                    dataset=sys_spec["dataset"],
                    format=spec["format"],
                    encodings=tuple(spec.get("encodings", ["utf-8"])),
                    primary_key=tuple(spec["primary_key"]),
                    description=spec.get("description", ""),
                    columns=columns,
                    rules=tuple((spec.get("rules") or {}).items()),
                    freeze_columns=bool(sys_spec.get("freeze_columns", False)),
                    completeness=completeness,
                )
            )
    return Contract(
        version=str(raw["version"]),
        formats=tuple(formats),
        system_descriptions={s: v.get("description", "") for s, v in raw["systems"].items()},
    )


@lru_cache(maxsize=4)
def load_contract(path: Path = EXPORT_FORMATS_FILE) -> Contract:
    with open(path, encoding="utf-8") as fh:
        return parse_contract(yaml.safe_load(fh))


@dataclass(frozen=True)
class InboxFile:
    """A file in the inbox that matches an entity of the contract."""

    path: Path
    relpath: str
    export: ExportFormat
    business_date: date


def match_file(inbox: Path, path: Path, contract: Contract) -> InboxFile | str:
    """Return the file's contract entry, or a sentence saying why it does not fit one."""
    rel = path.relative_to(inbox)
    parts = rel.parts
    if len(parts) != 2:
        return f"{rel}: expected <system>/<entity>_<YYYYMMDD>.<ext> directly under the inbox"
    system, name = parts
    m = FILE_NAME_PATTERN.match(name)
    if not m:
        return f"{rel}: file name does not match <entity>_<YYYYMMDD>.<csv|jsonl|parquet>"
    try:
        export = contract.get(system, m["entity"])
    except KeyError:
        return f"{rel}: no export format '{system}/{m['entity']}' in the contract"
    if m["ext"] != export.extension:
        return f"{rel}: {system}/{export.entity} is exported as .{export.extension}, not .{m['ext']}"
    try:
        day = datetime.strptime(m["day"], "%Y%m%d").date()
    except ValueError:
        return f"{rel}: '{m['day']}' is not a valid date"
    return InboxFile(path=path, relpath=rel.as_posix(), export=export, business_date=day)
