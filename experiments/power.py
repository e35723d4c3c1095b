"""Sample size and minimum detectable effect of a conversion test, before it runs.

A campaign compares the conversion rate of a treatment arm with its holdout (control).
The size needed to detect a given uplift uses the two-sided test of two proportions in the
normal approximation (Fleiss, without continuity correction; R's `power.prop.test` gives
the same for equal arms), generalized to an unequal split: the holdout share of the
audience. scipy gives the normal quantiles; the formula is a few lines, so no extra
statistics package is pinned for it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from scipy.optimize import brentq
from scipy.stats import norm


class PlanError(ValueError):
    """A design that cannot be computed (a rate outside 0..1, an effect of zero)."""


@dataclass(frozen=True)
class Plan:
    baseline_rate: float  # the control arm's expected conversion rate
    mde: float  # the absolute uplift to detect (treatment rate - baseline)
    alpha: float
    power: float
    holdout_share: float
    treatment_members: int
    control_members: int

    @property
    def total_members(self) -> int:
        return self.treatment_members + self.control_members


def _check(baseline_rate: float, alpha: float, power: float, holdout_share: float) -> None:
    if not 0 < baseline_rate < 1:
        raise PlanError(f"the baseline rate must lie between 0 and 1, got {baseline_rate}")
    if not 0 < alpha < 1:
        raise PlanError(f"alpha must lie between 0 and 1, got {alpha}")
    if not 0 < power < 1:
        raise PlanError(f"the power must lie between 0 and 1, got {power}")
    if not 0 < holdout_share < 1:
        raise PlanError(f"the holdout share must lie between 0 and 1, got {holdout_share}")


def _total(baseline_rate: float, mde: float, alpha: float, power: float, holdout_share: float) -> float:
    """Audience size (real-valued) detecting `mde` with the given power."""
    control, treated = baseline_rate, baseline_rate + mde
    if not 0 < treated < 1:
        raise PlanError(f"baseline {baseline_rate} + effect {mde} lies outside 0..1")
    if mde == 0:
        raise PlanError("an effect of 0 cannot be detected: give a non-zero --mde")
    share_t, share_c = 1 - holdout_share, holdout_share
    pooled = share_t * treated + share_c * control
    z_alpha, z_beta = norm.ppf(1 - alpha / 2), norm.ppf(power)
    null_sd = math.sqrt(pooled * (1 - pooled) * (1 / share_t + 1 / share_c))
    alt_sd = math.sqrt(treated * (1 - treated) / share_t + control * (1 - control) / share_c)
    return ((z_alpha * null_sd + z_beta * alt_sd) / mde) ** 2


def sample_size(
    baseline_rate: float, mde: float, alpha: float = 0.05, power: float = 0.8, holdout_share: float = 0.5
) -> Plan:
    """Members per arm needed to detect an absolute uplift `mde` over `baseline_rate`."""
    _check(baseline_rate, alpha, power, holdout_share)
    total = _total(baseline_rate, mde, alpha, power, holdout_share)
    return Plan(
        baseline_rate,
        mde,
        alpha,
        power,
        holdout_share,
        treatment_members=math.ceil(total * (1 - holdout_share)),
        control_members=math.ceil(total * holdout_share),
    )


def minimum_detectable_effect(
    baseline_rate: float, members: int, alpha: float = 0.05, power: float = 0.8, holdout_share: float = 0.5
) -> float:
    """The smallest positive absolute uplift an audience of `members` detects with `power`."""
    _check(baseline_rate, alpha, power, holdout_share)
    if members < 4:
        raise PlanError(f"an audience of {members} members cannot be split into two arms for a test")
    upper = (1 - baseline_rate) * (1 - 1e-9)

    def gap(effect: float) -> float:
        return _total(baseline_rate, effect, alpha, power, holdout_share) - members

    if gap(upper) > 0:
        raise PlanError(f"{members} members cannot detect any uplift over a baseline of {baseline_rate}")
    return brentq(gap, 1e-9, upper, xtol=1e-10)
