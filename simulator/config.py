"""Simulation knobs. Everything else is derived from the seed, so one config = one mall."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date


@dataclass
class SimulationConfig:
    """Size, time window and flavour of a simulated mall.

    `pos_encoding` picks the legacy POS encoding ("utf-8" or "gbk"); entities whose
    contract allows GBK (POS and reference snapshots) are then written in GBK.
    `dirty` injects the defects documented in `simulator.dirty`.
    """

    seed: int = 42
    members: int = 5000
    stores: int = 60
    days: int = 365
    start_date: date = field(default_factory=lambda: date(2025, 11, 1))
    pos_encoding: str = "utf-8"
    dirty: bool = False
    multi_arm_every: int = 3  # every n-th campaign tests 2-3 treatment arms (simulator.marketing); 0: none

    def __post_init__(self) -> None:
        if self.pos_encoding.lower().replace("_", "-") not in ("utf-8", "utf8", "gbk"):
            raise ValueError(f"pos_encoding must be 'utf-8' or 'gbk', not {self.pos_encoding!r}")
        self.pos_encoding = "gbk" if self.pos_encoding.lower() == "gbk" else "utf-8"
        if self.members < 10 or self.stores < 2 or self.days < 1:
            raise ValueError("need at least 10 members, 2 stores and 1 day")

    def to_dict(self) -> dict:
        data = asdict(self)
        data["start_date"] = self.start_date.isoformat()
        return data
