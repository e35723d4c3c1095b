"""Defect injection for `dirty=True` runs: what real source systems get wrong.

Every defect is recorded with its file (path relative to the inbox), its physical
line (header = line 1; None for whole-file defects) and what the ingestion is
expected to do with it:

| kind                 | where                          | expected       |
|----------------------|--------------------------------|----------------|
| too_many_columns     | pos/transactions row           | quarantine     |
| too_few_columns      | pos/transactions row           | quarantine     |
| non_numeric_amount   | net_amount 'abc' or "12,5"     | quarantine     |
| negative_sale_amount | sale with net_amount < 0       | quarantine     |
| unknown_member       | card no in no member file      | loaded         |
| duplicate_row        | exact copy of the line above   | loaded         |
| duplicate_file       | transactions_<day>_resend.csv  | duplicate_file |
| late_file            | ../late/pos/transaction_lines  | late_file      |
| extra_column         | members header + id_card_no    | refused_file   |
| missing_column       | complaints without severity    | refused_file   |

A defect replaces a clean row (the lines of a receipt whose header row was broken
stay in the lines file, as they would in real life). Defects planned for a day whose
file has no suitable row move to the next day; the column defects go to the first
file with rows from their planned day on (or to the last day's file, even if empty). The RNG stream is separate, so the
clean content of a dirty run is the clean run's content.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

from .config import SimulationConfig
from .contract import ExportFormat, key_of, relpath
from .population import unique_card_numbers
from .rng import stream

TXN = ("pos", "transactions")
LINES = ("pos", "transaction_lines")
COUNTS = ("sensors", "people_counts")
MEMBERS = ("membership", "members")
COMPLAINTS = ("feedback", "complaints")

ROW_DEFECTS = {  # entity -> [(kind, how many)]
    TXN: [
        ("too_many_columns", 2),
        ("too_few_columns", 2),
        ("non_numeric_amount", 4),
        ("negative_sale_amount", 2),
        ("unknown_member", 4),
        ("duplicate_row", 3),
    ],
    LINES: [("duplicate_row", 3)],
    COUNTS: [("duplicate_row", 2)],
}
EXPECTED = {
    "too_many_columns": "quarantine",
    "too_few_columns": "quarantine",
    "non_numeric_amount": "quarantine",
    "negative_sale_amount": "quarantine",
    "unknown_member": "loaded",
    "duplicate_row": "loaded",
    "duplicate_file": "duplicate_file",
    "late_file": "late_file",
    "extra_column": "refused_file",
    "missing_column": "refused_file",
}


def day_tag(rel: str) -> str:
    """'pos/transactions_20251105.csv' -> '20251105'."""
    return rel.rsplit("_", 1)[1].split(".")[0]


@dataclass
class _Pending:
    kind: str
    day: int


@dataclass
class DirtyPlan:
    config: SimulationConfig
    known_cards: set[str]
    injected: list[dict] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.rng = stream(self.config.seed, "dirty")
        days = self.config.days
        pool = np.arange(1, days) if days > 1 else np.arange(days)
        rng = self.rng
        self.dup_file_day = int(rng.choice(pool))
        self.late_day = int(rng.choice(pool))
        other = pool[pool != self.dup_file_day] if len(pool) > 1 else pool
        self.pending: dict[tuple[str, str], list[_Pending]] = {}
        for key, defects in ROW_DEFECTS.items():
            choices = other if key == TXN else pool
            if key == LINES and len(pool) > 1:
                choices = pool[pool != self.late_day]
            items = [_Pending(kind, int(rng.choice(choices))) for kind, count in defects for _ in range(count)]
            self.pending[key] = sorted(items, key=lambda p: p.day)
        early = pool[: max(1, len(pool) // 2)]  # leave room to find a file with rows
        self.extra_column_day = int(rng.choice(early))
        self.missing_column_day = int(rng.choice(early))
        self.last_day = days - 1
        self.unknown_cards = unique_card_numbers(rng, 8, self.known_cards)
        self._bad_amounts = 0

    def _record(self, file: str, line: int | None, kind: str) -> None:
        self.injected.append({"file": file, "line": line, "kind": kind, "expected": EXPECTED[kind]})

    # whole-column defects (before rendering) --------------------------------------------
    def table_hook(self, entity: ExportFormat, day: int, rel: str, table: pa.Table) -> pa.Table:
        rows_or_last = table.num_rows > 0 or day == self.last_day
        if (
            key_of(entity) == MEMBERS
            and self.extra_column_day is not None
            and day >= self.extra_column_day
            and rows_or_last
        ):
            self.extra_column_day = None
            # a resident identity card number (18 digits): never announced, never wanted
            digits = self.rng.integers(0, 10, (table.num_rows, 18)) + ord("0")
            ids = [s.decode() for s in digits.astype(np.uint8).view("S18").ravel()]
            table = table.append_column("id_card_no", pa.array(ids, pa.string()))
            self._record(rel, 1, "extra_column")
        if (
            key_of(entity) == COMPLAINTS
            and self.missing_column_day is not None
            and day >= self.missing_column_day
            and rows_or_last
        ):
            self.missing_column_day = None
            table = table.drop_columns(["severity"])
            self._record(rel, 1, "missing_column")
        return table

    # row defects and file-level defects (after rendering) -------------------------------
    def text_hook(self, entity: ExportFormat, day: int, rel: str, text: str) -> list[tuple[str, str]]:
        key = key_of(entity)
        if key in self.pending:
            text = self._rows(entity, day, rel, text)
        outputs = [(rel, text)]
        if key == TXN and day == self.dup_file_day:
            resend = relpath(entity, day_tag(rel), "_resend")
            outputs.append((resend, text))
            self._record(resend, None, "duplicate_file")
        if key == LINES and day == self.late_day:
            late = "../late/" + rel
            outputs = [(late, text)]
            self._record(late, None, "late_file")
        return outputs

    def _rows(self, entity: ExportFormat, day: int, rel: str, text: str) -> str:
        todo = [p for p in self.pending[key_of(entity)] if p.day <= day]
        if not todo:
            return text
        lines = text.split("\n")
        assert lines[-1] == ""
        entries: list[list] = [[ln, None] for ln in lines[:-1]]  # [text, kind]
        cols = entity.column_names
        n_data = len(entries) - 1
        used: set[int] = set()
        done: list[_Pending] = []
        inserts: list[tuple[int, str, str]] = []  # (after entry index, text, kind)
        for p in todo:
            row = self._pick_row(entity, entries, n_data, used, p.kind)
            if row is None:
                continue  # nothing suitable today: try again tomorrow
            used.add(row)
            done.append(p)
            fields = entries[row][0].split(",")
            assert len(fields) == len(cols), "unexpected comma inside a POS value"
            if p.kind == "duplicate_row":
                inserts.append((row, entries[row][0], p.kind))
                continue
            if p.kind == "too_many_columns":
                fields.append('"X"')
            elif p.kind == "too_few_columns":
                fields = fields[:-2]
            elif p.kind == "non_numeric_amount":
                self._bad_amounts += 1
                fields[cols.index("net_amount")] = "abc" if self._bad_amounts % 2 else '"12,5"'
            elif p.kind == "negative_sale_amount":
                fields[cols.index("net_amount")] = "-" + fields[cols.index("net_amount")]
            elif p.kind == "unknown_member":
                fields[cols.index("member_card_no")] = f'"{self.unknown_cards.pop()}"'
            entries[row] = [",".join(fields), p.kind]
        for row, line, kind in sorted(inserts, key=lambda x: -x[0]):
            entries.insert(row + 1, [line, kind])
        for i, (_, kind) in enumerate(entries):
            if kind is not None:
                self._record(rel, i + 1, kind)
        self.pending[key_of(entity)] = [p for p in self.pending[key_of(entity)] if not any(p is d for d in done)]
        return "\n".join(e[0] for e in entries) + "\n"

    def _pick_row(self, entity: ExportFormat, entries, n_data: int, used: set[int], kind: str) -> int | None:
        if n_data == 0:
            return None
        cols = entity.column_names
        candidates = np.array([i for i in range(1, n_data + 1) if i not in used], dtype=np.int64)
        if key_of(entity) == TXN and kind != "duplicate_row":
            t = cols.index("transaction_type")
            card, mob = cols.index("member_card_no"), cols.index("member_mobile")
            net = cols.index("net_amount")
            ok = []
            for i in candidates:
                f = entries[i][0].split(",")
                if f[t] != '"sale"':
                    continue
                if kind == "unknown_member" and (f[card] or f[mob]):
                    continue
                if kind == "negative_sale_amount" and float(f[net]) <= 0:
                    continue
                ok.append(i)
            candidates = np.array(ok, dtype=np.int64)
        if len(candidates) == 0:
            return None
        return int(self.rng.choice(candidates))
