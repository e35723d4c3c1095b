"""Write a simulated mall's daily exports into an inbox, as the contract declares.

`generate(config, inbox)` runs the `World` day by day and writes, for each business
day, `<inbox>/<system>/<entity>_<YYYYMMDD>.<ext>`:

* every day: POS transactions and lines, members, consents, points ledger, tier
  changes, surveys, complaints, people counts, Wi-Fi dwell, coupon events (a file
  with only a header when nothing happened - the export ran, it was just a quiet day);
* on the first day and on the 1st of each month: reference stores, products, zones;
* on the day a campaign is created: campaigns; on assignment days: assignments.

The first day's membership files also carry the history before the window (all
existing members, their consent events, opening point balances as back-dated earn
entries), as an initial full export would.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from tqdm import tqdm

from . import writers
from .activation import Activation
from .config import SimulationConfig
from .contract import entities, load_contract, relpath
from .dirty import DirtyPlan
from .world import World

EVENT_DRIVEN = {("marketing", "campaigns"), ("marketing", "assignments")}


@dataclass
class GenerationReport:
    """What was written: files, rows per file and per entity, injected defects."""

    config: dict
    inbox: str
    files: list[str] = field(default_factory=list)
    rows: dict[str, int] = field(default_factory=dict)
    totals: dict[tuple[str, str], int] = field(default_factory=dict)
    injected: list[dict] = field(default_factory=list)
    seconds: float = 0.0

    def to_dict(self) -> dict:
        data = asdict(self)
        data["totals"] = {f"{s}/{e}": n for (s, e), n in sorted(self.totals.items())}
        return data

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, indent=indent)


def generate(
    config: SimulationConfig,
    inbox: Path,
    progress: bool = True,
    days: range | None = None,
    activations: list[Activation] | None = None,
) -> GenerationReport:
    """Simulate `config.days` business days and write their export files into `inbox`.

    `days` (indexes of the window) limits which days are written: the mall is always
    simulated from its first day, so a later part of the window written in a second
    call continues the first exactly. `activations` are the warehouse's audience exports
    the mall responds to (simulator/activation.py)."""
    started = time.perf_counter()
    inbox = Path(inbox)
    contract = entities(load_contract())
    world = World(config, activations)
    written = days if days is not None else range(config.days)
    report = GenerationReport(config=config.to_dict(), inbox=str(inbox))
    for key in contract:
        report.totals[key] = 0
    dirty = DirtyPlan(config, set(world.members.card_no)) if config.dirty else None

    for idx in tqdm(range(min(config.days, written.stop)), desc="simulating days", unit="day", disable=not progress):
        day = world.day(idx)
        produced = world.step(day)
        if idx not in written:
            continue
        for key, entity in contract.items():
            if key not in produced:
                if key in EVENT_DRIVEN or key[0] == "reference":
                    continue
                raise KeyError(f"the simulator produced no {key[0]}/{key[1]} on {day.date}")
            rel_day = relpath(entity, day.tag)
            table = writers.to_table(entity, produced[key])
            if dirty is not None:
                table = dirty.table_hook(entity, idx, rel_day, table)
            if entity.format == "csv":
                outputs = [(rel_day, writers.csv_text(table))]
                if dirty is not None:
                    outputs = dirty.text_hook(entity, idx, rel_day, outputs[0][1])
            elif entity.format == "jsonl":
                outputs = [(rel_day, writers.jsonl_text(table))]
            else:
                outputs = [(rel_day, writers.parquet_bytes(table))]
            encoding = writers.encoding_for(entity, config.pos_encoding)
            for rel, content in outputs:
                path = inbox / rel
                path.parent.mkdir(parents=True, exist_ok=True)
                data = content if isinstance(content, bytes) else content.encode(encoding)
                path.write_bytes(data)
                rows = writers.data_rows(content, entity.format)
                report.files.append(rel)
                report.rows[rel] = rows
                report.totals[key] += rows
    if dirty is not None:
        report.injected = dirty.injected
    report.seconds = round(time.perf_counter() - started, 3)
    return report
