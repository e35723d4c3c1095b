"""The simulated mall, advanced one business day at a time.

`World.step(day)` applies the day's events in causal order - snapshots, tier
review, registrations, campaign starts, purchases and refunds, points and tiers,
member record changes, consents, feedback, traffic - and returns the column arrays
of every export file of that day, keyed by (system, entity). All randomness comes
from named streams (`simulator.rng`), so a seed fixes the whole mall.
"""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pandas as pd

from . import behaviour, calendar, sales
from .activation import Activation
from .behaviour import NEVER
from .config import SimulationConfig
from .digital import Digital
from .feedback import Feedback
from .frames import Day, Rows, sort_columns
from .loyalty import Consents, Points, Tiers, tier_of
from .marketing import Marketing
from .population import (
    build_members,
    build_products,
    build_stores,
    build_zones,
)
from .rng import stream
from .traffic import Traffic

MEMBER_COLUMNS = [
    "member_id",
    "card_no",
    "name",
    "mobile",
    "email",
    "gender",
    "birthday",
    "country_code",
    "registration_channel",
    "registered_at",
    "tier",
    "family_group_id",
    "referrer_member_id",
    "status",
    "updated_at",
]
ANONYMOUS_SHARE = 0.40  # share of receipts without a member


class World:
    def __init__(self, config: SimulationConfig, activations: list[Activation] | None = None):
        self.config = config
        start = config.start_date
        self.last_day = config.days - 1
        self.factors = calendar.day_factors(start, config.days)
        hist_factors = calendar.day_factors(start - timedelta(days=365), 365)

        self.zones = build_zones()
        self.stores = build_stores(config, self.zones)
        self.products = build_products(config, self.stores)
        self.prices = self.products.frame["price_cents"].to_numpy().copy()
        self.costs = self.products.frame["cost_cents"].to_numpy().copy()
        self.members = m = build_members(config, self.factors)
        self.latent = lat = behaviour.build_latent(config, m, self.stores)

        closed_on = self.stores.frame["closed_on"]
        self.store_last_day = np.array([NEVER if pd.isna(c) else (c - start).days for c in closed_on], dtype=np.int64)
        self.store_ids = self.stores.ids
        self.store_names = self.stores.frame["store_name"].to_numpy(dtype=object)
        self.store_number = np.arange(1, self.stores.n + 1)
        self.store_zone = (
            self.zones.reset_index().set_index("zone_id").loc[self.stores.frame["zone_id"], "index"].to_numpy()
        )
        self.skus = self.products.frame["sku"].to_numpy(dtype=object)

        # history before the window: tiers, opening points, closed accounts
        rng = stream(config.seed, "opening")
        receipt = behaviour.expected_receipt_cents(lat, self.products, self.stores)
        history = behaviour.history_spend(config, m, lat, receipt, hist_factors)
        pre = np.flatnonzero(m.reg_day < 0)
        m.tier[:] = tier_of(behaviour.row_sums(history))
        start_s = np.datetime64(start.isoformat(), "s")
        dead_pre = pre[lat.death_day[pre] < 0]
        closed = dead_pre[rng.random(len(dead_pre)) < 0.12]
        span = (start_s - m.registered_at[closed]).astype(np.int64)
        closed_at = m.registered_at[closed] + (rng.uniform(0.5, 1.0, len(closed)) * span).astype("timedelta64[s]")
        m.closed[closed] = True
        upgraded = pre[m.tier[pre] > 0]
        span = np.minimum((start_s - m.registered_at[upgraded]).astype(np.int64), 180 * 86400)
        m.updated_at[upgraded] = start_s - (rng.random(len(upgraded)) * span).astype("timedelta64[s]")
        m.updated_at[closed] = np.maximum(m.updated_at[closed], closed_at)

        self.points = Points(m, start.year, (start + timedelta(days=config.days)).year + 1)
        opening = pre[~m.closed[pre]]
        bal = np.floor(behaviour.row_sums(history, opening, np.float32) * rng.uniform(0.2, 0.9, len(opening)))
        bal = bal.astype(np.int64)
        has = bal > 0
        opening, bal = opening[has], bal[has]
        back = np.minimum((start_s - m.registered_at[opening]).astype(np.int64), 365 * 86400 - 1)
        when = (
            start_s
            - (rng.random(len(opening)) * back).astype(np.int64).astype("timedelta64[s]")
            - np.timedelta64(1, "s")
        )
        self.points.earn(opening, bal, when, np.full(len(opening), None, dtype=object))

        self.consents = Consents(m, start, config.seed)
        self.consents.register(pre)
        self.consents.history_withdrawals(pre, start_s)
        self.consents.withdraw_all(closed, m.updated_at[closed])

        self.tiers = Tiers(m, history, config.days)  # keeps `history` as its rolling window
        del history
        self.marketing = Marketing(config, m, activations)
        self.feedback = Feedback(
            m,
            self.store_ids,
            self.store_names,
            self.zones["zone_name"].to_numpy(dtype=object),
            stream(config.seed, "feedback"),
            stream(config.seed, "follow-up-satisfaction"),
        )
        self.digital = Digital(config, m, lat, self.zones)
        self.refunds = sales.RefundBook()
        self.member_rows = Rows(MEMBER_COLUMNS)

        eligible = lat.alive & ~lat.potential & ~m.closed & (m.reg_day <= 0)
        member_daily = float((lat.rate * eligible).sum())
        self.anonymous_rate = member_daily * ANONYMOUS_SHARE / (1 - ANONYMOUS_SHARE)
        self.traffic = Traffic(config.seed, self.zones, m.n, member_daily + self.anonymous_rate)
        self.families = [np.flatnonzero(m.family_idx == g) for g in range(m.family_idx.max() + 1)]

        self.rng_buy = stream(config.seed, "purchases")
        self.rng_sales = stream(config.seed, "sales")
        self.rng_refund = stream(config.seed, "refunds")
        self.rng_points = stream(config.seed, "points")
        self.rng_members = stream(config.seed, "member-changes")
        self.rng_ref = stream(config.seed, "reference")
        self.rng_life = stream(config.seed, "life")

    # helpers --------------------------------------------------------------------------
    def day(self, idx: int) -> Day:
        d = self.config.start_date + timedelta(days=idx)
        return Day(idx, d, float(self.factors[idx]), calendar.is_festival(d))

    def _member_rows(self, idx: np.ndarray) -> None:
        if len(idx):
            self.member_rows.add(**self.members.frame(idx))

    # reference snapshots --------------------------------------------------------------
    def _reference(self, day: Day) -> dict:
        if day.idx > 0:  # monthly repricing of a few SKUs
            rng = self.rng_ref
            hit = rng.random(len(self.prices)) < 0.03
            factor = rng.uniform(0.85, 1.15, int(hit.sum()))
            self.prices[hit] = reprice(self.prices[hit] * factor)
        snap = np.full(self.stores.n, day.d64)
        f = self.stores.frame
        announce = self.store_last_day - 31 <= day.idx
        closed_on = np.array(
            [
                c if (a and c is not None and not pd.isna(c)) else None
                for c, a in zip(f["closed_on"], announce, strict=True)
            ],
            dtype=object,
        )
        stores = {
            "store_id": self.store_ids,
            "store_name": self.store_names,
            "tenant_name": f["tenant_name"].to_numpy(dtype=object),
            "category": f["category"].to_numpy(dtype=object),
            "floor": f["floor"].to_numpy(dtype=object),
            "zone_id": f["zone_id"].to_numpy(object),
            "area_sqm": f["area_sqm"].to_numpy(dtype=float),
            "opened_on": np.array([d.isoformat() for d in f["opened_on"]], dtype="datetime64[D]"),
            "closed_on": np.array(
                [np.datetime64("NaT") if c is None else c.isoformat() for c in closed_on], dtype="datetime64[D]"
            ),
            "snapshot_date": snap,
        }
        p = self.products.frame
        products = {
            "sku": self.skus,
            "product_name": p["product_name"].to_numpy(dtype=object),
            "store_id": p["store_id"].to_numpy(dtype=object),
            "category": p["category"].to_numpy(dtype=object),
            "brand": p["brand"].to_numpy(dtype=object),
            "unit_price": self.prices / 100.0,
            "unit_cost": np.minimum(self.costs, self.prices) / 100.0,
            "snapshot_date": np.full(len(p), day.d64),
        }
        z = self.zones
        zones = {
            "zone_id": z["zone_id"].to_numpy(dtype=object),
            "zone_name": z["zone_name"].to_numpy(dtype=object),
            "floor": z["floor"].to_numpy(dtype=object),
            "zone_type": z["zone_type"].to_numpy(dtype=object),
            "snapshot_date": np.full(len(z), day.d64),
        }
        return {("reference", "stores"): stores, ("reference", "products"): products, ("reference", "zones"): zones}

    # the day --------------------------------------------------------------------------
    def step(self, day: Day) -> dict[tuple[str, str], dict[str, np.ndarray]]:
        m, lat = self.members, self.latent
        out: dict[tuple[str, str], dict[str, np.ndarray]] = {}
        if day.idx == 0 or day.date.day == 1:
            out.update(self._reference(day))
        for s in np.flatnonzero(self.store_last_day == day.idx):
            behaviour.close_store(lat, int(s))

        if day.idx == 0:  # initial export of the members registered before the window
            self._member_rows(np.flatnonzero(m.reg_day < 0))
        self.tiers.roll(day.idx)
        if day.date.month == 1 and day.date.day == 1:
            self._annual_review(day)
        new = np.flatnonzero(m.reg_day == day.idx)
        self._member_rows(new)
        self.consents.register(new)

        self.marketing.start_of_day(day, lat, self.consents)
        txn, lines, sold = self._sales(day)
        out[("pos", "transactions")] = txn
        out[("pos", "transaction_lines")] = lines

        self._points_service(day)
        if day.date.month == 12 and day.date.day == 31:
            self.points.expire_year(day.date.year, day.end_of_day())
        self._member_changes(day, sold)
        active = (m.reg_day <= day.idx) & ~m.closed
        self.consents.daily(day, active)
        out.update(self.digital.step(day, lat.alive))
        for who, source, at in self.digital.earned:  # check-ins and games earn points
            self.points.earn_activity(day, who, source, at)

        # feedback on today's sales
        self.feedback.survey(day, sold["member"], sold["store"], sold["at"], lat, len(txn["transaction_id"]))
        hit = self.feedback.complain(
            day, sold["member"], sold["store"], sold["at"], lat, self.last_day, self.store_zone
        )
        if len(hit):
            lat.last_complaint_day[hit[:, 0]] = day.idx
            behaviour.shorten_life(self.rng_life, lat, hit[:, 0], hit[:, 1].astype(bool))

        visitors = self.traffic.visitors(day)
        out[("sensors", "people_counts")] = self.traffic.people_counts(day, visitors)
        out[("sensors", "wifi_dwell")] = self.traffic.wifi(day, visitors)

        out[("membership", "members")] = sort_columns(self.member_rows.take(), "updated_at", "member_id")
        out[("membership", "consents")] = self.consents.flush()
        surveys = self.feedback.flush_surveys(day)
        self.points.earn_reviews(day, surveys)  # a survey comment earns review points
        self.points.earn_birthdays(day)
        out[("membership", "points_ledger")] = self.points.flush(day.tag)
        out[("membership", "tier_changes")] = self.tiers.flush()
        out[("feedback", "surveys")] = surveys
        out[("feedback", "complaints")] = self.feedback.flush_complaints(day)
        mk = self.marketing.flush()
        if len(mk["campaigns"]["campaign_id"]):
            out[("marketing", "campaigns")] = mk["campaigns"]
        if len(mk["assignments"]["campaign_id"]):
            out[("marketing", "assignments")] = mk["assignments"]
        out[("marketing", "coupon_events")] = mk["coupon_events"]
        return out

    # sales ----------------------------------------------------------------------------
    def _sales(self, day: Day):
        m, lat, rng = self.members, self.latent, self.rng_sales
        who, extra = behaviour.purchases_today(self.rng_buy, m, lat, day.idx, day.factor)
        pop = self.stores.frame["popularity"].to_numpy() * (self.store_last_day > day.idx)
        n_anon = int(rng.poisson(self.anonymous_rate * day.factor))
        r = sales.draw_receipts(
            rng,
            day,
            who,
            extra,
            n_anon,
            m,
            lat.spend,
            lat.store_weight,
            self.stores,
            self.products,
            self.prices,
            pop / pop.sum(),
        )
        sales.apply_promotions(rng, r, day.festival)
        mk = self.marketing
        used = sales.apply_coupons(rng, r, mk.holder_coupon, mk.coupon_value, mk.coupon_min)
        sales.allocate_discounts(r)
        opening_balance = self.points.buckets.sum(axis=1)
        paid = sales.apply_points(rng, r, self.points.balance)
        sales.settle(rng, r, m)

        refund = self._due_refunds(day)
        n_s, n_r = r.n, len(refund["member"])
        at = np.concatenate([r.at, refund["at"]])
        store = np.concatenate([r.store, refund["store"]])
        order = np.lexsort((np.arange(n_s + n_r), at))
        position = np.empty(n_s + n_r, dtype=np.int64)
        position[order] = np.arange(n_s + n_r)
        ids_sorted = np.char.mod(f"T{day.tag}%06d", np.arange(1, n_s + n_r + 1)).astype(object)
        ids = ids_sorted[position]  # id of each receipt (sales first, then refunds)
        sale_ids, refund_ids = ids[:n_s], ids[n_s:]

        member = np.concatenate([r.member, refund["member"]])
        by_mobile = np.concatenate([r.by_mobile, refund["by_mobile"]])
        safe = np.maximum(member, 0)
        card = np.where((member >= 0) & ~by_mobile, m.card_no[safe], None)
        mobile = np.where((member >= 0) & by_mobile, m.mobile[safe], None)
        terminal = np.concatenate([r.terminal, refund["terminal"]])
        cashier = np.concatenate([r.cashier, refund["cashier"]])
        sid = self.store_ids[store].astype(str)
        coupon = np.concatenate([mk.code_of(r.coupon), np.full(n_r, None, dtype=object)])
        txn = {
            "transaction_id": ids,
            "transaction_type": np.array(["sale"] * n_s + ["refund"] * n_r, dtype=object),
            "original_transaction_id": np.concatenate([np.full(n_s, None, dtype=object), refund["orig"]]),
            "store_id": sid.astype(object),
            "terminal_id": np.char.add(sid, np.char.mod("-POS%02d", terminal)).astype(object),
            "member_card_no": card.astype(object),
            "member_mobile": mobile.astype(object),
            "transaction_at": at,
            "gross_amount": np.concatenate([r.gross, refund["gross"]]) / 100.0,
            "discount_amount": np.concatenate([r.discount, refund["discount"]]) / 100.0,
            "coupon_code": coupon,
            "points_redeemed": np.concatenate([r.points, np.zeros(n_r, dtype=np.int64)]),
            "net_amount": np.concatenate([r.net, refund["net"]]) / 100.0,
            "payment_method": np.concatenate([r.payment, refund["payment"]]).astype(object),
            "cashier_id": np.char.add(
                np.char.mod("C%03d", self.store_number[store]), np.char.mod("%02d", cashier)
            ).astype(object),
        }
        txn = {k: v[order] for k, v in txn.items()}

        # lines: sales lines then refund lines, by receipt id and line number
        s_rank = np.arange(len(r.line_receipt)) - np.searchsorted(r.line_receipt, r.line_receipt)
        l_receipt = np.concatenate([r.line_receipt, refund["line_receipt"] + n_s])
        l_rank = np.concatenate([s_rank, refund["line_rank"]])
        qty = np.concatenate([r.line_qty, refund["line_qty"]])
        price = np.concatenate([r.line_price, refund["line_price"]])
        disc = np.concatenate([r.line_discount, refund["line_discount"]])
        product = np.concatenate([r.line_product, refund["line_product"]])
        lorder = np.lexsort((l_rank, position[l_receipt]))
        lines = {
            "transaction_id": ids[l_receipt][lorder],
            "line_no": (l_rank + 1)[lorder],
            "sku": self.skus[product][lorder],
            "quantity": qty[lorder],
            "unit_price": price[lorder] / 100.0,
            "discount_amount": disc[lorder] / 100.0,
            "line_amount": (qty * price - disc)[lorder] / 100.0,
        }

        # effects on members ----------------------------------------------------------
        pts = self.points
        if len(paid):
            pts.redeem(r.member[paid], r.points[paid], r.at[paid], sale_ids[paid])
        mem = np.flatnonzero(r.member >= 0)
        pts.earn_purchases(day, r.member[mem], r.net[mem], r.at[mem], sale_ids[mem])
        if len(used):
            mk.redeemed(r.coupon[used], r.member[used], r.at[used], sale_ids[used], self.store_ids[r.store[used]])
        rm = np.flatnonzero(refund["member"] >= 0)
        if len(rm):
            # take back the refunded points, but never more than the member surely had at
            # the refund time: the opening balance of the day minus today's redemptions
            who_r = refund["member"][rm]
            spent = np.zeros(m.n, dtype=np.int64)
            np.add.at(spent, r.member[paid], r.points[paid])
            available = np.maximum(opening_balance[who_r] - spent[who_r], 0)
            back = np.minimum(np.abs(refund["net"][rm]) // 100, available)
            pts.adjust(who_r, -back, refund["at"][rm], refund_ids[rm])
        spenders = np.concatenate([r.member[mem], refund["member"][rm]])
        amounts = np.concatenate([r.net[mem], refund["net"][rm]]) / 100.0
        self.tiers.book(day.idx, spenders, amounts)
        self._upgrades(day, r)
        self.refunds.schedule(self.rng_refund, day, self.last_day, sale_ids, r, self.stores, self.store_last_day)
        # today's sales in file order, for feedback
        sale_sorted = order[order < n_s]
        sold = {
            "member": r.member[sale_sorted],
            "store": r.store[sale_sorted],
            "at": r.at[sale_sorted],
            "all_members": member,
        }
        return txn, lines, sold

    def _due_refunds(self, day: Day) -> dict[str, np.ndarray]:
        due = self.refunds.due(day.idx)
        if due is not None:
            rec, lin = due
            open_ = self.store_last_day[rec["store"]] > day.idx
            rec = {k: v[open_] for k, v in rec.items()}
            keep = np.isin(lin["ref"], rec["ref"])
            lin = {k: v[keep] for k, v in lin.items()}
        if due is None or len(rec["ref"]) == 0:
            e = np.zeros(0, dtype=np.int64)
            return {
                "member": e,
                "store": e,
                "at": np.zeros(0, "datetime64[s]"),
                "by_mobile": np.zeros(0, bool),
                "terminal": e,
                "cashier": e,
                "orig": np.zeros(0, object),
                "payment": np.zeros(0, object),
                "gross": e,
                "discount": e,
                "net": e,
                "line_receipt": e,
                "line_rank": e,
                "line_qty": e,
                "line_price": e,
                "line_discount": e,
                "line_product": e,
            }
        rng = self.rng_refund
        n = len(rec["ref"])
        l_receipt = np.searchsorted(rec["ref"], lin["ref"])  # both sorted by ref
        l_rank = np.arange(len(l_receipt)) - np.searchsorted(l_receipt, l_receipt)
        qty = -lin["qty"].astype(np.int64)
        price = lin["price"].astype(np.int64)
        disc = -lin["disc"].astype(np.int64)
        gross = np.bincount(l_receipt, weights=qty * price, minlength=n).astype(np.int64)
        discount = np.bincount(l_receipt, weights=disc, minlength=n).astype(np.int64)
        hours, hp = calendar.hour_probabilities()
        secs = rng.choice(hours, n, p=hp) * 3600 + rng.integers(0, 3600, n)
        return {
            "member": rec["member"].astype(np.int64),
            "store": rec["store"].astype(np.int64),
            "at": day.at(secs),
            "by_mobile": rec["by_mobile"].astype(bool),
            "terminal": rec["terminal"].astype(np.int64),
            "cashier": rec["cashier"].astype(np.int64),
            "orig": rec["orig"].astype(object),
            "payment": rec["payment"].astype(object),
            "gross": gross,
            "discount": discount,
            "net": gross - discount,
            "line_receipt": l_receipt,
            "line_rank": l_rank,
            "line_qty": qty,
            "line_price": price,
            "line_discount": disc,
            "line_product": lin["product"].astype(np.int64),
        }

    # loyalty --------------------------------------------------------------------------
    def _upgrades(self, day: Day, r: sales.Receipts) -> None:
        m = self.members
        new_tier = tier_of(self.tiers.rolling)
        up = np.flatnonzero((new_tier > m.tier) & ~m.closed)
        if len(up) == 0:
            return
        last = np.full(m.n, -1, dtype=np.int64)
        buyers = r.member >= 0
        np.maximum.at(last, r.member[buyers], r.at[buyers].astype(np.int64))
        at = np.where(last[up] >= 0, last[up], day.at(21 * 3600).astype(np.int64))
        at = at.astype("datetime64[s]")
        at = np.minimum(at + np.timedelta64(60, "s"), day.end_of_day())
        self.tiers.change(up, new_tier[up], at, "spend_threshold")
        self._member_rows(up)

    def _annual_review(self, day: Day) -> None:
        m = self.members
        new_tier = tier_of(self.tiers.rolling)
        idx = np.flatnonzero((new_tier != m.tier) & ~m.closed & (m.reg_day < day.idx))
        at = day.at(3 * 3600 + np.arange(len(idx)) % 600)
        self.tiers.change(idx, new_tier[idx], at, "annual_review")
        self._member_rows(idx)

    def _points_service(self, day: Day) -> None:
        """Family transfers, service-desk adjustments, manual tier upgrades."""
        rng, m, pts = self.rng_points, self.members, self.points
        self.points_touched = np.zeros(m.n, dtype=bool)
        if self.families:
            n_t = rng.poisson(0.015 * len(self.families))
            givers, receivers, amounts, fams = [], [], [], []
            for g in rng.integers(0, len(self.families), n_t):
                fam = self.families[g]
                fam = fam[(m.reg_day[fam] <= day.idx) & ~m.closed[fam] & ~m.is_kid[fam]]
                if len(fam) < 2:
                    continue
                giver, receiver = rng.choice(fam, 2, replace=False)
                bal = int(pts.balance(np.array([giver]))[0])
                if bal < 500:
                    continue
                givers.append(giver)
                receivers.append(receiver)
                amounts.append(int(bal * rng.uniform(0.3, 1.0)) // 100 * 100)
                fams.append(m.family_group_id[giver])
            if givers:  # in the app, in the evening (after the day's purchases)
                at = day.at(rng.integers(22 * 3600, 23 * 3600, len(givers)))
                self.points_touched[np.array(givers + receivers)] = True
                pts.transfer(np.array(givers), np.array(receivers), np.array(amounts), at, np.array(fams, dtype=object))
        active = np.flatnonzero((m.reg_day <= day.idx) & ~m.closed)
        n_a = rng.poisson(0.2 * m.n / 1000)
        if n_a and len(active):
            who = rng.choice(active, n_a)
            amount = np.where(
                rng.random(n_a) < 0.8, rng.choice([100, 200, 500, 1000], n_a), -rng.choice([100, 200, 500], n_a)
            )
            # back-office batch at night
            pts.adjust(who, amount, day.at(rng.integers(23 * 3600, 23 * 3600 + 1800, n_a)))
            self.points_touched[who] = True
        if rng.random() < 0.05 and len(active):
            cand = active[m.tier[active] < 3]
            if len(cand):
                who = np.array([rng.choice(cand)])
                self.tiers.change(
                    who, m.tier[who] + 1, day.at(np.array([int(rng.integers(10 * 3600, 21 * 3600))])), "manual"
                )
                self._member_rows(who)

    def _member_changes(self, day: Day, sold: dict) -> None:
        """Mobile number changes and account closures (on quiet members only)."""
        rng, m, lat = self.rng_members, self.members, self.latent
        touched = np.zeros(m.n, dtype=bool)
        touched[sold["all_members"][sold["all_members"] >= 0]] = True
        touched[m.reg_day == day.idx] = True
        touched[m.updated_at.astype("datetime64[D]") == day.d64] = True
        touched |= self.points_touched
        pool = (m.reg_day < day.idx) & ~m.closed & ~touched
        cn = m.country_code == "CN"
        change = np.flatnonzero(pool & cn & (rng.random(m.n) < 0.00008))
        change = change[: len(m.spare_mobiles)]
        if len(change):
            m.mobile[change] = [m.spare_mobiles.pop() for _ in change]
            m.updated_at[change] = day.at(rng.integers(10 * 3600, 21 * 3600, len(change)))
            self._member_rows(change)
        pool[change] = False
        p_close = np.where(lat.alive & ~lat.potential, 0.00002, 0.0001)
        close = np.flatnonzero(pool & (rng.random(m.n) < p_close))
        if len(close):
            at = day.at(rng.integers(10 * 3600, 21 * 3600, len(close)))
            m.closed[close] = True
            m.updated_at[close] = at
            lat.alive[close] = False
            self._member_rows(close)
            self.consents.withdraw_all(close, at)
            bal = self.points.balance(close)
            self.points.adjust(close, -bal, at + np.timedelta64(1, "s"))
            self.marketing.holder_coupon[close] = -1


def reprice(cents: np.ndarray) -> np.ndarray:
    """New shelf prices after a repricing: whole yuan."""
    return np.maximum(np.round(np.asarray(cents) / 100.0) * 100, 100).astype(np.int64)
