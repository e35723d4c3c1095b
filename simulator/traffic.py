"""Foot traffic: door/zone counters every 15 minutes and Wi-Fi probe dwell per device.

Footfall is drawn for the day from the mall's expected footfall (its expected
receipts of an ordinary day over VISITOR_CONVERSION, scaled by the calendar factor),
not from the day's receipts, so conversion (receipts per visitor) is measured, not
built in: it moves with campaigns, churn and new members. Arrivals peak before lunch
and in the evening; people leave after a mall visit of about 1.5 hours, so the
out-counts lag the in-counts and the last interval flushes the mall at closing.

Wi-Fi dwell depends on the zone type (DWELL_BY_ZONE_TYPE: a film, a meal, a
supermarket shop, a fashion browse, a walk through an entrance); a device's zones
follow one another in time. The published ranges behind every figure are in
docs/simulator.md.

Wi-Fi devices come from a persistent pool (regulars come back, so repeat visits
are measurable). The vendor hashes device MACs with a salt: only sha256 hex digests
are written; the fake MACs never leave this module.
"""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd

from .frames import Day
from .rng import stream

ARRIVAL_BY_HOUR = np.array([0.07, 0.09, 0.11, 0.09, 0.09, 0.09, 0.09, 0.10, 0.11, 0.09, 0.05, 0.02])  # 10:00 .. 21:00
INTERVALS = 48  # 10:00-22:00 in 15-minute steps
VISITOR_CONVERSION = 0.5  # sale receipts per visitor on an ordinary day (docs/simulator.md)
WIFI_SHARE = 0.32
# Wi-Fi dwell per zone type: (median minutes, lognormal sigma, max minutes), sources in docs/simulator.md
DWELL_BY_ZONE_TYPE = {
    "entrance": (2.0, 0.6, 15),
    "parking": (5.0, 0.5, 30),
    "atrium": (8.0, 0.7, 60),
    "retail": (18.0, 0.6, 90),
    "fashion": (20.0, 0.6, 90),
    "kids": (30.0, 0.6, 120),
    "supermarket": (32.0, 0.45, 120),
    "food_court": (38.0, 0.4, 120),
    "cinema": (135.0, 0.15, 240),
}
WALK_SECONDS = (2 * 60, 12 * 60)  # from one zone to the next
OPEN_SECONDS, CLOSE_SECONDS = 9 * 3600 + 50 * 60, 22 * 3600 + 15 * 60  # first and last probes of a day


def _shapes() -> tuple[np.ndarray, np.ndarray]:
    """In and out shapes over the 48 intervals (each sums to 1)."""
    hourly = np.repeat(ARRIVAL_BY_HOUR / 4, 4)
    smooth = np.convolve(hourly, np.ones(3) / 3, mode="same")
    smooth[0] = hourly[0]
    inn = smooth / smooth.sum()
    lags = np.arange(0, 25)
    kernel = np.exp(-((np.log(lags + 0.5) - np.log(6)) ** 2) / (2 * 0.5**2))
    kernel /= kernel.sum()
    out = np.zeros(INTERVALS)
    for i, w in enumerate(inn):
        for lag, k in zip(lags, kernel, strict=True):
            out[min(i + lag, INTERVALS - 1)] += w * k
    return inn, out / out.sum()


