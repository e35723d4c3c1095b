"""Issue 18: the simulator builds its member x store and member x day matrices in blocks,
so a million members fit in memory. Blocks never change the output; the compact float16
store preferences of a big mall keep it deterministic and statistically the same."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from simulator import SimulationConfig, behaviour, generate
from simulator.loyalty import Tiers

CONFIG = dict(seed=5, members=300, stores=9, days=20)


def _files(inbox: Path) -> dict[str, bytes]:
    return {str(p.relative_to(inbox)): p.read_bytes() for p in sorted(inbox.rglob("*")) if p.is_file()}


def test_blocks_do_not_change_a_byte(tmp_path, monkeypatch):
    generate(SimulationConfig(**CONFIG), tmp_path / "one", progress=False)
    monkeypatch.setattr(behaviour, "CHUNK_CELLS", 1000)  # 111 members x 9 stores, 2 x 365 days per block
    assert len(behaviour.row_blocks(CONFIG["members"], CONFIG["stores"])) == 3
    generate(SimulationConfig(**CONFIG), tmp_path / "blocks", progress=False)
    one, blocks = _files(tmp_path / "one"), _files(tmp_path / "blocks")
    assert one.keys() == blocks.keys()
    assert [f for f in one if one[f] != blocks[f]] == []


def test_compact_store_preferences_are_deterministic_and_alike(tmp_path, monkeypatch):
    config = {**CONFIG, "members": 2000, "days": 15}
    generate(SimulationConfig(**config), tmp_path / "dense", progress=False)
    monkeypatch.setattr(behaviour, "CHUNK_CELLS", 5000)
    monkeypatch.setattr(behaviour, "DENSE_CELLS", 5000)  # float16 preferences, as above 32M cells
    generate(SimulationConfig(**config), tmp_path / "compact", progress=False)
    generate(SimulationConfig(**config), tmp_path / "again", progress=False)
    assert _files(tmp_path / "compact") == _files(tmp_path / "again")  # deterministic
    # statistically the same mall: same members, similar receipts and lines per store
    lines = {
        name: pd.concat(pd.read_csv(p) for p in sorted((tmp_path / name / "pos").glob("transaction_lines_*.csv")))
        for name in ("dense", "compact")
    }
    a, b = (len(lines[n]) for n in ("dense", "compact"))
    assert abs(a - b) / a < 0.1, (a, b)
    tx = {
        name: pd.concat(pd.read_csv(p) for p in sorted((tmp_path / name / "pos").glob("transactions_*.csv")))
        for name in ("dense", "compact")
    }
    share = {n: tx[n]["store_id"].value_counts(normalize=True) for n in tx}
    assert (share["dense"] - share["compact"]).abs().max() < 0.05


def test_history_blocks_draw_the_same_numbers(monkeypatch):
    config = SimulationConfig(**{**CONFIG, "members": 50})
    from simulator.world import World

    world = World(config)
    receipt = np.full(50, 8000.0)
    factors = np.ones(365)
    whole = behaviour.history_spend(config, world.members, world.latent, receipt, factors)
    monkeypatch.setattr(behaviour, "CHUNK_CELLS", 365 * 7)
    blocks = behaviour.history_spend(config, world.members, world.latent, receipt, factors)
    assert whole.dtype == blocks.dtype == np.float32 and np.array_equal(whole, blocks)
    assert np.array_equal(behaviour.row_sums(whole), whole.astype(np.float64).sum(axis=1))
    rows = np.array([3, 1, 40])
    assert np.array_equal(behaviour.row_sums(whole, rows, np.float32), whole[rows].sum(axis=1))


def test_tier_window_is_a_ring_of_365_days():
    class _Members:
        n = 2

    history = np.zeros((2, 365), dtype=np.float32)
    history[0, 0] = 100.0  # 365 days before the window: leaves it on day 0
    history[1, 364] = 50.0  # the day before the window: leaves it on day 364
    tiers = Tiers(_Members(), history, 400)
    tiers.roll(0)
    assert list(tiers.rolling) == [0.0, 50.0]
    tiers.book(0, np.array([0]), np.array([30.0]))
    for day in range(1, 366):
        tiers.roll(day)
        if day == 364:
            assert list(tiers.rolling) == [30.0, 0.0]
    assert list(tiers.rolling) == [0.0, 0.0]  # day 0's spend left the window on day 365
