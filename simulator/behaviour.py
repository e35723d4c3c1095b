"""Latent customer behaviour: who buys, how often, how much, and when they stop.

The model is BG/NBD-like so that churn and lifetime value are learnable from the
receipts alone:

* each member has a purchase rate `rate` (Gamma heterogeneity, purchases per day on
  an ordinary day) scaled by the calendar factor of the day (weekends, festivals);
* after every purchase the member becomes inactive with probability `p_drop`
  (Beta heterogeneity). Instead of a coin per purchase we draw, once, the number of
  purchases left before dropping out (`remaining`, Geometric(p_drop)) - the same
  distribution, but it lets the feedback model know who is *about to* drop out;
* a member is "at risk" once `remaining <= risk_k`, where risk_k is the number of
  purchases the member makes in ~60 days; from then on the member leaves within
  30-75 days at the latest, comes less often (x0.6), and answers surveys and
  complains worse - falling frequency and low scores are leading indicators of
  churn, as in real life;
* spend level (`spend`, lognormal) tilts baskets towards more lines and pricier
  products, giving monetary value its own heterogeneity;
* ~12% of members are "potential" customers who never buy; kids hardly buy;
* campaign treatment adds purchases on top (`uplift`) without consuming the
  dropout budget, so the measured uplift is a true incremental effect; dormant-segment
  campaigns also revive some inactive members;
* a complaint can shorten the remaining life (more so when handled badly).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .config import SimulationConfig
from .population import Members, Products, Stores
from .rng import stream

# Memory bound (issue 18): the member x store and member x day matrices are built in
# blocks of at most CHUNK_CELLS cells (32 MB of float64 per temporary), drawing the same
# random numbers in the same order as one block would, so the output does not depend on
# the block size (tests/unit/test_simulator_scale.py). Up to DENSE_CELLS cells (S=10:
# 50,000 members x 190 stores = 9.5 million) the store preferences stay float64, and the
# output is byte for byte the one of the unblocked code; above, they are stored as
# float16 (a million members x 849 stores: 1.7 GB instead of 6.8) and widened to float64
# before any arithmetic, which keeps a big mall deterministic and statistically the same.
CHUNK_CELLS = 4_000_000
DENSE_CELLS = 32_000_000

MEAN_RATE = 0.07  # purchases per ordinary day for an average active member
UPLIFT = 0.80  # relative extra purchase rate of campaign treatment members
AT_RISK_DAYS = 60
DISENGAGED = 0.6  # at-risk members already come less often


@dataclass
class Latent:
    rate: np.ndarray
    spend: np.ndarray
    p_drop: np.ndarray
    remaining: np.ndarray  # purchases left before dropping out (mutable)
    alive: np.ndarray  # not yet dropped out (mutable)
    potential: np.ndarray  # never buys
    risk_k: np.ndarray
    satisfaction: np.ndarray  # member's baseline NPS
    death_day: np.ndarray  # day the member dropped out (<0 before the window; big = never)
    last_purchase_day: np.ndarray  # for campaign segments (mutable)
    last_complaint_day: np.ndarray  # (mutable)
    store_weight: np.ndarray  # member x store preference (rows sum to 1 over open stores)
    uplift: np.ndarray  # current extra-rate multiplier (campaign treatment), mutable
    activation_uplift: np.ndarray  # the same for exported audiences (simulator/activation.py), mutable
    deadline: np.ndarray  # day an at-risk member leaves at the latest (mutable)

    @property
    def at_risk(self) -> np.ndarray:
        return self.alive & (self.remaining <= self.risk_k)


NEVER = 10**6


def build_latent(config: SimulationConfig, members: Members, stores: Stores) -> Latent:
    rng = stream(config.seed, "latent")
    n = members.n
    shape = 1.1
    rate = rng.gamma(shape, MEAN_RATE / shape, n)
    rate = np.where(members.is_kid, rate * 0.1, rate)
    potential = rng.random(n) < 0.12
    rate = np.where(potential, 0.0, rate)
    spend = rng.lognormal(-0.18, 0.6, n)
    p_drop = rng.beta(1.3, 32.0, n)

    # Pre-existing members may already have dropped out: survival over their tenure.
    tenure = np.maximum(-members.reg_day, 0).astype(float)
    hazard = p_drop * rate
    p_alive = np.exp(-hazard * tenure)
    alive = rng.random(n) < p_alive
    u = rng.random(n)
    # time of death for the dead, from the exponential truncated to the tenure
    with np.errstate(divide="ignore", invalid="ignore"):
        t_dead = -np.log1p(-u * (1 - np.exp(-hazard * tenure))) / np.maximum(hazard, 1e-12)
    death_day = np.where(alive, NEVER, members.reg_day + np.floor(t_dead).astype(np.int64))
    death_day = np.where(potential, NEVER, death_day)
    alive = alive | potential
    remaining = rng.geometric(np.clip(p_drop, 1e-4, 1)).astype(np.int64)
    risk_k = np.maximum(1, np.round(rate * AT_RISK_DAYS * 1.1)).astype(np.int64)

    # store preferences: popularity x member's taste for categories x idiosyncratic
    cats = stores.frame["category"].to_numpy()
    uniq = sorted(set(cats))
    cat_idx = np.array([uniq.index(c) for c in cats])
    taste = rng.dirichlet(np.full(len(uniq), 0.7), n)  # member x category
    pop = stores.frame["popularity"].to_numpy()
    weight = np.empty((n, stores.n), dtype=np.float64 if n * stores.n <= DENSE_CELLS else np.float16)
    for lo, hi in row_blocks(n, stores.n):
        idio = rng.gamma(1.0, 1.0, (hi - lo, stores.n))
        block = taste[lo:hi][:, cat_idx] * pop[None, :] * idio
        block /= block.sum(axis=1, keepdims=True)
        weight[lo:hi] = block
    del idio, block

    return Latent(
        rate=rate,
        spend=spend,
        p_drop=p_drop,
        remaining=remaining,
        alive=alive,
        potential=potential,
        risk_k=risk_k,
        satisfaction=np.clip(rng.normal(8.7, 0.7, n), 6.0, 10),
        death_day=death_day,
        last_purchase_day=np.full(n, -NEVER, dtype=np.int64),
        last_complaint_day=np.full(n, -NEVER, dtype=np.int64),
        store_weight=weight,
        uplift=np.zeros(n),
        activation_uplift=np.zeros(n),
        deadline=np.full(n, NEVER, dtype=np.int64),
    )


def row_blocks(rows: int, cols: int, cells: int | None = None) -> list[tuple[int, int]]:
    """[lo, hi) row ranges of at most `cells` cells (CHUNK_CELLS); one range when it fits."""
    per = max(1, (CHUNK_CELLS if cells is None else cells) // max(cols, 1))
    return [(lo, min(lo + per, rows)) for lo in range(0, rows, per)] or [(0, 0)]


def close_store(latent: Latent, store_idx: int) -> None:
    """A closed store gets no more visits; its share goes to the member's other stores."""
    w = latent.store_weight
    w[:, store_idx] = 0.0
    if w.dtype == np.float64 and len(row_blocks(*w.shape)) == 1:
        w /= w.sum(axis=1, keepdims=True)
        return
    for lo, hi in row_blocks(*w.shape):
        block = w[lo:hi].astype(np.float64)
        w[lo:hi] = block / block.sum(axis=1, keepdims=True)


