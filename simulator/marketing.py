"""Campaigns as randomized experiments: audience, treatment/control, coupons.

About one campaign a month. It is created (and exported) a few days before it
starts; the day before the start the audience - members of the target segment who
gave the marketing consent of the campaign's channel - is split at random into
treatment and control (`control_share`, ~20%). Treatment members get a coupon on
the first day and, during the campaign, a true extra purchase rate of
`behaviour.UPLIFT`, and some inactive treatment members come back (4%, 15% in
dormant-segment campaigns).
Control members get nothing, so treatment-vs-control conversion estimates the
causal effect. Coupons are redeemed on real receipts (see `sales.apply_coupons`).

Every `multi_arm_every`-th campaign is a multi-arm test: its treated members are split
evenly at random into 2 or 3 arms ('treatment_a', 'treatment_b', 'treatment_c') that get
the same coupon with a different message, whose true uplift is `UPLIFT` scaled by the
arm's `ARM_EFFECTS` factor - so the arms' effects differ and the best arm is knowable.
Two-arm campaigns keep the single arm 'treatment' and the full `UPLIFT`. The campaign
export says how many treatment arms were planned (`treatment_arms`). Arms and their
effects are drawn from their own streams ("campaign-arms"), so the draws of every other
component (and of two-arm campaigns) are the same as without multi-arm tests.

`cost` is what is committed when the campaign is created (messages plus creative
fee); the export happens on the creation day, before any coupon is redeemed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np

from . import names
from .activation import Activation, ActivationResponder
from .behaviour import UPLIFT, Latent, revive
from .config import SimulationConfig
from .frames import Day, Rows
from .loyalty import SCOPES, Consents
from .population import Members
from .rng import stream

CAMPAIGN_COLUMNS = [
    "campaign_id",
    "campaign_name",
    "channel",
    "start_date",
    "end_date",
    "target_segment",
    "budget",
    "cost",
    "coupon_value",
    "min_spend",
    "control_share",
    "treatment_arms",
]
ASSIGNMENT_COLUMNS = ["campaign_id", "member_id", "arm", "assigned_at"]
COUPON_COLUMNS = [
    "coupon_event_id",
    "coupon_code",
    "campaign_id",
    "member_id",
    "event_type",
    "event_at",
    "transaction_id",
    "store_id",
]
CHANNEL_SCOPES = {
    "sms": ("marketing_sms",),
    "wechat": ("marketing_wechat",),
    "email": ("marketing_email",),
    "app_push": ("marketing_sms", "marketing_wechat", "marketing_email"),
}
MESSAGE_COST = {"sms": 0.05, "wechat": 0.02, "email": 0.01, "app_push": 0.0}
SEGMENT_ROTATION = ("dormant", "vip", "new_members", "all")  # families get Jan, Feb, Sep
ARM_NAMES = ("treatment_a", "treatment_b", "treatment_c")
ARM_EFFECTS = (0.4, 1.0, 1.7)  # true uplift of a multi-arm campaign's arm, as a factor of UPLIFT
CODE_ALPHABET = np.frombuffer(b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789", dtype=np.uint8)


@dataclass
class Campaign:
    number: int
    campaign_id: str
    name: str
    channel: str
    segment: str
    created_day: int
    start_day: int
    end_day: int
    start_date: date
    end_date: date
    coupon_value: int  # cents
    min_spend: int  # cents
    control_share: float
    fee: float
    arms: tuple[str, ...] = ("treatment",)
    arm_effects: tuple[float, ...] = (1.0,)  # factor of UPLIFT, one per arm
    treatment: np.ndarray | None = None
    treatment_arm: np.ndarray | None = None  # index into arms, one per treated member
    control: np.ndarray | None = None


def plan_campaigns(config: SimulationConfig) -> list[Campaign]:
    """One campaign per calendar month of the window, created on the 3rd."""
    rng = stream(config.seed, "campaign-plan")
    start = config.start_date
    out: list[Campaign] = []
    month = date(start.year, start.month, 1)
    k = 0
    while True:
        created = max(start, month + timedelta(days=2))
        created_day = (created - start).days
        start_day = created_day + 5
        if start_day >= config.days - 3:
            break
        duration = int(rng.integers(10, 19))
        s_date = start + timedelta(days=start_day)
        m = s_date.month
        theme = names.CAMPAIGN_THEMES[m]
        if m in (6, 10, 11):  # festival months: everybody
            segment = "all"
        elif m in (1, 2, 9):  # Spring Festival, back to school: families
            segment = "family"
        else:
            segment = SEGMENT_ROTATION[k % len(SEGMENT_ROTATION)]
        channel = str(rng.choice(["sms", "wechat", "app_push", "email"], p=[0.35, 0.4, 0.15, 0.1]))
        value = int(rng.choice([20, 30, 50, 100]))
        k += 1
        out.append(
            Campaign(
                number=k,
                campaign_id=f"CMP{created.year}{k:03d}",
                name=f"{created.year}{names.SEGMENT_LABELS[segment]}{theme}",
                channel=channel,
                segment=segment,
                created_day=created_day,
                start_day=start_day,
                end_day=start_day + duration - 1,
                start_date=s_date,
                end_date=s_date + timedelta(days=duration - 1),
                coupon_value=value * 100,
                min_spend=value * 100 * int(rng.choice([4, 5, 8, 10])),
                control_share=round(float(rng.uniform(0.15, 0.25)), 2),
                fee=float(rng.integers(20, 80)) * 100,
            )
        )
        month = date(month.year + (month.month == 12), month.month % 12 + 1, 1)
    _plan_arms(config, out)
    return out


def _plan_arms(config: SimulationConfig, campaigns: list[Campaign]) -> None:
    """Make every `multi_arm_every`-th campaign a test of 2-3 treatment arms whose true
    effects differ (a random pick of ARM_EFFECTS, so which arm wins varies)."""
    if config.multi_arm_every <= 0:
        return
    rng = stream(config.seed, "campaign-arms")
    for c in campaigns:
        if c.number % config.multi_arm_every:
            continue
        k = int(rng.integers(2, len(ARM_NAMES) + 1))
        c.arms = ARM_NAMES[:k]
        c.arm_effects = tuple(float(e) for e in rng.choice(ARM_EFFECTS, k, replace=False))


def _split_arms(seed: int, c: Campaign, n: int) -> np.ndarray:
    """Each treated member's arm (index into c.arms): an even random split, from the
    campaign's own stream so that the marketing stream draws the same as with one arm."""
    if len(c.arms) == 1:
        return np.zeros(n, dtype=np.int64)
    labels = np.arange(n) % len(c.arms)
    return stream(seed, "campaign-arms", c.number).permutation(labels)


