"""Loyalty ledger of the simulator: earn sources, festival multipliers, activity points.

Runs the simulated mall in memory for a few weeks around Double 11 (a festival with a
peak multiplier and a warm-up with the ordinary one) and checks the ledger rows it
writes against the POS receipts and the surveys of the same days.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pytest
import yaml

from mallcrm.core.settings import PROJECT_ROOT
from simulator import calendar
from simulator.config import SimulationConfig
from simulator.loyalty import (
    ACTIVITY_POINTS,
    BIRTHDAY_POINTS,
    FESTIVAL_MULTIPLIER,
    TIER_THRESHOLDS,
    purchase_multiplier,
)
from simulator.world import World

DAYS = 16  # 1-16 November 2025: Double 11 warm-up (x1.2), Double 11 (x1.5), ordinary days


@pytest.fixture(scope="module")
def run():
    world = World(SimulationConfig(seed=5, members=400, stores=6, days=DAYS, start_date=date(2025, 11, 1)))
    days = []
    for i in range(DAYS):
        day = world.day(i)
        days.append((day, world.step(day)))
    return world, days


def _concat(days, key):
    parts = [out[key] for _, out in days if key in out and len(next(iter(out[key].values())))]
    return {c: np.concatenate([p[c] for p in parts]) for c in parts[0]}


def test_purchase_points_are_floor_cny_times_the_festival_multiplier(run):
    _, days = run
    ledger = _concat(days, ("membership", "points_ledger"))
    txn = _concat(days, ("pos", "transactions"))
    net = dict(zip(txn["transaction_id"], txn["net_amount"], strict=True))
    earn = (ledger["entry_type"] == "earn") & np.array([t is not None for t in ledger["transaction_id"]])
    assert earn.sum() > 100
    assert set(ledger["earn_source"][earn]) == {"purchase"}
    seen = set()
    for tid, pts, bonus, mult, at in zip(
        ledger["transaction_id"][earn],
        ledger["points"][earn],
        ledger["bonus_points"][earn],
        ledger["multiplier"][earn],
        ledger["entry_at"][earn],
        strict=True,
    ):
        d = at.astype("datetime64[D]").item()
        base = int(np.floor(net[tid] + 1e-9))
        assert mult == purchase_multiplier(d), (tid, d)
        assert bonus == int(np.floor(base * (mult - 1) + 1e-9)), tid
        assert pts == base + bonus, tid
        seen.add(mult)
    assert seen == {1.0, FESTIVAL_MULTIPLIER, 1.5}  # ordinary, warm-up and Double 11 days


def test_festival_multiplier_follows_the_calendar():
    assert purchase_multiplier(date(2025, 11, 11)) == 1.5  # Double 11
    assert purchase_multiplier(date(2025, 11, 5)) == FESTIVAL_MULTIPLIER  # warm-up
    assert purchase_multiplier(date(2025, 11, 20)) == 1.0
    assert purchase_multiplier(date(2026, 6, 18)) == 1.5  # 618
    assert purchase_multiplier(date(2026, 6, 8)) == FESTIVAL_MULTIPLIER  # 618 warm-up
    eve = date(2026, 2, 16)  # Spring Festival eve: a quiet family day, no promotion
    assert calendar.day_info(eve).name == "spring_festival_eve" and purchase_multiplier(eve) == 1.0


def test_other_entries_carry_no_source_but_goodwill(run):
    _, days = run
    ledger = _concat(days, ("membership", "points_ledger"))
    adjust = ledger["entry_type"] == "adjust"
    positive = adjust & (ledger["points"] > 0)
    assert positive.any() and (adjust & ~positive).any()
    assert set(ledger["earn_source"][positive]) == {"goodwill"}
    assert all(s is None for s in ledger["earn_source"][adjust & ~positive])
    other = np.isin(ledger["entry_type"], ["redeem", "expire", "transfer_in", "transfer_out"])
    assert all(s is None for s in ledger["earn_source"][other])
    assert np.isnan(ledger["multiplier"][other]).all()
    assert all(b is None for b in ledger["bonus_points"][~(ledger["entry_type"] == "earn")])


def test_a_survey_comment_earns_review_points(run):
    world, days = run
    surveys = _concat(days, ("feedback", "surveys"))
    ledger = _concat(days, ("membership", "points_ledger"))
    commented = np.array(
        [m is not None and bool(c) for m, c in zip(surveys["member_id"], surveys["comment"], strict=True)]
    )
    review = ledger["earn_source"] == "review"
    assert commented.sum() > 0
    assert review.sum() == commented.sum()
    assert (ledger["points"][review] == ACTIVITY_POINTS["review"]).all()
    # booked at the answer's time, in mall time (surveys are exported in UTC)
    local = surveys["submitted_at"][commented].astype("datetime64[s]") + np.timedelta64(8, "h")
    assert sorted(zip(surveys["member_id"][commented], local, strict=True)) == sorted(
        zip(ledger["member_id"][review], ledger["entry_at"][review], strict=True)
    )


def test_members_get_birthday_points_on_their_birthday(run):
    world, days = run
    m = world.members
    ledger = _concat(days, ("membership", "points_ledger"))
    gift = ledger["earn_source"] == "birthday"
    when = ledger["entry_at"][gift]
    assert gift.sum() > 0 and (ledger["points"][gift] == BIRTHDAY_POINTS).all()
    assert (when - when.astype("datetime64[D]") == np.timedelta64(8 * 3600, "s")).all()
    idx = np.array([int(x[1:]) - 1 for x in ledger["member_id"][gift]])
    born = m.birthday[idx].astype("datetime64[D]")
    assert [(b.item().month, b.item().day) for b in born] == [
        (w.item().month, w.item().day) for w in when.astype("datetime64[D]")
    ]
    # every member registered before the window, never closed, with a birthday in it got one
    window = [world.day(i).date for i in range(DAYS)]
    due = {
        i
        for i in np.flatnonzero((m.reg_day < 0) & ~m.closed)
        if (m.birthday[i].item().month, m.birthday[i].item().day) in {(d.month, d.day) for d in window}
    }
    assert due and due <= set(idx.tolist())


def test_earn_activity_books_points_for_open_members_only(run):
    world, _ = run
    pts, m = world.points, world.members
    day = world.day(DAYS - 1)
    open_ = np.flatnonzero(~m.closed)[:3]
    closed = np.flatnonzero(m.closed)[:1]
    idx = np.concatenate([open_, closed])
    source = np.array(["check_in", "game", "check_in", "game"][: len(idx)], dtype=object)
    before = pts.balance(idx)
    pts.earn_activity(day, idx, source, day.at(np.full(len(idx), 15 * 3600)))
    rows = pts.flush(day.tag)
    gained = pts.balance(idx) - before
    expected = np.array([ACTIVITY_POINTS[s] for s in source])
    expected[len(open_) :] = 0
    assert gained.tolist() == expected.tolist()
    assert sorted(zip(rows["member_id"], rows["earn_source"], strict=True)) == sorted(
        zip(m.member_id[open_], source[: len(open_)], strict=True)
    )
    assert (rows["multiplier"] == 1.0).all() and (rows["bonus_points"] == 0).all()
    assert (rows["expires_on"] == np.datetime64("2026-12-31")).all()
    with pytest.raises(ValueError, match="unknown source"):
        pts.earn_activity(day, open_[:1], "lottery", day.at([15 * 3600]))


def test_tier_thresholds_match_the_warehouse_rule():
    """The simulator's tier rule and dbt's var `loyalty_tier_min_spend_cny` are one rule."""
    project = yaml.safe_load((PROJECT_ROOT / "dbt_project" / "dbt_project.yml").read_text(encoding="utf-8"))
    rule = project["vars"]["loyalty_tier_min_spend_cny"]
    assert [rule[t] for t in ("basic", "silver", "gold", "diamond")] == TIER_THRESHOLDS.tolist()
