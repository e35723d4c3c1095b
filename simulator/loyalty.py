"""Loyalty programme: points ledger, tiers, consents and member record changes.

Points: 1 point per full CNY of net amount on identified member sales; 100 points
pay 1 CNY. Points earned in year Y expire on 31 Dec of Y+1 (`expires_on`); the
balance is kept in per-expiry-year buckets and spent oldest-first, so year-end
`expire` entries are exactly the unused points of the expiring bucket. Refunds take
back the points of the refunded amount (`adjust`, negative, referencing the refund
receipt); service-desk goodwill gestures are positive `adjust`s. Family members move
points to each other (`transfer_out`/`transfer_in` pairs with the family group id).

Earn entries say where the points came from (`earn_source`): `purchase` (1 point per
CNY; on festival days times the day's multiplier, `purchase_multiplier`, the extra in
`bonus_points`), online `check_in` and `game` (a few points per event, awarded by the
digital channels), `review` (a survey answer with a comment) and `birthday` (a gift on
the member's birthday). Service-desk goodwill `adjust`s carry `goodwill`. `multiplier`
is the factor applied (1.0 normally).

Tiers follow the rolling 12-month net spend: silver >= 2,000, gold >= 8,000,
diamond >= 20,000 CNY. Crossing a threshold upgrades at once (`spend_threshold`);
the annual review on 1 January re-rates everyone (so downgrades happen there);
a few `manual` upgrades come from the service desk.

Consents are events per scope. At registration members grant each scope with its own
probability; later some withdraw (all of them when closing the account) and a few
opt in. Campaigns only target members with the marketing consent of their channel.
"""

from __future__ import annotations

from datetime import date

import numpy as np

from . import calendar
from .feedback import UTC_OFFSET
from .frames import Day, Rows
from .population import Members, mall_opened
from .rng import stream

TIER_THRESHOLDS = np.array([0.0, 2000.0, 8000.0, 20000.0])
SCOPES = (
    "marketing_sms",
    "marketing_wechat",
    "marketing_email",
    "analytics",
    "third_party_sharing",
    "location_tracking",
)
GRANT_PROB = (0.60, 0.62, 0.58, 0.85, 0.10, 0.30)
LEDGER_COLUMNS = [
    "entry_id",
    "member_id",
    "entry_at",
    "entry_type",
    "points",
    "transaction_id",
    "expires_on",
    "family_group_id",
    "earn_source",
    "multiplier",
    "bonus_points",
]
# Festival purchase multipliers: +20% on every promotion day (`calendar.is_festival`),
# +50% on the peak days the mall advertises double points for.
FESTIVAL_MULTIPLIER = 1.2
PEAK_MULTIPLIER = {"spring_festival": 1.5, "618": 1.5, "national_day": 1.5, "double_11": 1.5, "christmas": 1.5}
# Points per online engagement event (a daily check-in, a mini-game prize, a review).
ACTIVITY_POINTS = {"check_in": 5, "game": 20, "review": 50}
# Birthday gift (生日礼): points on the member's birthday (29 February: 28 February in common years).
BIRTHDAY_POINTS = 200
CONSENT_COLUMNS = ["consent_event_id", "member_id", "scope", "granted", "event_at", "channel", "policy_version"]
TIER_COLUMNS = ["change_id", "member_id", "changed_at", "from_tier", "to_tier", "reason"]
NAT = np.datetime64("NaT", "s")


def tier_of(spend: np.ndarray) -> np.ndarray:
    return np.searchsorted(TIER_THRESHOLDS, spend, side="right") - 1


def year_end(years: np.ndarray) -> np.ndarray:
    """31 December of each year (vectorized)."""
    first_next = (np.asarray(years, np.int64) + 1 - 1970).astype("datetime64[Y]")
    return first_next.astype("datetime64[D]") - np.timedelta64(1, "D")


def _column(value, n: int, dtype) -> np.ndarray:
    """A scalar repeated n times, or the given array."""
    return np.full(n, value, dtype=dtype) if np.ndim(value) == 0 else np.asarray(value, dtype=dtype)


