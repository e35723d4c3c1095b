"""How many alternating rounds the bench runs: five where a round is short, one where the
first round of the group already takes over a minute (issue 7's rule, docs/performance.md)."""

from pathlib import Path

import pytest

from bench.harness import Measurement, alternate


def fake_runner(seconds_by_stage: dict[str, list[float]]):
    calls: list[str] = []

    def run(stage: str, workdir: Path, env: dict) -> Measurement:
        i = calls.count(stage)
        calls.append(stage)
        return Measurement(stage, seconds_by_stage[stage][i], None, 0, 0)

    return run, calls


def test_short_pairs_alternate_five_rounds_and_keep_each_run():
    run, calls = fake_runner({"a": [10, 11, 12, 13, 14], "b": [5, 6, 7, 8, 9]})
    out = alternate(["a", "b"], Path("."), {}, 5, log=lambda _: None, run=run)
    assert calls == ["a", "b"] * 5
    assert [m.seconds for m in out["a"].runs] == [10, 11, 12, 13, 14]
    assert out["a"].seconds == 12 and out["b"].seconds == 7


def test_a_group_over_a_minute_in_all_is_measured_once_even_if_each_stage_is_short():
    run, calls = fake_runner({"dbt_cli": [40], "dagster": [21]})
    out = alternate(["dbt_cli", "dagster"], Path("."), {}, 5, log=lambda _: None, run=run)
    assert calls == ["dbt_cli", "dagster"]
    assert len(out["dagster"].runs) == 1


def test_a_group_of_exactly_a_minute_still_runs_five_rounds():
    run, calls = fake_runner({"x": [30] * 5, "y": [30] * 5})
    alternate(["x", "y"], Path("."), {}, 5, log=lambda _: None, run=run)
    assert len(calls) == 10


def test_a_longer_history_ends_on_the_same_day_and_only_starts_earlier():
    # exports dated after today would be quarantined, so three years end where one does
    from datetime import timedelta

    from bench.scale import config_for_scale

    year, three = config_for_scale(1), config_for_scale(1, days=1095)
    assert three.days == 1095 and three.members == year.members
    assert three.start_date + timedelta(days=1094) == year.start_date + timedelta(days=364)
    with pytest.raises(ValueError, match="at least 2"):
        config_for_scale(1, days=1)
