"""`mallcrm experiments`: design a campaign test before it runs.

mallcrm experiments plan --baseline-rate 0.08 --mde 0.02 [--holdout-share 0.2]
    members per arm to detect an absolute uplift of 2 points over 8% conversion
mallcrm experiments plan --baseline-rate 0.08 --audience-size 3000
    the smallest uplift an audience of 3,000 can detect
"""

from __future__ import annotations

import click

from experiments.power import PlanError, minimum_detectable_effect, sample_size


@click.group()
def experiments() -> None:
    """Design campaign tests: sample size and minimum detectable effect."""


@experiments.command()
@click.option("--baseline-rate", type=float, required=True, help="Expected conversion rate of the holdout, e.g. 0.08.")
@click.option("--mde", type=float, default=None, help="Absolute uplift to detect, e.g. 0.02 (2 points).")
@click.option("--audience-size", type=int, default=None, help="Instead of --mde: what this many members can detect.")
@click.option("--holdout-share", type=float, default=0.2, show_default=True, help="Share of the audience held out.")
@click.option("--alpha", type=float, default=0.05, show_default=True, help="Two-sided significance level.")
@click.option("--power", type=float, default=0.8, show_default=True, help="Chance of detecting the effect.")
def plan(baseline_rate, mde, audience_size, holdout_share, alpha, power) -> None:
    """Members a campaign test needs (with --mde), or the uplift an audience can detect (with --audience-size)."""
    if (mde is None) == (audience_size is None):
        raise click.UsageError("give exactly one of --mde (members needed) or --audience-size (detectable uplift)")
    try:
        if mde is not None:
            result = sample_size(baseline_rate, mde, alpha, power, holdout_share)
            click.echo(
                f"to detect {baseline_rate:.2%} -> {baseline_rate + mde:.2%} "
                f"(two-sided alpha {alpha:g}, power {power:.0%}, holdout {holdout_share:.0%}):"
            )
            click.echo(
                f"  {result.total_members:,} members: {result.treatment_members:,} contacted, "
                f"{result.control_members:,} held out"
            )
        else:
            effect = minimum_detectable_effect(baseline_rate, audience_size, alpha, power, holdout_share)
            click.echo(
                f"{audience_size:,} members (holdout {holdout_share:.0%}, alpha {alpha:g}, power {power:.0%}) "
                f"detect an uplift of {effect * 100:.2f} percentage points or more: "
                f"{baseline_rate:.2%} -> {baseline_rate + effect:.2%}"
            )
    except PlanError as error:
        raise click.UsageError(str(error)) from None
