"""The mall's digital channels: WeChat identities, app and mini-program events, activities.

Who is online follows the registration channel (nearly every member who registered in
the WeChat mini-program uses it, a few who registered at the service desk do) and the
member's latent purchase rate, so digitally engaged members are the more active buyers
without any other component's draws changing (this module has its own streams).

* WeChat: a mini-program openid per WeChat user, an official-account openid for the
  followers, one unionid per person across both. An openid is seen before it is bound
  to a member: prospects browse the mini-program before they register.
* Devices: app installations and mini-program clients. A device browses anonymously
  (page views only: every other action needs a login) until its owner logs in; new
  phones start anonymous too, and some visitors never register at all.
* Sessions: page views, daily check-ins, games (both earn points), coupon claims and
  sign-ups for the mall's weekly activities, whose attendance is exported after they
  took place.
"""

from __future__ import annotations

import numpy as np

from . import calendar
from .behaviour import MEAN_RATE, Latent
from .config import SimulationConfig
from .frames import Day, Rows, sort_columns
from .population import Members
from .rng import pick, stream

UTC_OFFSET = np.timedelta64(8 * 3600, "s")  # Asia/Shanghai, no DST
ENGAGED_BY_CHANNEL = {  # share of members of each registration channel who use the digital channels
    "wechat_mini_program": 0.92,
    "app": 0.85,
    "alipay": 0.25,
    "service_desk": 0.15,
    "pos": 0.20,
}
SESSION_RATE = 0.06  # sessions per day of an average engaged member
OFFICIAL_ACCOUNT_SHARE = 0.35  # WeChat users who also follow the official account
UNIONID_SHARE = 0.95  # openids the open platform gives a unionid
NEW_DEVICE_RATE = 0.002  # engaged members switching phone per day
VISITORS_PER_MEMBER = 0.004  # anonymous visitors per member per day who never register
PAGES = ("home", "coupons", "activities", "stores", "points_mall")
ACTIVITY_TYPES = ("workshop", "kids_class", "fashion_show", "festival_fair", "vip_salon")
IDENTITY_COLUMNS = ["openid", "app_type", "unionid", "member_id", "first_seen_at", "updated_at"]
EVENT_COLUMNS = ["device_id", "channel", "openid", "member_id", "event_type", "event_at", "page", "activity_id"]
SIGNUP_COLUMNS = [
    "signup_id",
    "activity_id",
    "activity_type",
    "activity_date",
    "zone_id",
    "member_id",
    "channel",
    "signed_up_at",
    "status",
    "checked_in_at",
    "updated_at",
]


def _ids(rng: np.random.Generator, prefix: str, n: int, length: int) -> np.ndarray:
    """Random lower-case alphanumeric ids (openids, unionids, device ids)."""
    alphabet = np.frombuffer(b"abcdefghijklmnopqrstuvwxyz0123456789", dtype=np.uint8)
    codes = alphabet[rng.integers(0, 36, (n, length))]
    return np.array([prefix + s.decode() for s in codes.view(f"S{length}").ravel()], dtype=object)


