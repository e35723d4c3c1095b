"""`mallcrm bench` at a tiny scale, once: the report people and plots read has its shape.

No timing assertions (the machine is shared): the stages ran, measured something, the
ratios are positive numbers, the JSON on disk is the report, and the daily run's
member-incremental tables equal their full recomputation.
"""

from __future__ import annotations

import json
import math

import pytest

from bench.harness import format_table, run_bench
from bench.scale import config_for_scale
from tests.conftest import mall_environment

pytestmark = pytest.mark.integration


def test_scale_maps_to_the_demo_mall_and_grows_members():
    demo = config_for_scale(1)
    assert (demo.members, demo.stores, demo.days) == (5000, 60, 365)
    assert config_for_scale(10).members == 50_000
    with pytest.raises(ValueError, match="scale must be positive"):
        config_for_scale(0)


def test_bench_writes_a_report_with_positive_ratios(tmp_path):
    with mall_environment(tmp_path / "mall") as settings:
        report = run_bench(
            0.02,
            reps=1,
            groups=("generate", "ingest", "dbt"),
            workdir=tmp_path / "work",
            results_dir=tmp_path / "results",
            log=lambda line: None,
            settings=settings,
        )

    written = sorted((tmp_path / "results").glob("*-S0.02.json"))
    assert len(written) == 1
    on_disk = json.loads(written[0].read_text())
    assert on_disk["ratios"] == report["ratios"]
    assert on_disk["scale"] == 0.02

    expected_stages = {
        "generate",
        "ingest_dlt",
        "ingest_duckdb",
        "prepare_base",
        "dbt_full",
        "direct_sql",
        "ingest_day",
        "dbt_daily",
    }
    assert expected_stages <= set(on_disk["stages"])
    for name, stage in on_disk["stages"].items():
        assert stage["seconds"] > 0, name
        assert stage["peak_rss_bytes"] > 0, name
        assert stage["runs"] == 1, name
    # dlt and DuckDB loaded the same rows of the same files.
    assert on_disk["stages"]["ingest_dlt"]["rows"] == on_disk["stages"]["ingest_duckdb"]["rows"] > 0
    assert on_disk["stages"]["ingest_day"]["rows"] > 0

    assert set(on_disk["ratios"]) == {"ingest_vs_duckdb", "dbt_vs_direct_sql", "incremental_vs_full"}
    for name, value in on_disk["ratios"].items():
        assert isinstance(value, float) and math.isfinite(value) and value > 0, name

    daily = on_disk["stages"]["dbt_daily"]["detail"]
    assert daily["incremental_matches_full"] and all(daily["incremental_matches_full"].values())
    # the daily selector leaves the unit tests and most data tests to the full build
    assert "unit_test" not in daily["nodes"]
    assert on_disk["stages"]["dbt_full"]["detail"]["nodes"]["unit_test"] > 0

    table = format_table(report)
    assert "incremental_vs_full" in table and "dbt_full" in table
