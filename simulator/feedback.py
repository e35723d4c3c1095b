"""Surveys and complaints, with the leading indicators of churn built in.

Surveys follow ~5% of identified member receipts (plus anonymous kiosk answers).
The expected NPS is the member's own baseline, minus ~3.5 points while the member is
about to drop out (see `behaviour`) and minus ~2.5 points within 90 days after a
complaint. CSAT follows NPS. Comments come from templates matching the score; a
few contain a phone number or an e-mail address (personal data in free text).

Complaints arise on ~0.5% of receipts (3.5x more often for at-risk members) plus
walk-ins (parking, facilities). Handling times: first response minutes to hours
after opening; normal complaints are resolved within 2 hours in ~85% of cases, major
ones are escalated and take hours to days; the follow-up comes within 48 hours in
~90% of cases. Each complaint is exported on the day it is opened (status open,
later timestamps empty) and again on the day of its last timestamp (status closed,
or resolved when there is no follow-up) with a later updated_at.

At the follow-up visit (回访) ~85% of customers give a satisfaction score of 1-5
(`follow_up_satisfaction`, in the closing version only). It falls with a late first
response (> 30 minutes), a late resolution (a normal complaint past 2 hours), a late
follow-up (> 48 hours) and a major complaint, and rises with compensation; drawn from
its own random stream, so recording it shifts no other draw.
"""

from __future__ import annotations

import numpy as np

from . import names
from .behaviour import Latent
from .frames import Day, Rows
from .population import Members, _unique_cn_mobiles
from .rng import pick

SURVEY_COLUMNS = [
    "response_id",
    "member_id",
    "store_id",
    "channel",
    "submitted_at",
    "nps_score",
    "csat_score",
    "comment",
]
COMPLAINT_COLUMNS = [
    "complaint_id",
    "member_id",
    "store_id",
    "category",
    "severity",
    "channel",
    "opened_at",
    "first_response_at",
    "resolved_at",
    "follow_up_at",
    "escalated",
    "compensation_amount",
    "status",
    "description",
    "updated_at",
    "follow_up_satisfaction",
]
NAT = np.datetime64("NaT", "s")
MIN = np.timedelta64(60, "s")
UTC_OFFSET = np.timedelta64(8 * 3600, "s")  # Asia/Shanghai, no DST


def _fill(rng: np.random.Generator, templates, store_names, extra=None) -> np.ndarray:
    out = np.empty(len(store_names), dtype=object)
    choice = rng.integers(0, len(templates), len(store_names))
    for i, (t, s) in enumerate(zip(choice, store_names, strict=True)):
        out[i] = templates[t].format(store=s or "商场", **(extra[i] if extra else {}))
    return out


def _comments(
    rng: np.random.Generator, nps: np.ndarray, store_names: np.ndarray, mobiles: np.ndarray, emails: np.ndarray
) -> np.ndarray:
    """Template comments by score; ~3% with a phone number, a few with an e-mail."""
    n = len(nps)
    good = _fill(rng, names.COMMENTS_POSITIVE, store_names)
    mid = _fill(rng, names.COMMENTS_NEUTRAL, store_names)
    bad = _fill(rng, names.COMMENTS_NEGATIVE, store_names)
    text = np.where(nps >= 9, good, np.where(nps >= 7, mid, bad)).astype(object)
    has = rng.random(n) < 0.45
    phone = rng.random(n) < 0.03
    mail = (rng.random(n) < 0.01) & np.array([e is not None for e in emails], dtype=bool)
    has |= phone | mail
    text = np.where(has, text, None).astype(object)
    for i in np.flatnonzero(phone):
        text[i] += names.COMMENT_PHONE[int(rng.integers(len(names.COMMENT_PHONE)))].format(mobile=mobiles[i])
    for i in np.flatnonzero(mail):
        text[i] += names.COMMENT_EMAIL[int(rng.integers(len(names.COMMENT_EMAIL)))].format(email=emails[i])
    return text


