"""Scale factor -> simulated mall. S=1 is the demo mall (5,000 members, 60 stores, a year)."""

from __future__ import annotations

import math
from datetime import timedelta

from simulator.config import SimulationConfig

DEMO_MEMBERS = 5000
DEMO_STORES = 60
DAYS = 365


def config_for_scale(scale: float, seed: int = 42, days: int | None = None) -> SimulationConfig:
    """Members grow with S, stores with sqrt(S) (a bigger mall, not a denser one), one year
    of history unless `days` says how many (the daily run's cost against history length).

    POS lines grow with members (about 17 lines per member a year), so S=10 is about
    50,000 members and 0.9 million lines. At least 10 members, the simulator's floor.
    """
    if scale <= 0:
        raise ValueError(f"scale must be positive, not {scale}")
    members = max(10, round(DEMO_MEMBERS * scale))
    stores = max(8, round(DEMO_STORES * math.sqrt(scale)))
    if days is None:
        return SimulationConfig(seed=seed, members=members, stores=stores, days=DAYS if scale >= 0.05 else 30)
    if days < 2:
        raise ValueError(f"days must be at least 2 (one is held back for the daily run), not {days}")
    # A longer history starts earlier and ends on the demo's last day: ending later would
    # date exports after today, which ingestion quarantines (export_day_not_after_load_time).
    default = SimulationConfig(seed=seed, members=members, stores=stores)
    end = default.start_date + timedelta(days=default.days - 1)
    start = end - timedelta(days=days - 1)
    return SimulationConfig(seed=seed, members=members, stores=stores, days=days, start_date=start)
