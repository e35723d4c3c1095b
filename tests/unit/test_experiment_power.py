"""A campaign planned with `mallcrm experiments plan` has the power it promises."""

from __future__ import annotations

import numpy as np
import pytest
from click.testing import CliRunner
from scipy.stats import norm

from cli import main
from experiments.power import PlanError, minimum_detectable_effect, sample_size


def test_equal_arms_match_the_textbook_two_proportion_test():
    # R: power.prop.test(p1 = 0.10, p2 = 0.12, power = 0.8) -> n = 3840.847 per group
    plan = sample_size(0.10, 0.02, holdout_share=0.5)
    assert plan.treatment_members == plan.control_members == 3841


def test_a_small_holdout_needs_a_larger_audience():
    equal = sample_size(0.05, 0.01, holdout_share=0.5)
    holdout = sample_size(0.05, 0.01, holdout_share=0.1)
    assert holdout.total_members > 2 * equal.total_members
    assert holdout.control_members == pytest.approx(0.1 * holdout.total_members, rel=0.01)


def test_the_minimum_detectable_effect_inverts_the_sample_size():
    plan = sample_size(0.08, 0.015, holdout_share=0.2)
    mde = minimum_detectable_effect(0.08, plan.total_members, holdout_share=0.2)
    assert mde == pytest.approx(0.015, abs=2e-4)
    assert minimum_detectable_effect(0.08, plan.total_members * 4, holdout_share=0.2) < mde


def test_simulated_campaigns_of_the_planned_size_detect_the_effect_with_the_planned_power():
    plan = sample_size(0.10, 0.03, alpha=0.05, power=0.8, holdout_share=0.3)
    rng = np.random.default_rng(7)
    runs = 4000
    treated = rng.binomial(plan.treatment_members, 0.13, runs) / plan.treatment_members
    control = rng.binomial(plan.control_members, 0.10, runs) / plan.control_members
    n_t, n_c = plan.treatment_members, plan.control_members
    pooled = (treated * n_t + control * n_c) / (n_t + n_c)
    z = (treated - control) / np.sqrt(pooled * (1 - pooled) * (1 / n_t + 1 / n_c))
    rejected = np.mean(2 * norm.sf(np.abs(z)) < 0.05)
    assert rejected == pytest.approx(0.8, abs=0.03)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"baseline_rate": 1.2, "mde": 0.01}, "baseline rate"),
        ({"baseline_rate": 0.1, "mde": 0.0}, "effect of 0"),
        ({"baseline_rate": 0.95, "mde": 0.1}, "outside 0..1"),
        ({"baseline_rate": 0.1, "mde": 0.01, "holdout_share": 1.0}, "holdout share"),
    ],
)
def test_an_impossible_design_is_refused_in_one_sentence(kwargs, message):
    with pytest.raises(PlanError, match=message):
        sample_size(**kwargs)


def test_the_command_prints_the_plan_and_refuses_a_bad_design_with_exit_2():
    runner = CliRunner()
    planned = runner.invoke(
        main, ["experiments", "plan", "--baseline-rate", "0.1", "--mde", "0.02", "--holdout-share", "0.5"]
    )
    assert planned.exit_code == 0
    assert "7,682 members: 3,841 contacted, 3,841 held out" in planned.output
    detectable = runner.invoke(main, ["experiments", "plan", "--baseline-rate", "0.08", "--audience-size", "3000"])
    assert detectable.exit_code == 0 and "percentage points or more" in detectable.output
    both = runner.invoke(
        main, ["experiments", "plan", "--baseline-rate", "0.08", "--mde", "0.01", "--audience-size", "9"]
    )
    assert both.exit_code == 2 and "exactly one of --mde" in both.output
    bad = runner.invoke(main, ["experiments", "plan", "--baseline-rate", "1.5", "--mde", "0.1"])
    assert bad.exit_code == 2 and "baseline rate must lie between 0 and 1" in bad.output
