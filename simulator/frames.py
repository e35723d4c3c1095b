"""Small containers shared by the generators: the business-day context and a row buffer.

Generators append whole column arrays (never single rows) to a `Rows` buffer; the
buffer is concatenated once per day, right before writing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np

SECONDS_PER_DAY = 86400


@dataclass(frozen=True)
class Day:
    idx: int  # 0-based day of the window
    date: date
    factor: float  # calendar traffic factor
    festival: bool

    @property
    def d64(self) -> np.datetime64:
        return np.datetime64(self.date.isoformat(), "D")

    @property
    def midnight(self) -> np.datetime64:
        return self.d64.astype("datetime64[s]")

    @property
    def tag(self) -> str:
        return self.date.strftime("%Y%m%d")

    def at(self, seconds) -> np.ndarray:
        """Timestamps on this day from seconds after midnight (array-like)."""
        return self.midnight + np.asarray(seconds, dtype=np.int64).astype("timedelta64[s]")

    def end_of_day(self) -> np.datetime64:
        return self.midnight + np.timedelta64(SECONDS_PER_DAY - 1, "s")


class Rows:
    """Column-wise buffer: append dicts of equally long arrays, get one dict back."""

    def __init__(self, columns: list[str]):
        self.columns = list(columns)
        self._parts: list[dict[str, np.ndarray]] = []

    def add(self, **cols) -> None:
        missing = set(self.columns) - set(cols)
        extra = set(cols) - set(self.columns)
        if missing or extra:
            raise KeyError(f"columns mismatch: missing {sorted(missing)}, extra {sorted(extra)}")
        lengths = {len(np.atleast_1d(v)) for v in cols.values() if np.ndim(v) > 0}
        n = max(lengths) if lengths else 1
        if len(lengths) > 1:
            raise ValueError(f"ragged columns: {lengths}")
        if n == 0:
            return
        part = {}
        for k in self.columns:
            v = cols[k]
            part[k] = np.asarray(v) if np.ndim(v) > 0 else np.full(n, v, dtype=object)
        self._parts.append(part)

    def __len__(self) -> int:
        return sum(len(next(iter(p.values()))) for p in self._parts)

    def take(self) -> dict[str, np.ndarray]:
        """All buffered rows (and empty the buffer)."""
        if not self._parts:
            out = {k: np.zeros(0, dtype=object) for k in self.columns}
        else:
            out = {k: _concat([p[k] for p in self._parts]) for k in self.columns}
        self._parts = []
        return out


def _concat(arrays: list[np.ndarray]) -> np.ndarray:
    kinds = {a.dtype.kind for a in arrays}
    if len(kinds) == 1 and "O" not in kinds and "U" not in kinds:
        return np.concatenate(arrays)
    if kinds <= {"M"}:
        return np.concatenate(arrays)
    return np.concatenate([a.astype(object) for a in arrays])


def sort_columns(cols: dict[str, np.ndarray], *keys: str) -> dict[str, np.ndarray]:
    """Stable sort of a column dict by the given keys (first key most significant)."""
    n = len(next(iter(cols.values()))) if cols else 0
    if n == 0 or not keys:
        return cols
    order = np.lexsort([_sortable(cols[k]) for k in reversed(keys)])
    return {k: v[order] for k, v in cols.items()}


def _sortable(a: np.ndarray) -> np.ndarray:
    if a.dtype == object:
        return np.array(["" if x is None else str(x) for x in a])
    return a