def expected_receipt_cents(latent: Latent, products: Products, stores: Stores) -> np.ndarray:
    """Rough expected receipt value per member (for the synthetic pre-window history)."""
    mean_price = products.frame.groupby("store_idx")["price_cents"].mean().reindex(range(stores.n)).to_numpy()
    w = latent.store_weight
    if w.dtype == np.float64 and len(row_blocks(*w.shape)) == 1:
        per_store = w @ mean_price
    else:
        per_store = np.concatenate([w[lo:hi].astype(np.float64) @ mean_price for lo, hi in row_blocks(*w.shape)])
    return per_store * (1.0 + 0.7 * np.sqrt(latent.spend)) * latent.spend**0.5


def history_spend(
    config: SimulationConfig, members: Members, latent: Latent, receipt_cents: np.ndarray, factors: np.ndarray
) -> np.ndarray:
    """Synthetic member spend (CNY) per day for the 365 days before the window.

    Needed for the tier of each member at the start and the opening points balance;
    members who dropped out before the window stop spending on their death day.
    """
    rng = stream(config.seed, "history")
    days = np.arange(-365, 0)
    blocks = row_blocks(members.n, len(days))
    if len(blocks) == 1:
        active = (members.reg_day[:, None] <= days[None, :]) & (latent.death_day[:, None] > days)
        lam = latent.rate[:, None] * factors[None, :] * active
        counts = rng.poisson(lam)
        value = rng.lognormal(-0.1, 0.45, counts.shape) * receipt_cents[:, None] / 100.0
        return (counts * value).astype(np.float32)
    # The same draws block by block: every Poisson count first (as one call would draw
    # them), kept as uint8 (a member makes at most a few purchases a day), then the values.
    counts = np.empty((members.n, len(days)), dtype=np.uint8)
    for lo, hi in blocks:
        active = (members.reg_day[lo:hi, None] <= days[None, :]) & (latent.death_day[lo:hi, None] > days)
        lam = latent.rate[lo:hi, None] * factors[None, :] * active
        block = rng.poisson(lam)
        if block.max(initial=0) > np.iinfo(np.uint8).max:
            raise OverflowError("more than 255 purchases by one member on one day")
        counts[lo:hi] = block
    out = np.empty((members.n, len(days)), dtype=np.float32)
    for lo, hi in blocks:
        value = rng.lognormal(-0.1, 0.45, (hi - lo, len(days))) * receipt_cents[lo:hi, None] / 100.0
        out[lo:hi] = (counts[lo:hi].astype(np.int64) * value).astype(np.float32)
    return out


