"""The mall and its people: zones, stores, products and members.

Built once per run from the seed. Everything that later changes (tier, mobile,
status, prices) lives in mutable numpy arrays on these objects, so day-by-day code
can update whole columns at once instead of looping over records.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import pandas as pd

from . import names
from .config import SimulationConfig
from .rng import pick, stream

TIERS = ("basic", "silver", "gold", "diamond")
CARD_PREFIX = "8860"


def mall_opened(start: date) -> date:
    """The mall opened about six and a half years before the simulated window."""
    return date(start.year - 6, 5, 1)


def to_day(d: date) -> np.datetime64:
    return np.datetime64(d.isoformat(), "D")


# Zones, stores, products --------------------------------------------------------------


def build_zones() -> pd.DataFrame:
    cols = ["zone_id", "zone_name", "floor", "zone_type", "counters", "visitor_share"]
    return pd.DataFrame(list(names.ZONES), columns=cols)


@dataclass
class Stores:
    frame: pd.DataFrame  # one row per store, index 0..n-1 = store index

    @property
    def n(self) -> int:
        return len(self.frame)

    @property
    def ids(self) -> np.ndarray:
        return self.frame["store_id"].to_numpy(dtype=object)


def build_stores(config: SimulationConfig, zones: pd.DataFrame) -> Stores:
    rng = stream(config.seed, "stores")
    n = config.stores
    cats = list(names.CATEGORY_ORDER[: min(n, len(names.CATEGORY_ORDER))])
    if n > len(cats):
        weights = [names.CATEGORY_WEIGHTS[c] for c in names.CATEGORY_ORDER]
        extra = pick(rng, names.CATEGORY_ORDER, weights, size=n - len(cats))
        cats += [str(c) for c in extra]
    cats = sorted(cats, key=names.CATEGORIES.index)

    zone_floor = dict(zip(zones["zone_id"], zones["floor"], strict=True))
    used: dict[str, int] = {}
    rows = []
    opened = mall_opened(config.start_date)
    late_span = max(1, (config.start_date - opened).days - 30)
    for i, cat in enumerate(cats):
        pool = names.STORE_NAMES[cat]
        k = used.get(cat, 0)
        used[cat] = k + 1
        base = pool[k % len(pool)]
        store_name = base if k < len(pool) else f"{base}（{k // len(pool) + 1}号店）"
        zone_id = str(rng.choice(names.CATEGORY_ZONES[cat]))
        lo, hi = names.CATEGORY_AREA[cat]
        area = round(float(rng.uniform(lo, hi)), 1)
        opened_on = opened if rng.random() < 0.6 else opened + timedelta(days=int(rng.integers(0, late_span)))
        tenant = f"{rng.choice(names.TENANT_CITIES)}{rng.choice(names.TENANT_WORDS)}{names.TENANT_KIND[cat]}有限公司"
        terminals = 8 if cat == "supermarket" else int(min(6, 1 + area // 250))
        rows.append(
            {
                "store_id": f"S{i + 1:03d}",
                "store_name": store_name,
                "tenant_name": tenant,
                "category": cat,
                "floor": zone_floor[zone_id],
                "zone_id": zone_id,
                "area_sqm": area,
                "opened_on": opened_on,
                "closed_on": None,
                "terminals": terminals,
                # how attractive the store is; big anchors (supermarket, cinema) draw more
                "popularity": float(rng.lognormal(0, 0.45)) * names.CATEGORY_VISITS[cat],
            }
        )
    frame = pd.DataFrame(rows)
    # One tenant leaves during the window (a realistic "closed_on" for the snapshots).
    if n >= 10 and config.days >= 60:
        candidates = frame.index[~frame["category"].isin(["supermarket", "entertainment"])]
        idx = int(rng.choice(candidates))
        frame.loc[idx, "closed_on"] = config.start_date + timedelta(days=int(config.days * 0.6))
    return Stores(frame)


@dataclass
class Products:
    frame: pd.DataFrame  # sorted by store then price; columns incl. price_cents, cost_cents
    store_start: np.ndarray  # first product row of each store
    store_count: np.ndarray  # products per store


def _shelf_price(raw: np.ndarray) -> np.ndarray:
    """Round to shelf prices (x9, x.5) and return cents."""
    cents = np.where(
        raw >= 100,
        (np.ceil(raw / 10) * 10 - 1) * 100,
        np.where(raw >= 20, np.round(raw) * 100, np.round(raw * 2) * 50),
    )
    return np.maximum(cents, 100).astype(np.int64)


def build_products(config: SimulationConfig, stores: Stores) -> Products:
    rng = stream(config.seed, "products")
    parts = []
    for s, row in stores.frame.iterrows():
        cat = row["category"]
        catalogue = names.PRODUCTS[cat]
        count = int(rng.integers(20, 61))
        pick_idx = np.concatenate(
            [rng.permutation(len(catalogue)), rng.integers(0, len(catalogue), max(0, count - len(catalogue)))]
        )
        pick_idx = pick_idx[:count]
        nouns = [catalogue[j][0] for j in pick_idx]
        subcats = [catalogue[j][1] for j in pick_idx]
        base = np.array([catalogue[j][2] for j in pick_idx], dtype=float)
        mods = rng.choice(names.PRODUCT_MODIFIERS[cat], count)
        if cat in names.COLORED_CATEGORIES:
            colors = rng.choice(names.COLORS, count)
            pnames = [f"{m}{c}{noun}" for m, c, noun in zip(mods, colors, nouns, strict=True)]
        else:
            pnames = [f"{m}{noun}" for m, noun in zip(mods, nouns, strict=True)]
        # avoid identical names within one store by adding a model number
        seen: dict[str, int] = {}
        for j, pn in enumerate(pnames):
            seen[pn] = seen.get(pn, 0) + 1
            if seen[pn] > 1:
                pnames[j] = f"{pn}{seen[pn]}号"
        if cat in names.MULTI_BRAND:
            brands = rng.choice(names.MULTI_BRAND[cat], count)
        else:
            brands = np.full(count, row["store_name"], dtype=object)
        premium = rng.lognormal(0, 0.25)
        price = _shelf_price(base * premium * rng.lognormal(0, 0.3, count))
        cost = np.round(price * rng.uniform(0.40, 0.75, count)).astype(np.int64)
        parts.append(
            pd.DataFrame(
                {
                    "store_idx": s,
                    "store_id": row["store_id"],
                    "product_name": pnames,
                    "category": subcats,
                    "brand": brands,
                    "price_cents": price,
                    "cost_cents": cost,
                }
            )
        )
    frame = pd.concat(parts, ignore_index=True)
    frame = frame.sort_values(["store_idx", "price_cents"], kind="stable").reset_index(drop=True)
    frame["sku"] = [
        f"SKU{s + 1:03d}{k:05d}"
        for s, k in zip(frame["store_idx"], frame.groupby("store_idx").cumcount() + 1, strict=True)
    ]
    counts = frame.groupby("store_idx").size().reindex(range(stores.n)).to_numpy()
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    return Products(frame, starts.astype(np.int64), counts.astype(np.int64))


# Members ------------------------------------------------------------------------------


@dataclass
class Members:
    """Column arrays, index = member index; mutable fields change during the run."""

    member_id: np.ndarray
    card_no: np.ndarray
    name: np.ndarray
    mobile: np.ndarray  # current mobile (mutable)
    email: np.ndarray
    gender: np.ndarray
    birthday: np.ndarray  # datetime64[D]
    country_code: np.ndarray
    registration_channel: np.ndarray
    registered_at: np.ndarray  # datetime64[s]
    reg_day: np.ndarray  # day index of registration relative to the window (<0 = before)
    family_group_id: np.ndarray
    family_idx: np.ndarray  # -1 when not in a family
    referrer_member_id: np.ndarray
    is_kid: np.ndarray
    tier: np.ndarray  # int index into TIERS (mutable)
    closed: np.ndarray  # bool (mutable)
    updated_at: np.ndarray  # datetime64[s] (mutable)
    spare_mobiles: list  # unused CN numbers for mobile changes

    @property
    def n(self) -> int:
        return len(self.member_id)

    def frame(self, idx: np.ndarray) -> dict[str, np.ndarray]:
        """The member file columns for the given members, current state."""
        return {
            "member_id": self.member_id[idx],
            "card_no": self.card_no[idx],
            "name": self.name[idx],
            "mobile": self.mobile[idx],
            "email": self.email[idx],
            "gender": self.gender[idx],
            "birthday": self.birthday[idx],
            "country_code": self.country_code[idx],
            "registration_channel": self.registration_channel[idx],
            "registered_at": self.registered_at[idx],
            "tier": np.asarray(TIERS, dtype=object)[self.tier[idx]],
            "family_group_id": self.family_group_id[idx],
            "referrer_member_id": self.referrer_member_id[idx],
            "status": np.where(self.closed[idx], "closed", "active").astype(object),
            "updated_at": self.updated_at[idx],
        }


def _digits(rng: np.random.Generator, n: int, k: int) -> np.ndarray:
    """n strings of k random digits (vectorized)."""
    nums = rng.integers(0, 10, size=(n, k)).astype(np.uint8) + ord("0")
    return nums.view(f"S{k}").ravel().astype(str).astype(object)


def _unique_cn_mobiles(rng: np.random.Generator, n: int, taken: set[str]) -> list[str]:
    out: list[str] = []
    seen = set(taken)
    while len(out) < n:
        need = n - len(out)
        pre = rng.choice(names.CN_MOBILE_PREFIXES, need)
        cand = [p + d for p, d in zip(pre, _digits(rng, need, 8), strict=True)]
        for c in cand:
            if c not in seen:
                seen.add(c)
                out.append(c)
    return out


def unique_card_numbers(rng: np.random.Generator, n: int, taken: set[str]) -> list[str]:
    out: list[str] = []
    seen = set(taken)
    while len(out) < n:
        for c in _digits(rng, n - len(out), 12):
            c = CARD_PREFIX + c
            if c not in seen:
                seen.add(c)
                out.append(c)
    return out


def _foreign_mobile(rng: np.random.Generator, country: str) -> str:
    _, prefixes, rest = names.FOREIGN[country]
    return str(rng.choice(prefixes)) + "".join(rng.choice(list("0123456789"), rest))


def _chinese_name(rng: np.random.Generator, gender: str, surname: str | None = None) -> str:
    surname = surname or _surname(rng)
    pool = names.GIVEN_F if gender == "F" else names.GIVEN_M if gender == "M" else names.GIVEN_ANY
    k = 1 if rng.random() < 0.3 else 2
    given = "".join(rng.choice(list(pool + names.GIVEN_ANY), k))
    return surname + given


def _email(rng: np.random.Generator, name: str, country: str) -> str:
    if country == "CN" or country in names.CHINESE_NAMED_COUNTRIES:
        domains, weights = zip(*names.EMAIL_DOMAINS_CN, strict=True)
        domain = str(pick(rng, domains, weights))
        if domain == "qq.com":
            return f"{rng.integers(100000, 3999999999)}@qq.com"
        local = "".join(rng.choice(names.PINYIN, 2)) + str(rng.integers(1, 9999))
        return f"{local}@{domain}"
    domains, weights = zip(*names.EMAIL_DOMAINS_FOREIGN, strict=True)
    ascii_name = (
        name.lower().replace(" ", ".").replace("ü", "ue").replace("é", "e").replace("è", "e").replace("-", "")
    )  # mailboxes are ASCII
    return f"{ascii_name}{rng.integers(1, 99)}@{pick(rng, domains, weights)}"


def _surname(rng: np.random.Generator) -> str:
    # Zipf-like: the first surnames in the list are by far the most common.
    ranks = np.arange(1, len(names.SURNAMES) + 1)
    w = 1.0 / ranks**0.9
    return names.SURNAMES[int(rng.choice(len(ranks), p=w / w.sum()))]


def build_members(config: SimulationConfig, day_weights: np.ndarray) -> Members:
    """Members registered before and during the window (reg_day >= 0 = during)."""
    rng = stream(config.seed, "members")
    n = config.members
    start = config.start_date
    opened = mall_opened(start)
    start64 = to_day(start)

    # who is from where, gender, kid (registered by a parent)
    foreign = rng.random(n) < 0.10
    fc, fw = zip(*[(c, v[0]) for c, v in names.FOREIGN.items()], strict=True)
    country = np.where(foreign, pick(rng, fc, fw, size=n), "CN").astype(object)
    gender = pick(rng, ("F", "M", "U"), (0.55, 0.42, 0.03), size=n)
    is_kid = (rng.random(n) < 0.015) & ~foreign

    # registration: 80% before the window (more recent = more likely), 20% during it
    during = rng.random(n) < 0.20
    history_days = (start - opened).days
    before_offset = -np.ceil(history_days * (1 - rng.beta(1.6, 1.0, n))).astype(np.int64)
    before_offset = np.minimum(before_offset, -1)
    p = day_weights / day_weights.sum()
    during_offset = rng.choice(len(day_weights), size=n, p=p)
    reg_day = np.where(during, during_offset, before_offset)
    hours = rng.choice(np.arange(10, 22), n)
    secs = hours * 3600 + rng.integers(0, 3600, n)
    registered_at = (start64 + reg_day.astype("timedelta64[D]")).astype("datetime64[s]") + secs.astype("timedelta64[s]")

    # birthdays: adults 16-75 at the window start, never younger than 16 at registration
    age_years = np.clip(rng.normal(36, 12, n), 16, 75)
    years_before = np.maximum(-reg_day, 0) / 365.25
    age_years = np.where(is_kid, rng.uniform(2, 13.5, n), np.maximum(age_years, years_before + 16.2))
    birth_offset = np.round(age_years * 365.25).astype(np.int64)
    birthday = start64 - birth_offset.astype("timedelta64[D]")

    # kids are registered by a parent, at least a month after birth
    kid_min = (birthday + np.timedelta64(30, "D")).astype("datetime64[s]")
    late = is_kid & (registered_at < kid_min)
    registered_at = np.where(late, kid_min + secs.astype("timedelta64[s]"), registered_at)
    reg_day = (registered_at.astype("datetime64[D]") - start64).astype(np.int64)

    chan, cw = zip(*names.REGISTRATION_CHANNELS, strict=True)
    channel = pick(rng, chan, cw, size=n)
    channel = np.where(is_kid, "service_desk", channel).astype(object)

    # names, mobiles, emails (setup only: a few thousand strings)
    full_names = np.empty(n, dtype=object)
    for i in range(n):
        c = country[i]
        if c == "CN" or c in names.CHINESE_NAMED_COUNTRIES:
            nm = _chinese_name(rng, gender[i], _surname(rng))
            if c in ("HK", "TW", "MO"):
                nm = "".join(names.TRADITIONAL.get(ch, ch) for ch in nm)
        else:
            fem, mal, lasts = names.WESTERN_NAMES[names.COUNTRY_LANGUAGE[c]]
            firsts = fem if gender[i] == "F" else mal if gender[i] == "M" else fem + mal
            first, last = str(rng.choice(firsts)), str(rng.choice(lasts))
            nm = f"{last} {first}" if c in ("JP", "KR") else f"{first} {last}"
        full_names[i] = nm

    cn_idx = np.flatnonzero(country == "CN")
    spare_n = n // 10 + 20
    cn_mobiles = _unique_cn_mobiles(rng, len(cn_idx) + spare_n, set())
    mobile = np.empty(n, dtype=object)
    mobile[cn_idx] = cn_mobiles[: len(cn_idx)]
    spare = cn_mobiles[len(cn_idx) :]
    taken = set(cn_mobiles)
    for i in np.flatnonzero(country != "CN"):
        m = _foreign_mobile(rng, country[i])
        while m in taken:
            m = _foreign_mobile(rng, country[i])
        taken.add(m)
        mobile[i] = m

    has_email = rng.random(n) < np.where(country == "CN", 0.62, 0.85)
    has_email &= ~is_kid
    email = np.full(n, None, dtype=object)
    for i in np.flatnonzero(has_email):
        email[i] = _email(rng, full_names[i], country[i])

    gender = np.where(rng.random(n) < 0.04, None, gender).astype(object)  # some never said

    # family groups: ~15% of members in families of 2-4; every kid is in one
    family_idx = np.full(n, -1, dtype=np.int64)
    adults = rng.permutation(np.flatnonzero(~is_kid))
    kids = list(rng.permutation(np.flatnonzero(is_kid)))
    target = int(round(0.15 * n))
    pos, g = 0, 0
    placed = 0
    groups: list[list[int]] = []
    while placed < target and pos + 1 < len(adults):
        size = int(pick(rng, (2, 3, 4), (0.5, 0.35, 0.15)))
        n_kids = min(len(kids), int(rng.integers(0, size - 1))) if kids else 0
        members_g = [int(a) for a in adults[pos : pos + size - n_kids]]
        pos += size - n_kids
        members_g += [int(kids.pop()) for _ in range(n_kids)]
        groups.append(members_g)
        placed += len(members_g)
        g += 1
    for k in kids:  # any kid left joins an existing family (or starts one)
        if groups:
            groups[int(rng.integers(len(groups)))].append(int(k))
        else:
            groups.append([int(k)])
    for gi, members_g in enumerate(groups):
        family_idx[members_g] = gi
        parent = members_g[0]
        for m in members_g[1:]:
            if is_kid[m]:  # child: parent's surname, registered after the parent
                full_names[m] = full_names[parent][0] + full_names[m][1:]
                if registered_at[m] < registered_at[parent]:
                    registered_at[m] = registered_at[parent] + np.timedelta64(600, "s")
    reg_day = (registered_at.astype("datetime64[D]") - start64).astype(np.int64)
    family_group_id = np.where(family_idx >= 0, np.char.mod("F%06d", family_idx + 1).astype(object), None).astype(
        object
    )

    member_id = np.char.mod("M%07d", np.arange(1, n + 1)).astype(object)

    # referrers: ~12% were referred by someone who registered earlier
    order = np.argsort(registered_at, kind="stable")
    rank = np.empty(n, dtype=np.int64)
    rank[order] = np.arange(n)
    referred = (rng.random(n) < 0.12) & (rank > 0)
    ref_rank = (rng.random(n) * rank).astype(np.int64)
    referrer = np.where(referred, member_id[order[ref_rank]], None).astype(object)

    card_no = np.asarray(unique_card_numbers(rng, n, set()), dtype=object)

    return Members(
        member_id=member_id,
        card_no=card_no,
        name=full_names,
        mobile=mobile,
        email=email,
        gender=gender,
        birthday=birthday,
        country_code=country,
        registration_channel=channel,
        registered_at=registered_at,
        reg_day=reg_day,
        family_group_id=family_group_id,
        family_idx=family_idx,
        referrer_member_id=referrer,
        is_kid=is_kid,
        tier=np.zeros(n, dtype=np.int64),
        closed=np.zeros(n, dtype=bool),
        updated_at=registered_at.copy(),
        spare_mobiles=list(spare),
    )
