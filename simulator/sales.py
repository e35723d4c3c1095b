"""POS receipts: baskets, discounts, coupons, points payments and refunds.

Arithmetic (all in integer cents, so every identity holds exactly):

* line value      v_i = quantity_i * unit_price_i
* gross_amount    G   = sum_i v_i                      (list value, before discount)
* discount_amount D   = promotion + coupon face value  (0 <= D < G)
* line discount   d_i = floor(D * v_i / G), the rounding remainder (< number of lines
                        cents) added to the line with the largest value, so sum_i d_i = D
* line_amount     a_i = v_i - d_i                      (so sum_i a_i = G - D)
* points_redeemed P   integer points, 100 points = 1 CNY, so P points = P cents
* net_amount      N   = G - D - P/100                  (payment_method 'points' iff N = 0)

Refunds repeat the refunded lines of the original receipt with negative quantity,
negative line discount and negative line amount (unit price stays positive); the
refund receipt carries G, D and N negative, P = 0 (receipts paid with points are
never refunded, so no points go back through the till) and N = G - D still holds.
A refund is full (all lines) or partial (one line), 1-7 days after the sale.
Earned points are floor(N) per member sale; a refund takes back floor(|N|).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .calendar import hour_probabilities
from .frames import Day
from .population import Members, Products, Stores

PAYMENT_METHODS = np.array(["wechat_pay", "alipay", "unionpay", "cash"], dtype=object)
PAYMENT_CN = np.array([0.45, 0.35, 0.12, 0.08])
PAYMENT_FOREIGN = np.array([0.20, 0.20, 0.35, 0.25])
REFUND_RATE = {
    "fashion": 0.045,
    "beauty": 0.02,
    "food_beverage": 0.004,
    "kids": 0.03,
    "sports": 0.035,
    "electronics": 0.03,
    "home": 0.03,
    "supermarket": 0.01,
    "entertainment": 0.005,
    "jewelry": 0.02,
}


@dataclass
class Receipts:
    """Receipts of one day before ids are given (sales) - column arrays."""

    member: np.ndarray  # member index, -1 for anonymous
    store: np.ndarray
    at: np.ndarray  # datetime64[s]
    gross: np.ndarray  # cents
    discount: np.ndarray
    points: np.ndarray
    net: np.ndarray
    payment: np.ndarray
    coupon: np.ndarray  # index into the coupon book, -1 for none
    by_mobile: np.ndarray  # identified by mobile instead of card
    terminal: np.ndarray  # 1-based terminal number
    cashier: np.ndarray  # 1-based cashier number
    extra: np.ndarray  # campaign extra purchase
    # lines
    line_receipt: np.ndarray
    line_product: np.ndarray
    line_qty: np.ndarray
    line_price: np.ndarray
    line_discount: np.ndarray

    @property
    def n(self) -> int:
        return len(self.member)


def _choose_rows(rng: np.random.Generator, weights: np.ndarray) -> np.ndarray:
    """One column index per row of a (rows x options) weight matrix."""
    if len(weights) == 0:
        return np.zeros(0, dtype=np.int64)
    cdf = np.cumsum(weights, axis=1)
    u = rng.random(len(weights)) * cdf[:, -1]
    return np.minimum((cdf < u[:, None]).sum(axis=1), weights.shape[1] - 1)


def draw_receipts(
    rng: np.random.Generator,
    day: Day,
    who: np.ndarray,
    extra: np.ndarray,
    n_anonymous: int,
    members: Members,
    spend: np.ndarray,
    store_weight: np.ndarray,
    stores: Stores,
    products: Products,
    prices: np.ndarray,
    anonymous_weight: np.ndarray,
) -> Receipts:
    """Baskets of the day: stores, times, lines, gross amounts (no discounts yet)."""
    member = np.concatenate([who, np.full(n_anonymous, -1)]).astype(np.int64)
    is_member = member >= 0
    n = len(member)
    store = np.empty(n, dtype=np.int64)
    store[is_member] = _choose_rows(rng, store_weight[who].astype(np.float64, copy=False))
    if n_anonymous:
        store[~is_member] = rng.choice(stores.n, n_anonymous, p=anonymous_weight)

    hours, hp = hour_probabilities()
    secs = rng.choice(hours, n, p=hp) * 3600 + rng.integers(0, 3600, n)
    at = day.at(secs)
    if is_member.any():  # new members buy after registering
        reg = members.registered_at[np.maximum(member, 0)]
        floor_at = reg + np.timedelta64(120, "s")
        at = np.where(is_member & (at < floor_at), floor_at, at)

    level = np.where(is_member, spend[np.maximum(member, 0)], rng.lognormal(-0.25, 0.6, n))
    cat = stores.frame["category"].to_numpy()[store]
    k = 1 + rng.poisson(0.55 * np.sqrt(level)) + (cat == "supermarket")
    k = np.clip(k, 1, 5)
    line_receipt = np.repeat(np.arange(n), k)
    line_level = level[line_receipt]
    line_store = store[line_receipt]
    u = rng.random(len(line_receipt)) ** (1.0 / np.clip(line_level, 0.3, 4))
    count = products.store_count[line_store]
    product = products.store_start[line_store] + np.minimum((u * count).astype(np.int64), count - 1)
    line_cat = cat[line_receipt]
    bulky = np.isin(line_cat, ["supermarket", "food_beverage"])
    qty = np.where(bulky, 1 + np.minimum(rng.poisson(0.5, len(product)), 5), 1 + (rng.random(len(product)) < 0.08))
    price = prices[product]
    gross = np.bincount(line_receipt, weights=qty * price, minlength=n).astype(np.int64)

    terminals = stores.frame["terminals"].to_numpy()[store]
    terminal = 1 + (rng.random(n) * terminals).astype(np.int64)
    cashier = terminal * 2 - (rng.random(n) < 0.5)
    by_mobile = is_member & (rng.random(n) < 0.10)
    flag = np.concatenate([extra, np.zeros(n_anonymous, dtype=bool)])
    zeros = np.zeros(n, dtype=np.int64)
    return Receipts(
        member=member,
        store=store,
        at=at,
        gross=gross,
        discount=zeros.copy(),
        points=zeros.copy(),
        net=gross.copy(),
        payment=np.full(n, None, dtype=object),
        coupon=np.full(n, -1),
        by_mobile=by_mobile,
        terminal=terminal,
        cashier=cashier,
        extra=flag,
        line_receipt=line_receipt,
        line_product=product,
        line_qty=qty.astype(np.int64),
        line_price=price.astype(np.int64),
        line_discount=np.zeros(len(product), dtype=np.int64),
    )


def apply_promotions(rng: np.random.Generator, r: Receipts, festival: bool) -> None:
    """Store promotions: 10% of receipts (40% on festival days) get 5-20% off."""
    p = 0.40 if festival else 0.10
    hit = rng.random(r.n) < p
    pct = rng.choice([5, 10, 15, 20], r.n)
    r.discount += np.where(hit, (r.gross * pct + 50) // 100, 0)


def apply_coupons(
    rng: np.random.Generator, r: Receipts, holder_coupon: np.ndarray, coupon_value: np.ndarray, coupon_min: np.ndarray
) -> np.ndarray:
    """Members holding a valid coupon use it on their first qualifying receipt.

    holder_coupon[m] is the coupon-book index held by member m (or -1). Returns the
    receipt indices that redeemed a coupon.
    """
    cand = np.flatnonzero(r.member >= 0)
    cand = cand[holder_coupon[r.member[cand]] >= 0]
    if len(cand) == 0:
        return cand
    c = holder_coupon[r.member[cand]]
    ok = (r.gross[cand] - r.discount[cand] >= coupon_min[c]) & (rng.random(len(cand)) < 0.8)
    cand, c = cand[ok], c[ok]
    # one coupon per member: the earliest receipt wins
    order = np.lexsort((r.at[cand], r.member[cand]))
    cand, c = cand[order], c[order]
    _, first = np.unique(r.member[cand], return_index=True)
    cand, c = cand[first], c[first]
    r.discount[cand] += coupon_value[c]
    r.coupon[cand] = c
    holder_coupon[r.member[cand]] = -1
    return cand


def allocate_discounts(r: Receipts) -> None:
    """Spread each receipt's discount over its lines (exact to the cent)."""
    value = r.line_qty * r.line_price
    g = r.gross[r.line_receipt]
    d = r.discount[r.line_receipt]
    share = np.where(g > 0, d * value // np.maximum(g, 1), 0)
    rem = r.discount - np.bincount(r.line_receipt, weights=share, minlength=r.n).astype(np.int64)
    order = np.lexsort((-value, r.line_receipt))
    _, first = np.unique(r.line_receipt[order], return_index=True)
    largest = order[first]
    share[largest] += rem[r.line_receipt[largest]]
    r.line_discount = share.astype(np.int64)


def apply_points(rng: np.random.Generator, r: Receipts, balance_of) -> np.ndarray:
    """Some members pay part or all of a receipt with points; returns receipts affected."""
    cand = np.flatnonzero((r.member >= 0) & (rng.random(r.n) < 0.07))
    if len(cand) == 0:
        return cand
    _, first = np.unique(r.member[cand], return_index=True)  # one per member per day
    cand = cand[first]
    bal = balance_of(r.member[cand])
    due = r.gross[cand] - r.discount[cand]
    ok = bal >= 1000
    cand, bal, due = cand[ok], bal[ok], due[ok]
    full = (bal >= due) & (rng.random(len(cand)) < 0.4)
    part = (np.minimum(bal, due) * rng.uniform(0.2, 0.9, len(cand))).astype(np.int64) // 100 * 100
    pts = np.where(full, due, np.minimum(part, due))
    keep = pts > 0
    cand, pts = cand[keep], pts[keep]
    r.points[cand] = pts
    return cand


def settle(rng: np.random.Generator, r: Receipts, members: Members) -> None:
    """Net amount and payment method."""
    r.net = r.gross - r.discount - r.points
    foreign = (r.member >= 0) & (members.country_code[np.maximum(r.member, 0)] != "CN")
    pay_cn = rng.choice(len(PAYMENT_METHODS), r.n, p=PAYMENT_CN)
    pay_fx = rng.choice(len(PAYMENT_METHODS), r.n, p=PAYMENT_FOREIGN)
    r.payment = PAYMENT_METHODS[np.where(foreign, pay_fx, pay_cn)]
    r.payment = np.where(r.net == 0, "points", r.payment).astype(object)


# Refunds ------------------------------------------------------------------------------


class RefundBook:
    """Refunds decided at sale time, waiting for their day (numpy chunks per due day)."""

    def __init__(self) -> None:
        self.pending: dict[int, list[tuple[dict, dict]]] = {}
        self._next = 0

    def schedule(
        self,
        rng: np.random.Generator,
        day: Day,
        last_day: int,
        txn_ids: np.ndarray,
        r: Receipts,
        stores: Stores,
        store_last_day: np.ndarray,
    ) -> None:
        rate_by_store = np.array([REFUND_RATE[c] for c in stores.frame["category"]])
        due = day.idx + rng.integers(1, 8, r.n)
        pick = (
            (rng.random(r.n) < rate_by_store[r.store])
            & (r.points == 0)
            & (due <= last_day)
            & (due < store_last_day[r.store])
        )
        sel = np.flatnonzero(pick)
        if len(sel) == 0:
            return
        ref = self._next + np.arange(len(sel))
        self._next += len(sel)
        n_lines = np.bincount(r.line_receipt, minlength=r.n)[sel]
        partial = (n_lines > 1) & (rng.random(len(sel)) < 0.35)
        chosen = np.where(partial, (rng.random(len(sel)) * n_lines).astype(np.int64), -1)
        slot = np.full(r.n, -1, dtype=np.int64)
        slot[sel] = np.arange(len(sel))
        rank = np.arange(len(r.line_receipt)) - np.searchsorted(r.line_receipt, r.line_receipt)
        s_of_line = slot[r.line_receipt]
        keep = s_of_line >= 0
        keep[keep] &= (chosen[s_of_line[keep]] < 0) | (chosen[s_of_line[keep]] == rank[keep])
        li = np.flatnonzero(keep)
        rec = {
            "ref": ref,
            "due": due[sel],
            "orig": txn_ids[sel],
            "member": r.member[sel],
            "store": r.store[sel],
            "terminal": r.terminal[sel],
            "cashier": r.cashier[sel],
            "by_mobile": r.by_mobile[sel],
            "payment": r.payment[sel],
        }
        lines = {
            "ref": ref[s_of_line[li]],
            "rank": rank[li],
            "product": r.line_product[li],
            "qty": r.line_qty[li],
            "price": r.line_price[li],
            "disc": r.line_discount[li],
        }
        line_due = rec["due"][s_of_line[li]]
        for d in np.unique(rec["due"]):
            rm, lm = rec["due"] == d, line_due == d
            self.pending.setdefault(int(d), []).append(
                ({k: v[rm] for k, v in rec.items()}, {k: v[lm] for k, v in lines.items()})
            )

    def due(self, day: int) -> tuple[dict, dict] | None:
        """Receipt-level and line-level arrays of the refunds due on `day` (by ref)."""
        chunks = self.pending.pop(day, None)
        if not chunks:
            return None
        rec = {k: np.concatenate([c[0][k] for c in chunks]) for k in chunks[0][0]}
        lines = {k: np.concatenate([c[1][k] for c in chunks]) for k in chunks[0][1]}
        order = np.argsort(rec["ref"], kind="stable")
        rec = {k: v[order] for k, v in rec.items()}
        lorder = np.lexsort((lines["rank"], lines["ref"]))
        lines = {k: v[lorder] for k, v in lines.items()}
        return rec, lines