class Digital:
    """Digital identities and events of the members (and of anonymous visitors)."""

    def __init__(self, config: SimulationConfig, members: Members, latent: Latent, zones):
        self.members = m = members
        self.start = np.datetime64(config.start_date.isoformat(), "D")
        self.rng = rng = stream(config.seed, "digital")
        self.rng_day = stream(config.seed, "digital-events")
        self.rng_act = stream(config.seed, "digital-activities")
        n = m.n
        intensity = np.clip(np.sqrt(latent.rate / MEAN_RATE), 0.2, 2.5)
        intensity = np.where(latent.potential, 0.3, intensity)
        p_engaged = np.array([ENGAGED_BY_CHANNEL.get(c, 0.2) for c in m.registration_channel])
        p_engaged = p_engaged * np.clip(0.45 + 0.55 * intensity, 0.0, 1.0) * ~m.is_kid
        self.engaged = rng.random(n) < p_engaged
        self.session_p = SESSION_RATE * intensity * self.engaged
        mini = np.where(
            m.registration_channel == "wechat_mini_program",
            True,
            np.where(m.registration_channel == "app", False, rng.random(n) < 0.7),
        )
        self.channel = np.where(mini, "mini_program", "app").astype(object)
        wechat = self.engaged & mini
        self.openid_mp = np.where(wechat, _ids(rng, "o", n, 27), None).astype(object)
        self.unionid = np.where(wechat & (rng.random(n) < UNIONID_SHARE), _ids(rng, "u", n, 27), None).astype(object)
        self.openid_oa = np.where(wechat & (rng.random(n) < OFFICIAL_ACCOUNT_SHARE), _ids(rng, "o", n, 27), None)
        self.openid_oa = self.openid_oa.astype(object)
        self.device = np.where(self.engaged, _ids(rng, "d", n, 16), None).astype(object)
        # prospects browse for a few days before they register (members registering in the window)
        lead = rng.integers(0, 15, n)
        self.first_day = np.where(self.engaged & (m.reg_day >= 0), np.maximum(m.reg_day - lead, 0), m.reg_day)
        self.pending = np.zeros(n, dtype=bool)  # current device not logged in yet
        self.login_day = np.full(n, -1, dtype=np.int64)
        self.visitors: list[tuple[str, str, str | None]] = []
        # where malls stage activities: the atrium and the shopping floors
        zone_ok = zones["zone_type"].isin(["atrium", "retail", "fashion", "kids"]).to_numpy()
        self.activity_zones = zones["zone_id"].to_numpy(dtype=object)[zone_ok]
        self.activities: list[dict] = []  # open and past activities
        self.signups = Rows(SIGNUP_COLUMNS)
        self.signed: dict[str, list[int]] = {}
        self.identities = Rows(IDENTITY_COLUMNS)
        self.events = Rows(EVENT_COLUMNS)
        self.earned: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        self.n_signups = 0

    # identities -----------------------------------------------------------------------
    def _bind(self, idx: np.ndarray, first_seen: np.ndarray, bound_at: np.ndarray | None) -> None:
        """Identity rows of the members' openids (mini-program bound when `bound_at` is set)."""
        m = self.members
        mp = idx[self.openid_mp[idx] != None]  # noqa: E711 - object array
        if len(mp) == 0:
            return
        fs = first_seen[np.isin(idx, mp)]
        upd = fs if bound_at is None else bound_at[np.isin(idx, mp)]
        self.identities.add(
            openid=self.openid_mp[mp],
            app_type="mini_program",
            unionid=self.unionid[mp],
            member_id=None if bound_at is None else m.member_id[mp],
            first_seen_at=fs,
            updated_at=upd,
        )
        if bound_at is None:
            return
        oa = mp[self.openid_oa[mp] != None]  # noqa: E711 - object array
        if len(oa):  # followers are never bound to a member: only the unionid links them
            bound = upd[np.isin(mp, oa)]
            followed = bound - (self.rng.random(len(oa)) * 30 * 86400).astype("timedelta64[s]")
            self.identities.add(
                openid=self.openid_oa[oa],
                app_type="official_account",
                unionid=self.unionid[oa],
                member_id=None,
                first_seen_at=followed,
                updated_at=bound,
            )

    def _event(self, device, channel, openid, member, kind, at, page=None, activity=None) -> None:
        self.events.add(
            device_id=device,
            channel=channel,
            openid=openid,
            member_id=member,
            event_type=kind,
            event_at=at,
            page=page,
            activity_id=activity,
        )

    # the day --------------------------------------------------------------------------
    def step(self, day: Day, alive: np.ndarray) -> dict[tuple[str, str], dict[str, np.ndarray]]:
        """The day's identity rows, events and sign-ups; `earned` holds the point-earning actions."""
        m, rng = self.members, self.rng_day
        self.earned = []
        hours, hp = calendar.hour_probabilities()
        if day.idx == 0:  # initial export: members registered before the window, already bound
            pre = np.flatnonzero((m.reg_day < 0) & self.engaged)
            self._bind(pre, m.registered_at[pre] - np.timedelta64(600, "s"), m.registered_at[pre])

        # prospects first seen today (mini-program openid unbound, device anonymous)
        first = np.flatnonzero(self.engaged & (m.reg_day >= 0) & (self.first_day == day.idx) & (m.reg_day > day.idx))
        if len(first):
            self._bind(first, day.at(rng.choice(hours, len(first), p=hp) * 3600), None)
            self.pending[first] = True
            self.login_day[first] = m.reg_day[first]
        # new phones: anonymous until their owner logs in a few days later
        linked = self.engaged & ~self.pending & (m.reg_day < day.idx) & ~m.closed
        switch = np.flatnonzero(linked & (rng.random(m.n) < NEW_DEVICE_RATE))
        if len(switch):
            self.device[switch] = _ids(rng, "d", len(switch), 16)
            self.pending[switch] = True
            self.login_day[switch] = day.idx + rng.integers(1, 7, len(switch))

        # anonymous page views of pending devices
        anon = np.flatnonzero(self.pending & ~m.closed & (rng.random(m.n) < 0.6))
        if len(anon):
            views = 1 + rng.poisson(1.5, len(anon))
            who = np.repeat(anon, views)
            secs = np.repeat(rng.choice(hours, len(anon), p=hp) * 3600, views) + rng.integers(0, 3600, len(who))
            self._event(
                self.device[who],
                self.channel[who],
                np.where(self.channel[who] == "mini_program", self.openid_mp[who], None),
                None,
                "page_view",
                day.at(secs),
                pick(rng, PAGES, (5, 2, 2, 2, 1), size=len(who)),
            )

        # logins: registrations today, and pending devices due today
        reg = np.flatnonzero(self.engaged & (m.reg_day == day.idx))
        due = np.flatnonzero(self.pending & (self.login_day == day.idx) & (m.reg_day < day.idx) & ~m.closed)
        if len(reg):
            fresh = reg[self.first_day[reg] == day.idx]  # not seen before: identity rows start today
            if len(fresh):
                self._bind(fresh, m.registered_at[fresh] - np.timedelta64(60, "s"), m.registered_at[fresh])
            seen = reg[self.first_day[reg] < day.idx]  # the prospect's openid gets its member
            if len(seen):
                self._bind_seen(seen, m.registered_at[seen])
        logins = np.concatenate([reg, due])
        if len(logins):
            at = np.concatenate(
                [
                    m.registered_at[reg] + np.timedelta64(30, "s"),
                    day.at(rng.choice(hours, len(due), p=hp) * 3600 + rng.integers(0, 3600, len(due))),
                ]
            )
            self._event(
                self.device[logins],
                self.channel[logins],
                np.where(self.channel[logins] == "mini_program", self.openid_mp[logins], None),
                m.member_id[logins],
                "login",
                at,
            )
            self.pending[logins] = False

        self._sessions(day, alive, hours, hp)
        self._visitors(day, hours, hp)
        self._activities(day, alive)

        events = sort_columns(self.events.take(), "event_at", "device_id", "event_type")
        n = len(events["device_id"])
        events = {
            "event_id": np.char.mod(f"E{day.tag}%07d", np.arange(1, n + 1)).astype(object),
            **events,
        }
        events["event_at"] = events["event_at"].astype("datetime64[s]") - UTC_OFFSET
        return {
            ("digital", "wechat_identities"): sort_columns(self.identities.take(), "updated_at", "openid"),
            ("digital", "app_events"): events,
            ("digital", "activity_signups"): sort_columns(self.signups.take(), "updated_at", "signup_id"),
        }

    def _bind_seen(self, idx: np.ndarray, bound_at: np.ndarray) -> None:
        """A prospect registered: the openid first seen days ago is now bound to the member."""
        first_seen = (self.start + self.first_day[idx].astype("timedelta64[D]")).astype("datetime64[s]")
        self._bind(idx, first_seen, bound_at)

    def _sessions(self, day: Day, alive: np.ndarray, hours, hp) -> None:
        """Sessions of logged-in members: page views, check-in, game, coupon claim, sign-up."""
        m, rng = self.members, self.rng_day
        active = self.engaged & ~self.pending & (m.reg_day <= day.idx) & ~m.closed
        p = self.session_p * np.sqrt(day.factor) * np.where(alive, 1.0, 0.3)
        who = np.flatnonzero(active & (rng.random(m.n) < p))
        if len(who) == 0:
            return
        start = rng.choice(hours, len(who), p=hp) * 3600 + rng.integers(0, 3000, len(who))
        reg_today = m.reg_day[who] == day.idx  # a member who registered today starts after registering
        reg_secs = (m.registered_at[who] - day.midnight).astype(np.int64) + 60
        start = np.where(reg_today, np.minimum(np.maximum(start, reg_secs), 86399 - 600), start)
        kinds, members, secs, pages, acts = [], [], [], [], []

        def add(sel: np.ndarray, kind: str, offset: np.ndarray, page=None, act=None) -> None:
            kinds.append(np.full(len(sel), kind, dtype=object))
            members.append(who[sel])
            secs.append(start[sel] + offset)
            pages.append(np.full(len(sel), page, dtype=object) if not isinstance(page, np.ndarray) else page)
            acts.append(np.full(len(sel), act, dtype=object) if not isinstance(act, np.ndarray) else act)

        views = 1 + rng.poisson(1.5, len(who))
        rep = np.repeat(np.arange(len(who)), views)
        add(rep, "page_view", rng.integers(0, 540, len(rep)), pick(rng, PAGES, (5, 2, 2, 2, 1), size=len(rep)))
        check = np.flatnonzero(rng.random(len(who)) < 0.55)
        add(check, "check_in", rng.integers(0, 60, len(check)))
        game = np.flatnonzero(rng.random(len(who)) < 0.15)
        add(game, "game", rng.integers(60, 540, len(game)))
        claim = np.flatnonzero(rng.random(len(who)) < 0.12)
        add(claim, "coupon_claim", rng.integers(60, 540, len(claim)))
        open_acts = [a for a in self.activities if a["created"] <= day.idx < a["start_day"]]
        if open_acts:
            want = np.flatnonzero(rng.random(len(who)) < 0.08)
            choice = rng.integers(0, len(open_acts), len(want))
            keep, act_ids = [], []
            for i, c in zip(want, choice, strict=True):
                a = open_acts[c]
                member = int(who[i])
                if len(a["members"]) < a["capacity"] and member not in a["member_set"]:
                    a["members"].append(member)
                    a["member_set"].add(member)
                    keep.append(i)
                    act_ids.append(a["activity_id"])
            keep = np.array(keep, dtype=np.int64)
            off = rng.integers(60, 540, len(keep))
            add(keep, "activity_signup", off, act=np.array(act_ids, dtype=object))
            self._signed_up(day, who[keep], start[keep] + off, act_ids)
        kind = np.concatenate(kinds)
        member = np.concatenate(members)
        at = day.at(np.minimum(np.concatenate(secs), 86399))
        mini = self.channel[member] == "mini_program"
        self._event(
            self.device[member],
            self.channel[member],
            np.where(mini, self.openid_mp[member], None),
            m.member_id[member],
            kind,
            at,
            np.concatenate(pages),
            np.concatenate(acts),
        )
        earn = np.isin(kind, ["check_in", "game"])
        self.earned.append((member[earn], kind[earn], at[earn]))

    def _visitors(self, day: Day, hours, hp) -> None:
        """Visitors who browse without ever registering: devices that are never linked."""
        rng = self.rng_day
        n = int(rng.poisson(VISITORS_PER_MEMBER * self.members.n))
        if n == 0:
            return
        mini = rng.random(n) < 0.7
        views = 1 + rng.poisson(1.0, n)
        rep = np.repeat(np.arange(n), views)
        device = _ids(rng, "d", n, 16)[rep]
        openid = np.where(mini, _ids(rng, "o", n, 27), None)[rep]
        secs = np.repeat(rng.choice(hours, n, p=hp) * 3600, views) + rng.integers(0, 3600, len(rep))
        self._event(
            device,
            np.where(mini[rep], "mini_program", "app").astype(object),
            openid,
            None,
            "page_view",
            day.at(secs),
            pick(rng, PAGES, (5, 2, 2, 2, 1), size=len(rep)),
        )

    # activities -----------------------------------------------------------------------
    def _activities(self, day: Day, alive: np.ndarray) -> None:
        """A new activity every week, announced 5-14 days ahead; attendance after it ends."""
        rng = self.rng_act
        if day.idx % 7 == 0:
            start_day = day.idx + int(rng.integers(5, 15))
            hour = int(rng.choice([11, 14, 19]))
            starts = (day.d64 + np.timedelta64(start_day - day.idx, "D")).astype("datetime64[s]") + np.timedelta64(
                hour * 3600, "s"
            )
            self.activities.append(
                {
                    "activity_id": f"A{day.tag}",
                    "activity_type": str(pick(rng, ACTIVITY_TYPES, (3, 2, 1, 2, 1))),
                    "zone_id": str(rng.choice(self.activity_zones)),
                    "created": day.idx,
                    "start_day": start_day,
                    "starts_at": starts,
                    "capacity": int(rng.integers(4, 21)) * 10,
                    "members": [],
                    "member_set": set(),
                    "signed_at": [],
                    "channel": [],
                    "signup_ids": [],
                }
            )
        for a in self.activities:
            if a["start_day"] != day.idx or not a["members"]:
                continue
            who = np.array(a["members"], dtype=np.int64)
            p = np.where(alive[who] & ~self.members.closed[who], 0.72, 0.25)
            came = rng.random(len(who)) < p
            ends = a["starts_at"] + np.timedelta64(2 * 3600, "s")
            checked = a["starts_at"] - rng.integers(0, 1200, len(who)).astype("timedelta64[s]")
            self._signup_rows(
                a,
                who,
                np.array(a["signed_at"], dtype="datetime64[s]"),
                np.array(a["channel"], dtype=object),
                np.array(a["signup_ids"], dtype=object),
                np.where(came, "attended", "no_show").astype(object),
                np.where(came, checked, np.datetime64("NaT")),
                np.full(len(who), ends),
            )
        self.activities = [a for a in self.activities if a["start_day"] > day.idx]

    def _signed_up(self, day: Day, who: np.ndarray, secs: np.ndarray, act_ids: list[str]) -> None:
        by_id = {a["activity_id"]: a for a in self.activities}
        at = day.at(np.minimum(secs, 86399))
        ids = np.char.mod(f"S{day.tag}%05d", self.n_signups + np.arange(1, len(who) + 1)).astype(object)
        self.n_signups += len(who)
        for member, when, act, sid in zip(who, at, act_ids, ids, strict=True):
            a = by_id[act]
            a["signed_at"].append(when)
            a["channel"].append(self.channel[member])
            a["signup_ids"].append(sid)
            self._signup_rows(
                a,
                np.array([member]),
                np.array([when]),
                np.array([self.channel[member]], dtype=object),
                np.array([sid], dtype=object),
                np.array(["signed_up"], dtype=object),
                np.array([np.datetime64("NaT")], dtype="datetime64[s]"),
                np.array([when]),
            )

    def _signup_rows(self, a, who, signed_at, channel, ids, status, checked, updated) -> None:
        n = len(who)
        self.signups.add(
            signup_id=ids,
            activity_id=np.full(n, a["activity_id"], dtype=object),
            activity_type=np.full(n, a["activity_type"], dtype=object),
            activity_date=np.full(n, a["starts_at"].astype("datetime64[D]")),
            zone_id=np.full(n, a["zone_id"], dtype=object),
            member_id=self.members.member_id[who],
            channel=channel,
            signed_up_at=signed_at.astype("datetime64[s]"),
            status=status,
            checked_in_at=checked.astype("datetime64[s]"),
            updated_at=updated.astype("datetime64[s]"),
        )