def purchase_multiplier(d: date) -> float:
    """Points multiplier on purchases of one day (1.0 outside festivals)."""
    if not calendar.is_festival(d):
        return 1.0
    return PEAK_MULTIPLIER.get(calendar.day_info(d).name, FESTIVAL_MULTIPLIER)


def policy_versions(start: date) -> tuple[np.ndarray, np.ndarray]:
    """(effective-from timestamps, version labels) of the privacy notice."""
    dates = [mall_opened(start), date(2021, 11, 1), date(2023, 6, 1), date(2026, 3, 1)]
    labels = ["v1.0", "v2.0-PIPL", "v2.1", "v3.0"]
    ts = np.array([d.isoformat() for d in dates], dtype="datetime64[s]")
    return ts, np.array(labels, dtype=object)


class Points:
    """Point balances per member and expiry year, and the ledger rows they produce."""

    def __init__(self, members: Members, first_year: int, last_year: int):
        self.members = members
        self.base_year = first_year
        self.buckets = np.zeros((members.n, last_year - first_year + 2), dtype=np.int64)
        self.rows = Rows(LEDGER_COLUMNS)
        self._next_id = 1
        self._birthdays: tuple[np.ndarray, np.ndarray] | None = None

    def _col(self, expiry_year: np.ndarray) -> np.ndarray:
        return np.clip(expiry_year - self.base_year, 0, self.buckets.shape[1] - 1)

    def balance(self, idx: np.ndarray) -> np.ndarray:
        return self.buckets[idx].sum(axis=1)

    def _add_rows(
        self, idx, at, entry_type, points, txn=None, expires=None, family=None, source=None, multiplier=None, bonus=None
    ):
        n = len(idx)
        if n == 0:
            return
        self.rows.add(
            entry_id=np.full(n, None, dtype=object),  # numbered in time order at day end
            member_id=self.members.member_id[idx],
            entry_at=np.asarray(at, "datetime64[s]"),
            entry_type=np.full(n, entry_type, dtype=object),
            points=np.asarray(points, np.int64),
            transaction_id=np.full(n, None, dtype=object) if txn is None else np.asarray(txn, object),
            expires_on=np.full(n, np.datetime64("NaT", "D"))
            if expires is None
            else np.asarray(expires, "datetime64[D]"),
            family_group_id=np.full(n, None, dtype=object) if family is None else np.asarray(family, object),
            earn_source=_column(source, n, object),
            multiplier=_column(np.nan if multiplier is None else multiplier, n, float),
            bonus_points=np.full(n, None, dtype=object) if bonus is None else np.asarray(bonus, object),
        )

    def earn(self, idx, points, at, txn_ids, source: str = "purchase", multiplier: float = 1.0) -> None:
        """Earn `points` (before the multiplier); the multiplier's extra is `bonus_points`."""
        keep = points > 0
        idx, points, at, txn_ids = idx[keep], points[keep], at[keep], txn_ids[keep]
        bonus = np.floor(points * (multiplier - 1.0) + 1e-9).astype(np.int64)
        total = points + bonus
        years = at.astype("datetime64[Y]").astype(np.int64) + 1970 + 1
        np.add.at(self.buckets, (idx, self._col(years)), total)
        expires = year_end(years)
        self._add_rows(idx, at, "earn", total, txn_ids, expires, source=source, multiplier=multiplier, bonus=bonus)

    def earn_purchases(self, day: Day, idx, net_cents, at, txn_ids) -> None:
        """1 point per full CNY of net amount, times the day's festival multiplier."""
        self.earn(idx, net_cents // 100, at, txn_ids, "purchase", purchase_multiplier(day.date))

    def earn_activity(self, day: Day, member_idx: np.ndarray, source: np.ndarray | str, at: np.ndarray) -> None:
        """Points for online engagement (`check_in`, `game`, `review`): ACTIVITY_POINTS each.

        Closed accounts earn nothing; `at` are mall-local timestamps on `day`."""
        member_idx = np.asarray(member_idx, np.int64)
        at = np.asarray(at, "datetime64[s]")
        sources = np.broadcast_to(np.asarray(source, dtype=object), member_idx.shape)
        unknown = set(sources.tolist()) - set(ACTIVITY_POINTS)
        if unknown:
            raise ValueError(f"earn_activity: unknown source(s) {sorted(unknown)}, expected {sorted(ACTIVITY_POINTS)}")
        open_ = ~self.members.closed[member_idx]
        for name, pts in ACTIVITY_POINTS.items():
            sel = open_ & (sources == name)
            if sel.any():
                n = int(sel.sum())
                self.earn(member_idx[sel], np.full(n, pts, np.int64), at[sel], np.full(n, None, dtype=object), name)

    def earn_reviews(self, day: Day, surveys: dict[str, np.ndarray]) -> None:
        """Review points for the day's identified survey answers that carry a comment."""
        if len(surveys.get("response_id", ())) == 0:
            return
        has = np.array(
            [
                m is not None and c is not None and c != ""
                for m, c in zip(surveys["member_id"], surveys["comment"], strict=True)
            ],
            dtype=bool,
        )
        idx = np.array([int(m[1:]) - 1 for m in surveys["member_id"][has]], dtype=np.int64)
        at = np.asarray(surveys["submitted_at"][has], "datetime64[s]") + UTC_OFFSET  # back to mall time
        self.earn_activity(day, idx, "review", at)

    def earn_birthdays(self, day: Day) -> None:
        """Birthday gift points, at 08:00, for open members registered before today."""
        m = self.members
        if self._birthdays is None:  # (month, day) of every member, computed once
            month = m.birthday.astype("datetime64[M]")
            days = (m.birthday.astype("datetime64[D]") - month.astype("datetime64[D]")).astype(np.int64) + 1
            self._birthdays = (month.astype(np.int64) % 12 + 1, days)
        mm, dd = self._birthdays
        leap = day.date.year % 4 == 0 and (day.date.year % 100 != 0 or day.date.year % 400 == 0)
        if not leap and day.date.month == 2 and day.date.day == 28:
            today = (mm == 2) & ((dd == 28) | (dd == 29))
        else:
            today = (mm == day.date.month) & (dd == day.date.day)
        idx = np.flatnonzero(today & (m.reg_day < day.idx) & ~m.closed)
        n = len(idx)
        if n:
            at = np.full(n, day.at(8 * 3600))
            self.earn(idx, np.full(n, BIRTHDAY_POINTS, np.int64), at, np.full(n, None, dtype=object), "birthday")

    def take(self, idx: np.ndarray, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Remove up to `points` oldest-first; returns (taken total, taken per bucket)."""
        taken_total = np.zeros(len(idx), dtype=np.int64)
        per_bucket = np.zeros((len(idx), self.buckets.shape[1]), dtype=np.int64)
        # members may repeat within a batch: handle one occurrence per pass
        pending = np.arange(len(idx))
        while len(pending):
            _, first = np.unique(idx[pending], return_index=True)
            now = pending[np.sort(first)]
            m = idx[now]
            b = self.buckets[m]
            before = np.cumsum(b, axis=1) - b
            take = np.clip(points[now][:, None] - before, 0, b)
            self.buckets[m] -= take
            per_bucket[now] = take
            taken_total[now] = take.sum(axis=1)
            pending = np.setdiff1d(pending, now, assume_unique=True)
        return taken_total, per_bucket

    def redeem(self, idx, points, at, txn_ids) -> None:
        taken, _ = self.take(idx, points)
        assert np.array_equal(taken, points), "redeemed more points than the balance"
        self._add_rows(idx, at, "redeem", -points, txn_ids)

    def adjust(self, idx, points, at, txn_ids=None) -> None:
        """Signed adjustment; negative ones never take more than the balance."""
        pos = points > 0
        if pos.any():
            years = at[pos].astype("datetime64[Y]").astype(np.int64) + 1970 + 1
            np.add.at(self.buckets, (idx[pos], self._col(years)), points[pos])
        neg = ~pos
        actual = points.copy()
        if neg.any():
            taken, _ = self.take(idx[neg], -points[neg])
            actual[neg] = -taken
        keep = actual != 0
        txn = None if txn_ids is None else np.asarray(txn_ids, object)[keep]
        source = np.where(actual[keep] > 0, "goodwill", None)
        mult = np.where(actual[keep] > 0, 1.0, np.nan)
        self._add_rows(idx[keep], at[keep], "adjust", actual[keep], txn, source=source, multiplier=mult)

    def transfer(self, giver, receiver, points, at, family) -> None:
        taken, per_bucket = self.take(giver, points)
        ok = taken > 0
        np.add.at(self.buckets, receiver[ok], per_bucket[ok])
        self._add_rows(giver[ok], at[ok], "transfer_out", -taken[ok], family=family[ok])
        self._add_rows(receiver[ok], at[ok], "transfer_in", taken[ok], family=family[ok])

    def expire_year(self, year: int, at: np.datetime64) -> None:
        col = int(self._col(np.array([year]))[0])
        idx = np.flatnonzero(self.buckets[:, col] > 0)
        pts = self.buckets[idx, col].copy()
        self.buckets[idx, col] = 0
        self._add_rows(idx, np.full(len(idx), at), "expire", -pts)

    def flush(self, day_tag: str) -> dict[str, np.ndarray]:
        """The day's ledger rows in time order, with entry ids."""
        cols = self.rows.take()
        n = len(cols["entry_id"])
        if n:
            order = np.argsort(cols["entry_at"], kind="stable")
            cols = {k: v[order] for k, v in cols.items()}
            cols["entry_id"] = np.char.mod("PL%010d", np.arange(self._next_id, self._next_id + n)).astype(object)
            self._next_id += n
        return cols


class Consents:
    """Consent state per member and scope, with the event rows."""

    def __init__(self, members: Members, start: date, seed: int):
        self.members = members
        self.state = np.zeros((members.n, len(SCOPES)), dtype=bool)
        self.rows = Rows(CONSENT_COLUMNS)
        self.policy_ts, self.policy_labels = policy_versions(start)
        self._next_id = 1
        self.rng = stream(seed, "consents")

    def policy_at(self, ts: np.ndarray) -> np.ndarray:
        pos = np.searchsorted(self.policy_ts, ts, side="right") - 1
        return self.policy_labels[np.clip(pos, 0, len(self.policy_labels) - 1)]

    def _emit(self, idx, scope_idx, granted, at, channel) -> None:
        if len(idx) == 0:
            return
        self.state[idx, scope_idx] = granted
        self.rows.add(
            consent_event_id=np.full(len(idx), None, dtype=object),
            member_id=self.members.member_id[idx],
            scope=np.asarray(SCOPES, dtype=object)[scope_idx],
            granted=np.full(len(idx), bool(granted)),
            event_at=np.asarray(at, "datetime64[s]"),
            channel=np.asarray(channel, dtype=object),
            policy_version=self.policy_at(at),
        )

    def register(self, idx: np.ndarray) -> None:
        """Grants given while registering (guardians of kids only allow analytics)."""
        rng = self.rng
        m = self.members
        for s, p in enumerate(GRANT_PROB):
            ok = rng.random(len(idx)) < p
            if SCOPES[s] == "marketing_email":
                ok &= np.array([e is not None for e in m.email[idx]], dtype=bool)
            if SCOPES[s] != "analytics":
                ok &= ~m.is_kid[idx]
            sel = idx[ok]
            at = m.registered_at[sel] + rng.integers(5, 90, len(sel)).astype("timedelta64[s]")
            self._emit(sel, np.full(len(sel), s), True, at, m.registration_channel[sel])

    def history_withdrawals(self, idx: np.ndarray, window_start: np.datetime64) -> None:
        """Some pre-existing members changed their mind before the window."""
        rng = self.rng
        m = self.members
        for s in range(len(SCOPES)):
            has = idx[self.state[idx, s]]
            sel = has[rng.random(len(has)) < 0.06]
            span = (window_start - m.registered_at[sel]).astype(np.int64)
            at = m.registered_at[sel] + (rng.random(len(sel)) * span).astype("timedelta64[s]")
            chan = rng.choice(["app", "wechat_mini_program", "service_desk"], len(sel))
            self._emit(sel, np.full(len(sel), s), False, at, chan)

    def daily(self, day: Day, active: np.ndarray) -> None:
        """Occasional withdrawals and late opt-ins by active members."""
        rng = self.rng
        for s in range(len(SCOPES)):
            has = active & self.state[:, s]
            w = np.flatnonzero(has & (rng.random(len(has)) < 0.00012))
            secs = rng.integers(9 * 3600, 22 * 3600, len(w))
            self._emit(
                w,
                np.full(len(w), s),
                False,
                day.at(secs),
                rng.choice(["app", "wechat_mini_program", "service_desk"], len(w)),
            )
            hasnt = active & ~self.state[:, s] & ~self.members.is_kid
            if SCOPES[s] == "marketing_email":
                hasnt &= np.array([e is not None for e in self.members.email], dtype=bool)
            g = np.flatnonzero(hasnt & (rng.random(len(has)) < 0.00006))
            secs = rng.integers(10 * 3600, 22 * 3600, len(g))
            self._emit(g, np.full(len(g), s), True, day.at(secs), rng.choice(["app", "wechat_mini_program"], len(g)))

    def withdraw_all(self, idx: np.ndarray, at: np.ndarray) -> None:
        for s in range(len(SCOPES)):
            sel = self.state[idx, s]
            self._emit(
                idx[sel],
                np.full(int(sel.sum()), s),
                False,
                at[sel],
                np.full(int(sel.sum()), "service_desk", dtype=object),
            )

    def flush(self) -> dict[str, np.ndarray]:
        cols = self.rows.take()
        n = len(cols["consent_event_id"])
        if n:
            order = np.argsort(cols["event_at"], kind="stable")
            cols = {k: v[order] for k, v in cols.items()}
            cols["consent_event_id"] = np.char.mod("CE%09d", np.arange(self._next_id, self._next_id + n)).astype(object)
            self._next_id += n
        return cols


class Tiers:
    """Rolling 12-month spend per member and the tier changes it causes."""

    def __init__(self, members: Members, history: np.ndarray, days: int):
        """`history`: member x 365 days of spend before the window (float32), taken over
        as a ring buffer: column d % 365 holds day d - 365 until `roll(d)` empties it
        for day d (a million members: 1.5 GB, not 2 x that for a year's window)."""
        from .behaviour import row_sums

        self.members = members
        self.spend = np.ascontiguousarray(history, dtype=np.float32)
        if self.spend.shape[1] != 365:
            raise ValueError(f"history must have 365 days, not {self.spend.shape[1]}")
        self.rolling = row_sums(self.spend)
        self.rows = Rows(TIER_COLUMNS)
        self._next_id = 1

    def book(self, day: int, idx: np.ndarray, cny: np.ndarray) -> None:
        """Add today's net spend (refunds negative) of members."""
        np.add.at(self.spend[:, day % 365], idx, cny.astype(np.float32))
        np.add.at(self.rolling, idx, cny)

    def roll(self, day: int) -> None:
        """Drop the day that leaves the 12-month window (call at the start of a day)."""
        column = self.spend[:, day % 365]
        self.rolling -= column
        np.maximum(self.rolling, 0, out=self.rolling)
        column[:] = 0.0

    def change(self, idx, to_tier, at, reason) -> None:
        if len(idx) == 0:
            return
        m = self.members
        from_tier = m.tier[idx].copy()
        tiers = np.asarray(("basic", "silver", "gold", "diamond"), dtype=object)
        self.rows.add(
            change_id=np.full(len(idx), None, dtype=object),
            member_id=m.member_id[idx],
            changed_at=np.asarray(at, "datetime64[s]"),
            from_tier=tiers[from_tier],
            to_tier=tiers[to_tier],
            reason=np.full(len(idx), reason, dtype=object),
        )
        m.tier[idx] = to_tier
        m.updated_at[idx] = at

    def flush(self) -> dict[str, np.ndarray]:
        cols = self.rows.take()
        n = len(cols["change_id"])
        if n:
            order = np.argsort(cols["changed_at"], kind="stable")
            cols = {k: v[order] for k, v in cols.items()}
            cols["change_id"] = np.char.mod("TC%08d", np.arange(self._next_id, self._next_id + n)).astype(object)
            self._next_id += n
        return cols