class Traffic:
    def __init__(self, seed: int, zones: pd.DataFrame, members: int, daily_receipts: float):
        """`daily_receipts`: the receipts the mall expects on an ordinary day (calendar factor 1)."""
        self.rng = stream(seed, "traffic")
        unknown = sorted(set(zones["zone_type"]) - set(DWELL_BY_ZONE_TYPE))
        if unknown:
            raise ValueError(f"simulator/traffic.py DWELL_BY_ZONE_TYPE has no dwell for zone type(s) {unknown}")
        self.daily_visitors = daily_receipts / VISITOR_CONVERSION
        rows = []
        k = 0
        for z in zones.itertuples(index=False):
            for _ in range(int(z.counters)):
                k += 1
                rows.append(
                    (
                        f"PC{k:02d}",
                        z.zone_id,
                        "entrance" if z.zone_type == "entrance" else "zone",
                        z.visitor_share / z.counters,
                    )
                )
        self.counters = pd.DataFrame(rows, columns=["counter_id", "zone_id", "location_type", "share"])
        self.zone_ids = zones["zone_id"].to_numpy(dtype=object)
        self.zone_share = zones["visitor_share"].to_numpy(dtype=float)
        dwell = np.array([DWELL_BY_ZONE_TYPE[t] for t in zones["zone_type"]], dtype=float)
        self.dwell_log_median, self.dwell_sigma, self.dwell_max = np.log(dwell[:, 0]), dwell[:, 1], dwell[:, 2]
        self.in_shape, self.out_shape = _shapes()
        # device pool: fake MACs hashed once with the vendor salt
        pool = max(400, 4 * members)
        mac_bytes = self.rng.integers(0, 256, (pool, 6), dtype=np.uint8)
        mac_bytes[:, 0] = (mac_bytes[:, 0] & 0xFC) | 0x02  # locally administered, unicast
        salt = f"probe-vendor-{seed}-".encode()
        self.device_hash = np.array(
            [hashlib.sha256(salt + ":".join(f"{b:02x}" for b in mac).encode()).hexdigest() for mac in mac_bytes],
            dtype=object,
        )
        self.propensity = self.rng.gamma(0.6, 1.0, pool)

    def visitors(self, day: Day) -> int:
        """The day's footfall: expected visitors x calendar factor x day noise (weather, events)."""
        return int(self.rng.poisson(self.daily_visitors * day.factor * self.rng.lognormal(0, 0.08)))

    def people_counts(self, day: Day, visitors: int) -> dict[str, np.ndarray]:
        c = self.counters
        n_c = len(c)
        starts = day.at(10 * 3600 + np.arange(INTERVALS) * 900)
        exp_in = visitors * c["share"].to_numpy()[:, None] * self.in_shape[None, :]
        exp_out = visitors * c["share"].to_numpy()[:, None] * self.out_shape[None, :]
        noise = self.rng.lognormal(0, 0.05, (n_c, 1))
        return {
            "counter_id": np.repeat(c["counter_id"].to_numpy(dtype=object), INTERVALS),
            "zone_id": np.repeat(c["zone_id"].to_numpy(dtype=object), INTERVALS),
            "location_type": np.repeat(c["location_type"].to_numpy(dtype=object), INTERVALS),
            "interval_start": np.tile(starts, n_c),
            "interval_minutes": np.full(n_c * INTERVALS, 15, dtype=np.int64),
            "count_in": self.rng.poisson(exp_in * noise).ravel(),
            "count_out": self.rng.poisson(exp_out * noise).ravel(),
        }

    def wifi(self, day: Day, visitors: int) -> dict[str, np.ndarray]:
        rng = self.rng
        expected = visitors * WIFI_SHARE
        p = np.minimum(1.0, self.propensity * expected / self.propensity.sum())
        dev = np.flatnonzero(rng.random(len(p)) < p)
        n = len(dev)
        k = np.clip(1 + rng.poisson(1.2, n), 1, 5)
        # Gumbel top-k: weighted zones without replacement, per device
        keys = np.log(self.zone_share)[None, :] + rng.gumbel(size=(n, len(self.zone_share)))
        ranked = np.argsort(-keys, axis=1)
        take = np.arange(len(self.zone_share))[None, :] < k[:, None]
        dev_rows = np.repeat(dev, k)
        zone = ranked[take]
        hours = rng.choice(np.arange(10, 22), n, p=ARRIVAL_BY_HOUR / ARRIVAL_BY_HOUR.sum())
        arrive = hours * 3600 + rng.integers(0, 3600, n)
        m = len(dev_rows)
        minutes = rng.lognormal(self.dwell_log_median[zone], self.dwell_sigma[zone])
        dwell = np.clip(np.rint(minutes), 1, self.dwell_max[zone]).astype(np.int64)
        visits = 1 + (rng.random(m) < 0.2) + (rng.random(m) < 0.05)
        away = (visits - 1) * rng.integers(5 * 60, 30 * 60, m)  # left the zone and came back
        # the device's zones follow one another: each starts after the previous ones and a walk
        span = dwell * 60 + away + rng.integers(*WALK_SECONDS, m)
        before = np.cumsum(span) - span
        starts = np.cumsum(k) - k  # first row of each device
        first = np.repeat(arrive, k) + before - np.repeat(before[starts] if m else starts, k)
        last = first + dwell * 60 + away
        # a device still inside at closing came earlier: shift its whole day back
        late = np.maximum.reduceat(last, starts) - CLOSE_SECONDS if m else starts
        shift = np.repeat(np.maximum(late, 0), k)
        first = np.maximum(first - shift, OPEN_SECONDS)
        last = np.maximum(last - shift, first)
        dwell = np.minimum(dwell, (last - first) // 60)
        order = np.lexsort((zone, self.device_hash[dev_rows].astype(str)))
        return {
            "device_hash": self.device_hash[dev_rows][order],
            "zone_id": self.zone_ids[zone][order],
            "visit_date": np.full(m, day.d64),
            "first_seen_at": day.at(first)[order],
            "last_seen_at": day.at(last)[order],
            "dwell_minutes": dwell[order].astype(np.int64),
            "visits": visits[order].astype(np.int64),
        }
