"""The export-format contract, read at run time through the shared `mallcrm.core.contract`.

The simulator never hard-codes a column list: it asks the contract (the yml at
`mallcrm.core.settings.EXPORT_FORMATS_FILE`) for the order, types and format of every
file it writes, so a contract change shows up as a failing test instead of as
silently drifting files. These helpers add what only the writer needs.
"""

from __future__ import annotations

import re

from mallcrm.core.contract import Column, Contract, ExportFormat
from mallcrm.core.contract import load_contract as _load_contract
from mallcrm.core.settings import EXPORT_FORMATS_FILE

Key = tuple[str, str]
_DECIMAL = re.compile(r"DECIMAL\((\d+),\s*(\d+)\)", re.IGNORECASE)


def load_contract() -> Contract:

    return _load_contract(EXPORT_FORMATS_FILE)


def entities(contract: Contract) -> dict[Key, ExportFormat]:
    """(system, entity) -> export format, in contract order."""
    return {(f.system, f.entity): f for f in contract.formats}


def key_of(export: ExportFormat) -> Key:
    return (export.system, export.entity)


def relpath(export: ExportFormat, day_tag: str, suffix: str = "") -> str:
    """`<system>/<entity>_<YYYYMMDD><suffix>.<ext>` for a business day tag."""
    return f"{export.system}/{export.entity}_{day_tag}{suffix}.{export.extension}"


def decimal_spec(column: Column) -> tuple[int, int] | None:
    """(precision, scale) of a DECIMAL(p,s) column, None for other types."""
    m = _DECIMAL.fullmatch(column.type)
    return (int(m.group(1)), int(m.group(2))) if m else None