def row_sums(matrix: np.ndarray, rows: np.ndarray | None = None, dtype=np.float64) -> np.ndarray:
    """matrix[rows].astype(dtype).sum(axis=1), block by block (no full-size copy)."""
    rows = np.arange(len(matrix)) if rows is None else np.asarray(rows)
    blocks = row_blocks(len(rows), matrix.shape[1])
    if len(blocks) == 1:
        return matrix[rows].astype(dtype).sum(axis=1)
    return np.concatenate([matrix[rows[lo:hi]].astype(dtype).sum(axis=1) for lo, hi in blocks])


def purchases_today(
    rng: np.random.Generator, members: Members, latent: Latent, day: int, factor: float
) -> tuple[np.ndarray, np.ndarray]:
    """Member receipts of the day: (member index per receipt, is-extra flag).

    Base purchases consume the dropout budget; campaign extras do not.
    """
    eligible = latent.alive & ~latent.potential & ~members.closed & (members.reg_day <= day)
    newly = eligible & latent.at_risk & (latent.deadline == NEVER)
    latent.deadline[newly] = day + rng.integers(30, 76, int(newly.sum()))
    leaving = eligible & (latent.deadline <= day)
    latent.alive[leaving] = False
    latent.death_day[leaving] = day
    eligible &= ~leaving
    lam = latent.rate * factor * eligible * np.where(latent.at_risk, DISENGAGED, 1.0)
    base = np.minimum(rng.poisson(lam), 3)
    base = np.minimum(base, latent.remaining)
    extra = np.minimum(rng.poisson(lam * (latent.uplift + latent.activation_uplift)), 2)
    latent.remaining -= base
    dropped = eligible & (latent.remaining <= 0)
    latent.alive &= ~dropped
    latent.death_day[dropped] = day
    idx = np.arange(members.n)
    who = np.concatenate([np.repeat(idx, base), np.repeat(idx, extra)])
    flag = np.concatenate([np.zeros(int(base.sum()), bool), np.ones(int(extra.sum()), bool)])
    if len(who):
        latent.last_purchase_day[who] = day
    return who, flag


def revive(rng: np.random.Generator, latent: Latent, members: Members, idx: np.ndarray, prob: float) -> np.ndarray:
    """Campaign wins back some inactive members: they get a fresh purchase budget."""
    dead = idx[~latent.alive[idx] & ~members.closed[idx] & ~latent.potential[idx]]
    back = dead[rng.random(len(dead)) < prob]
    latent.alive[back] = True
    latent.remaining[back] = rng.geometric(np.clip(latent.p_drop[back], 1e-4, 1))
    latent.death_day[back] = NEVER
    latent.deadline[back] = NEVER
    return back


def shorten_life(rng: np.random.Generator, latent: Latent, idx: np.ndarray, bad: np.ndarray) -> None:
    """After a complaint, some members decide to leave soon (more after bad handling)."""
    if len(idx) == 0:
        return
    p = np.where(bad, 0.6, 0.35)
    hit = idx[rng.random(len(idx)) < p]
    if len(hit):
        latent.remaining[hit] = np.minimum(latent.remaining[hit], rng.geometric(0.45, len(hit)))
