"""Multi-arm campaign tests in the simulator (simulator/marketing.py): every
`multi_arm_every`-th campaign splits its treated members evenly over 2-3 arms whose true
uplift differs, two-arm campaigns keep 'treatment', and the arms' own random streams
leave every other draw where it was."""

from __future__ import annotations

from datetime import date

import numpy as np
import pytest

from mallcrm.core.contract import load_contract
from simulator.behaviour import UPLIFT
from simulator.config import SimulationConfig
from simulator.marketing import ARM_EFFECTS, ARM_NAMES, plan_campaigns
from simulator.world import World

# four campaigns (Nov-Feb); the third, in January, is the multi-arm test
CONFIG = {"members": 6000, "stores": 10, "days": 120, "start_date": date(2025, 11, 1)}


def simulate(config: SimulationConfig) -> dict:
    """Step the world through the window: the assignments and coupon events it exports,
    and each multi-arm campaign's true uplift per member on its first day."""
    world = World(config)
    assignments, campaigns, issued, uplift = [], {}, [], {}
    starts = {c.start_day: c for c in world.marketing.campaigns if len(c.arms) > 1}
    for idx in range(config.days):
        out = world.step(world.day(idx))
        if ("marketing", "assignments") in out:
            assignments.append(out[("marketing", "assignments")])
        if ("marketing", "campaigns") in out:
            created = out[("marketing", "campaigns")]
            campaigns |= dict(zip(created["campaign_id"], created["treatment_arms"], strict=True))
        events = out[("marketing", "coupon_events")]
        issued += list(zip(events["campaign_id"], events["member_id"], events["event_type"], strict=True))
        if idx in starts:
            c = starts[idx]
            uplift[c.campaign_id] = dict(
                zip(world.members.member_id[c.treatment], world.latent.uplift[c.treatment], strict=True)
            )
    rows = {k: np.concatenate([a[k] for a in assignments]) for k in ("campaign_id", "member_id", "arm")}
    return {"assignments": rows, "campaigns": campaigns, "issued": issued, "uplift": uplift}


@pytest.fixture(scope="module")
def runs():
    return {every: simulate(SimulationConfig(**CONFIG, multi_arm_every=every)) for every in (3, 0)}


def arms_of(run: dict, campaign_id: str) -> dict[str, set[str]]:
    a = run["assignments"]
    mine = a["campaign_id"] == campaign_id
    return {arm: set(a["member_id"][mine & (a["arm"] == arm)]) for arm in np.unique(a["arm"][mine])}


def test_every_third_campaign_tests_two_or_three_arms_with_different_effects():
    campaigns = plan_campaigns(SimulationConfig(**CONFIG))
    assert [len(c.arms) > 1 for c in campaigns] == [False, False, True, False]
    for c in campaigns:
        if c.number % 3:
            assert c.arms == ("treatment",) and c.arm_effects == (1.0,)
        else:
            assert c.arms == ARM_NAMES[: len(c.arms)] and len(c.arms) in (2, 3)
            assert len(set(c.arm_effects)) == len(c.arms) and set(c.arm_effects) <= set(ARM_EFFECTS)
    assert all(len(c.arms) == 1 for c in plan_campaigns(SimulationConfig(**CONFIG, multi_arm_every=0)))


def test_arms_are_written_as_the_contract_allows(runs):
    run = runs[3]
    campaigns = {c.campaign_id: c for c in plan_campaigns(SimulationConfig(**CONFIG))}
    for campaign_id, c in campaigns.items():
        arms = arms_of(run, campaign_id)
        assert set(arms) == {"control", *c.arms}, campaign_id
        assert run["campaigns"][campaign_id] == len(c.arms), campaign_id  # the export's treatment_arms
    rule = dict(load_contract().get("marketing", "assignments").rules)["known_arm"]
    assert rule == "arm = 'control' or arm like 'treatment%'"
    assert all(arm == "control" or arm.startswith("treatment") for arm in run["assignments"]["arm"])


def test_control_share_and_even_split_of_the_treated(runs):
    c = next(c for c in plan_campaigns(SimulationConfig(**CONFIG)) if len(c.arms) > 1)
    arms = arms_of(runs[3], c.campaign_id)
    total = sum(len(members) for members in arms.values())
    assert total >= 300
    control = len(arms["control"]) / total
    assert abs(control - c.control_share) < 4 * np.sqrt(c.control_share * (1 - c.control_share) / total)
    sizes = [len(arms[arm]) for arm in c.arms]
    assert max(sizes) - min(sizes) <= 1  # an even split, at random


def test_each_arm_gets_coupons_and_its_own_true_uplift(runs):
    run = runs[3]
    c = next(c for c in plan_campaigns(SimulationConfig(**CONFIG)) if len(c.arms) > 1)
    arms = arms_of(run, c.campaign_id)
    issued = {m for cid, m, kind in run["issued"] if cid == c.campaign_id and kind == "issued"}
    assert issued == set().union(*(arms[arm] for arm in c.arms))
    assert not issued & arms["control"]
    uplift = run["uplift"][c.campaign_id]
    seen = {}
    for arm, effect in zip(c.arms, c.arm_effects, strict=True):
        values = {round(float(uplift[m]), 12) for m in arms[arm]}
        assert values == {round(UPLIFT * effect, 12)}, arm
        seen[arm] = values.pop()
    assert len(set(seen.values())) == len(c.arms)  # the arms' true effects differ


def test_multi_arm_tests_shift_no_other_draw(runs):
    """The same audiences and the same control groups with or without multi-arm tests:
    only the treated members' arm labels (and what they then do) differ."""
    with_arms, without = runs[3], runs[0]
    campaigns = plan_campaigns(SimulationConfig(**CONFIG))
    assert [c.campaign_id for c in campaigns] == [
        c.campaign_id for c in plan_campaigns(SimulationConfig(**CONFIG, multi_arm_every=0))
    ]
    for c in campaigns[:3]:  # up to the multi-arm test itself, before its effect feeds back
        a, b = arms_of(with_arms, c.campaign_id), arms_of(without, c.campaign_id)
        assert a["control"] == b["control"], c.campaign_id
        assert set().union(*(a[arm] for arm in c.arms)) == b["treatment"], c.campaign_id