def follow_up_satisfaction(
    rng: np.random.Generator,
    first_late: np.ndarray,
    resolution_late: np.ndarray,
    follow_up_late: np.ndarray,
    major: np.ndarray,
    compensated: np.ndarray,
    has_follow: np.ndarray,
) -> np.ndarray:
    """Score 1-5 given at the follow-up visit (None: no visit, or the customer declined).

    Satisfied (4-5) is the norm when the complaint was handled on time; each late step
    costs about half a point, a major complaint ~0.6, compensation wins back ~0.5.
    """
    n = len(has_follow)
    mu = 4.3 - 0.45 * first_late - 0.8 * resolution_late - 0.5 * follow_up_late - 0.6 * major + 0.5 * compensated
    score = np.clip(np.round(rng.normal(mu, 0.8, n)), 1, 5).astype(np.int64)
    answered = has_follow & (rng.random(n) < 0.85)
    return np.where(answered, score, None).astype(object)


class Feedback:
    def __init__(
        self,
        members: Members,
        store_ids: np.ndarray,
        store_names: np.ndarray,
        zone_names: np.ndarray,
        rng: np.random.Generator,
        rng_follow_up: np.random.Generator,
    ):
        self.members = members
        self.store_ids = store_ids
        self.store_names = store_names
        self.zone_names = zone_names
        self.rng = rng
        self.rng_follow_up = rng_follow_up  # own stream: scores never shift the draws above
        self.surveys = Rows(SURVEY_COLUMNS)
        self.complaints = Rows(COMPLAINT_COLUMNS)
        self.closing: dict[int, list[dict[str, np.ndarray]]] = {}
        self._next_complaint = 1
        self._random_mobiles = _unique_cn_mobiles(rng, 500, set())

    # surveys --------------------------------------------------------------------------
    def survey(
        self, day: Day, member: np.ndarray, store: np.ndarray, at: np.ndarray, latent: Latent, n_receipts: int
    ) -> None:
        rng = self.rng
        m = self.members
        sel = np.flatnonzero((member >= 0) & (rng.random(len(member)) < 0.05))
        who, st, t = member[sel], store[sel], at[sel]
        recent = (day.idx - latent.last_complaint_day[who]) <= 90
        mu = latent.satisfaction[who] - 3.6 * latent.at_risk[who] - 2.5 * recent
        n_k = rng.poisson(0.012 * n_receipts + 0.3)
        k_store = np.where(rng.random(n_k) < 0.3, rng.integers(0, len(self.store_ids), n_k), -1)
        mu = np.concatenate([mu, rng.normal(7.6, 1.2, n_k)])
        n = len(mu)
        nps = np.clip(np.round(rng.normal(mu, 1.2)), 0, 10).astype(np.int64)
        csat = np.clip(np.round(1 + nps * 0.4 + rng.normal(0, 0.5, n)), 1, 5).astype(np.int64)
        ask = rng.random(n)
        nps_v = np.where(ask < 0.9, nps, None).astype(object)  # 10% only CSAT
        csat_v = np.where((ask >= 0.8) & (ask < 0.9), None, csat).astype(object)  # 10% NPS only

        delay = rng.integers(5 * 60, 240 * 60, len(sel)).astype("timedelta64[s]")
        t_member = np.minimum(t + delay, day.end_of_day())
        t_kiosk = day.at(rng.integers(10 * 3600, 22 * 3600, n_k))
        local = np.concatenate([t_member, t_kiosk])
        store_idx = np.concatenate([np.where(rng.random(len(sel)) < 0.85, st, -1), k_store])
        s_names = np.where(store_idx >= 0, self.store_names[np.maximum(store_idx, 0)], None)
        member_ids = np.concatenate([m.member_id[who], np.full(n_k, None, object)])
        mobiles = np.concatenate([m.mobile[who], rng.choice(self._random_mobiles, n_k)])
        emails = np.concatenate([m.email[who], np.full(n_k, None, object)])
        channel = np.concatenate(
            [pick(rng, ("wechat", "sms", "app"), (0.55, 0.2, 0.25), size=len(sel)), np.full(n_k, "kiosk", dtype=object)]
        )
        self.surveys.add(
            response_id=np.full(n, None, object),
            member_id=member_ids,
            store_id=np.where(store_idx >= 0, self.store_ids[np.maximum(store_idx, 0)], None),
            channel=channel.astype(object),
            submitted_at=local - UTC_OFFSET,  # stored in UTC
            nps_score=nps_v,
            csat_score=csat_v,
            comment=_comments(rng, nps, s_names, mobiles, emails),
        )

    def flush_surveys(self, day: Day) -> dict[str, np.ndarray]:
        cols = self.surveys.take()
        n = len(cols["response_id"])
        if n:
            order = np.argsort(cols["submitted_at"], kind="stable")
            cols = {k: v[order] for k, v in cols.items()}
            cols["response_id"] = np.char.mod(f"R{day.tag}%05d", np.arange(1, n + 1)).astype(object)
        return cols

    # complaints -----------------------------------------------------------------------
    def complain(
        self,
        day: Day,
        member: np.ndarray,
        store: np.ndarray,
        at: np.ndarray,
        latent: Latent,
        last_day: int,
        zone_of_store: np.ndarray,
    ) -> np.ndarray:
        """Open the day's complaints; returns (member index, bad handling) of members."""
        rng = self.rng
        m = self.members
        risk = np.where(member >= 0, latent.at_risk[np.maximum(member, 0)], False)
        p = 0.0045 * np.where(risk, 3.5, 1.0)
        sel = np.flatnonzero(rng.random(len(member)) < p)
        n_walk = rng.poisson(0.0015 * len(member) + 0.05)
        n = len(sel) + n_walk
        if n == 0:
            return np.zeros((0, 2), dtype=np.int64)
        walk_member = np.where(rng.random(n_walk) < 0.4, rng.integers(0, m.n, n_walk), -1)
        walk_member = np.where(
            (walk_member >= 0)
            & (m.reg_day[np.maximum(walk_member, 0)] <= day.idx)
            & ~m.closed[np.maximum(walk_member, 0)],
            walk_member,
            -1,
        )
        who = np.concatenate([member[sel], walk_member])
        st = np.concatenate([store[sel], np.full(n_walk, -1)])
        cats, cw = zip(*names.COMPLAINT_CATEGORIES, strict=True)
        category = np.concatenate(
            [
                pick(rng, cats, cw, size=len(sel)),
                pick(rng, ("parking", "facilities", "queueing", "other"), (0.4, 0.35, 0.1, 0.15), size=n_walk),
            ]
        ).astype(object)
        st = np.where(np.isin(category, ["parking", "facilities"]), -1, st)
        major_p = np.where(np.isin(category, ["product_quality", "refund_dispute"]), 0.15, 0.07)
        major = rng.random(n) < major_p
        chans, chw = zip(*names.COMPLAINT_CHANNELS, strict=True)
        channel = pick(rng, chans, chw, size=n).astype(object)

        base = np.concatenate([at[sel], day.at(rng.integers(10 * 3600, 22 * 3600, n_walk))])
        opened = np.minimum(
            base + rng.integers(5 * 60, 4 * 3600, n).astype("timedelta64[s]"),
            day.midnight + np.timedelta64(22 * 3600 + 1800, "s"),
        )
        first = opened + np.clip(rng.lognormal(np.log(25), 0.9, n), 2, 2880).astype(np.int64) * MIN
        in_sla = rng.random(n) < 0.85
        normal_minutes = np.where(in_sla, rng.uniform(10, 120, n), rng.uniform(121, 72 * 60, n))
        major_minutes = rng.uniform(4 * 60, 5 * 24 * 60, n)
        minutes = np.where(major, major_minutes, normal_minutes).astype(np.int64)
        resolved = np.maximum(opened + minutes * MIN, first + 5 * MIN)
        follow_ok = rng.random(n) < 0.90
        follow_min = np.where(follow_ok, rng.uniform(60, 48 * 60, n), rng.uniform(48 * 60 + 1, 120 * 60, n))
        has_follow = rng.random(n) < 0.95
        follow = np.where(has_follow, resolved + follow_min.astype(np.int64) * MIN, NAT)
        escalated = major | (rng.random(n) < 0.05)
        comp_small = rng.choice([20, 50, 100, 200], n) * 100
        comp_big = rng.choice([200, 500, 1000, 2000], n) * 100
        compensation = (
            np.where(major, np.where(rng.random(n) < 0.6, comp_big, 0), np.where(rng.random(n) < 0.2, comp_small, 0))
            / 100.0
        )

        zone = np.where(st >= 0, zone_of_store[np.maximum(st, 0)], rng.integers(0, len(self.zone_names), n))
        s_names = np.where(st >= 0, self.store_names[np.maximum(st, 0)], None)
        extra = [{"zone": self.zone_names[z]} for z in zone]
        desc = np.empty(n, dtype=object)
        for c in sorted(set(category)):  # sorted: set order varies between processes
            idx = np.flatnonzero(category == c)
            desc[idx] = _fill(rng, names.COMPLAINT_TEXT[c], s_names[idx], [extra[i] for i in idx])
        with_phone = rng.random(n) < 0.10
        mob = np.where(who >= 0, m.mobile[np.maximum(who, 0)], rng.choice(self._random_mobiles, n))
        for i in np.flatnonzero(with_phone):
            desc[i] += names.COMPLAINT_PHONE[int(rng.integers(len(names.COMPLAINT_PHONE)))].format(mobile=mob[i])

        ids = np.char.mod("CMP%08d", np.arange(self._next_complaint, self._next_complaint + n)).astype(object)
        self._next_complaint += n
        member_id = np.where(who >= 0, m.member_id[np.maximum(who, 0)], None).astype(object)
        store_id = np.where(st >= 0, self.store_ids[np.maximum(st, 0)], None).astype(object)
        severity = np.where(major, "major", "normal").astype(object)
        opened_update = np.minimum(opened + rng.integers(60, 600, n).astype("timedelta64[s]"), day.end_of_day())
        self.complaints.add(
            complaint_id=ids,
            member_id=member_id,
            store_id=store_id,
            category=category,
            severity=severity,
            channel=channel,
            opened_at=opened,
            first_response_at=np.full(n, NAT),
            resolved_at=np.full(n, NAT),
            follow_up_at=np.full(n, NAT),
            escalated=major.copy(),
            compensation_amount=np.zeros(n),
            status=np.full(n, "open", object),
            description=desc,
            updated_at=opened_update,
            follow_up_satisfaction=np.full(n, None, object),
        )
        # final version, exported on the day of its last timestamp
        last = np.where(has_follow, follow, resolved)
        last_day_idx = ((last.astype("datetime64[D]") - day.d64).astype(np.int64)) + day.idx
        final_update = last + rng.integers(60, 1800, n).astype("timedelta64[s]")
        final_update = np.minimum(
            final_update, last.astype("datetime64[D]").astype("datetime64[s]") + np.timedelta64(86399, "s")
        )
        final_update = np.maximum(final_update, opened_update + np.timedelta64(1, "s"))
        final = dict(
            complaint_id=ids,
            member_id=member_id,
            store_id=store_id,
            category=category,
            severity=severity,
            channel=channel,
            opened_at=opened,
            first_response_at=first,
            resolved_at=resolved,
            follow_up_at=follow,
            escalated=escalated,
            compensation_amount=compensation,
            status=np.where(has_follow, "closed", "resolved").astype(object),
            description=desc,
            updated_at=final_update,
            follow_up_satisfaction=follow_up_satisfaction(
                self.rng_follow_up,
                first_late=first > opened + 30 * MIN,
                resolution_late=~major & (resolved > opened + 120 * MIN),
                follow_up_late=follow_min > 48 * 60,
                major=major,
                compensated=compensation > 0,
                has_follow=has_follow,
            ),
        )
        for d in np.unique(last_day_idx):
            if d > last_day:
                continue
            mask = last_day_idx == d
            self.closing.setdefault(int(d), []).append({k: v[mask] for k, v in final.items()})
        bad = (~in_sla & ~major) | ~follow_ok
        out = np.stack([who, bad.astype(np.int64)], axis=1)
        return out[who >= 0]

    def flush_complaints(self, day: Day) -> dict[str, np.ndarray]:
        for part in self.closing.pop(day.idx, []):
            self.complaints.add(**part)
        cols = self.complaints.take()
        if len(cols["complaint_id"]):
            order = np.lexsort((cols["complaint_id"].astype(str), cols["updated_at"]))
            cols = {k: v[order] for k, v in cols.items()}
        return cols