class Marketing:
    def __init__(self, config: SimulationConfig, members: Members, activations: list[Activation] | None = None):
        self.config = config
        self.members = members
        self.responder = (
            ActivationResponder(activations, members, config.seed, config.start_date) if activations else None
        )
        self.campaigns = plan_campaigns(config)
        self.rng = stream(config.seed, "marketing")
        self.holder_coupon = np.full(members.n, -1, dtype=np.int64)
        self.coupon_code: list[str] = []
        self.coupon_campaign: list[int] = []
        self.coupon_value = np.zeros(0, dtype=np.int64)
        self.coupon_min = np.zeros(0, dtype=np.int64)
        self.codes_seen: set[str] = set()
        self.campaign_rows = Rows(CAMPAIGN_COLUMNS)
        self.assignment_rows = Rows(ASSIGNMENT_COLUMNS)
        self.coupon_rows = Rows(COUPON_COLUMNS)
        self._next_event = 1

    # audience -----------------------------------------------------------------------
    def _audience(self, c: Campaign, day: int, latent: Latent, consents: Consents) -> np.ndarray:
        m = self.members
        ok = (m.reg_day <= day) & ~m.closed & ~m.is_kid
        scopes = [SCOPES.index(s) for s in CHANNEL_SCOPES[c.channel]]
        ok &= consents.state[:, scopes].any(axis=1)
        if c.segment == "dormant":
            ok &= (latent.last_purchase_day < day - 60) & (m.reg_day < day - 60)
        elif c.segment == "vip":
            ok &= m.tier >= 2
        elif c.segment == "new_members":
            ok &= m.reg_day >= day - 120
        elif c.segment == "family":
            ok &= m.family_idx >= 0
        idx = np.flatnonzero(ok)
        cap = max(50, min(2000, int(0.35 * m.n)))
        if len(idx) > cap:
            idx = np.sort(self.rng.choice(idx, cap, replace=False))
        return idx

    def _codes(self, number: int, n: int) -> list[str]:
        out: list[str] = []
        while len(out) < n:
            raw = CODE_ALPHABET[self.rng.integers(0, len(CODE_ALPHABET), (n - len(out), 8))]
            for s in raw.view("S8").ravel():
                code = f"CP{number:03d}" + s.decode()
                if code not in self.codes_seen:
                    self.codes_seen.add(code)
                    out.append(code)
        return out

    def _coupon_events(self, codes, campaign_id, member_idx, kind, at, txn=None, store=None):
        n = len(codes)
        if n == 0:
            return
        self.coupon_rows.add(
            coupon_event_id=np.full(n, None, dtype=object),
            coupon_code=np.asarray(codes, dtype=object),
            campaign_id=np.asarray(campaign_id, dtype=object),
            member_id=self.members.member_id[member_idx],
            event_type=np.full(n, kind, object),
            event_at=np.asarray(at, "datetime64[s]"),
            transaction_id=np.full(n, None, object) if txn is None else np.asarray(txn, object),
            store_id=np.full(n, None, object) if store is None else np.asarray(store, object),
        )

    # daily ----------------------------------------------------------------------------
    def start_of_day(self, day: Day, latent: Latent, consents: Consents) -> None:
        """Create, assign, start and end campaigns (before the day's purchases)."""
        rng = self.rng
        for c in self.campaigns:
            if c.created_day == day.idx:
                est = len(self._audience(c, day.idx, latent, consents))
                treat = est * (1 - c.control_share)
                cost = round(c.fee + treat * MESSAGE_COST[c.channel], 2)
                budget = round(cost + treat * c.coupon_value / 100 * 0.5, -2) + 1000
                self.campaign_rows.add(
                    campaign_id=np.array([c.campaign_id], object),
                    campaign_name=np.array([c.name], object),
                    channel=np.array([c.channel], object),
                    start_date=np.array([c.start_date.isoformat()], "datetime64[D]"),
                    end_date=np.array([c.end_date.isoformat()], "datetime64[D]"),
                    target_segment=np.array([c.segment], object),
                    budget=np.array([budget]),
                    cost=np.array([cost]),
                    coupon_value=np.array([c.coupon_value / 100]),
                    min_spend=np.array([c.min_spend / 100]),
                    control_share=np.array([c.control_share]),
                    treatment_arms=np.array([len(c.arms)]),
                )
            if c.start_day - 1 == day.idx:
                aud = self._audience(c, day.idx, latent, consents)
                control = rng.random(len(aud)) < c.control_share
                c.treatment, c.control = aud[~control], aud[control]
                c.treatment_arm = _split_arms(self.config.seed, c, len(c.treatment))
                arm = np.full(len(aud), "control", dtype=object)
                arm[~control] = np.asarray(c.arms, dtype=object)[c.treatment_arm]
                at = day.at(9 * 3600 + rng.integers(0, 1800, len(aud)))
                self.assignment_rows.add(
                    campaign_id=np.full(len(aud), c.campaign_id, object),
                    member_id=self.members.member_id[aud],
                    arm=arm,
                    assigned_at=at,
                )
            if c.start_day == day.idx and c.treatment is not None:
                t = c.treatment
                first = len(self.coupon_code)
                codes = self._codes(c.number, len(t))
                self.coupon_code += codes
                self.coupon_campaign += [c.number] * len(t)
                self.coupon_value = np.concatenate([self.coupon_value, np.full(len(t), c.coupon_value)])
                self.coupon_min = np.concatenate([self.coupon_min, np.full(len(t), c.min_spend)])
                self.holder_coupon[t] = np.arange(first, first + len(t))
                at = day.at(9 * 3600 + 1800 + rng.integers(0, 3600, len(t)))
                self._coupon_events(codes, np.full(len(t), c.campaign_id), t, "issued", at)
                latent.uplift[t] = UPLIFT * np.asarray(c.arm_effects)[c.treatment_arm]
                revive(rng, latent, self.members, t, 0.15 if c.segment == "dormant" else 0.04)
            if c.end_day + 1 == day.idx and c.treatment is not None:
                latent.uplift[c.treatment] = 0.0
                expired = self.holder_coupon[c.treatment]
                mine = np.array([self.coupon_campaign[i] == c.number if i >= 0 else False for i in expired], dtype=bool)
                self.holder_coupon[c.treatment[mine]] = -1

        if self.responder is not None:
            self.responder.start_of_day(day, latent, self.campaign_rows, self.assignment_rows)

    def redeemed(
        self, coupon_idx: np.ndarray, member_idx: np.ndarray, at: np.ndarray, txn_ids: np.ndarray, store_ids: np.ndarray
    ) -> None:
        codes = [self.coupon_code[i] for i in coupon_idx]
        camp = [self.campaigns[self.coupon_campaign[i] - 1].campaign_id for i in coupon_idx]
        self._coupon_events(codes, camp, member_idx, "redeemed", at, txn_ids, store_ids)

    def code_of(self, coupon_idx: np.ndarray) -> np.ndarray:
        return np.array([self.coupon_code[i] if i >= 0 else None for i in coupon_idx], dtype=object)

    def flush(self) -> dict[str, dict[str, np.ndarray]]:
        coupons = self.coupon_rows.take()
        n = len(coupons["coupon_event_id"])
        if n:
            order = np.argsort(coupons["event_at"], kind="stable")
            coupons = {k: v[order] for k, v in coupons.items()}
            coupons["coupon_event_id"] = np.char.mod(
                "CPE%09d", np.arange(self._next_event, self._next_event + n)
            ).astype(object)
            self._next_event += n
        assignments = self.assignment_rows.take()
        return {"campaigns": self.campaign_rows.take(), "assignments": assignments, "coupon_events": coupons}
