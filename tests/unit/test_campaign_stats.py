"""The campaign significance tests behind mart_campaign_roi equal scipy.stats to 1e-9.

The statistics live in the dbt Python model file itself (a dbt Python model cannot
import repository modules reliably), so the file is imported here with importlib.
"""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

MODEL_FILE = (
    Path(__file__).resolve().parents[2]
    / "dbt_project/models/intermediate/experience/int_experience__campaign_significance.py"
)
TOL = 1e-9


@pytest.fixture(scope="module")
def roi():
    spec = importlib.util.spec_from_file_location("int_experience__campaign_significance", MODEL_FILE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# A fixed campaign: per-member revenue in each arm (zeros = did not buy), as the
# int model's outcomes would hold them.
TREATMENT = np.array(
    [
        0,
        0,
        0,
        120.5,
        0,
        88.0,
        0,
        0,
        310.2,
        0,
        45.9,
        0,
        0,
        0,
        150.0,
        0,
        0,
        72.3,
        0,
        0,
        0,
        999.9,
        0,
        12.0,
        0,
        0,
        0,
        64.4,
        0,
        0,
    ]
)
CONTROL = np.array([0, 0, 0, 0, 95.0, 0, 0, 0, 0, 40.0, 0, 0, 0, 230.0])


def test_welch_matches_scipy_ttest_ind(roi):
    t, df, p = roi.welch_t_test(
        TREATMENT.mean(),
        TREATMENT.var(ddof=1),
        len(TREATMENT),
        CONTROL.mean(),
        CONTROL.var(ddof=1),
        len(CONTROL),
    )
    ref = stats.ttest_ind(TREATMENT, CONTROL, equal_var=False)
    assert t == pytest.approx(ref.statistic, abs=TOL)
    assert p == pytest.approx(ref.pvalue, abs=TOL)
    assert df == pytest.approx(ref.df, abs=TOL)


@pytest.mark.parametrize("seed", range(5))
def test_welch_matches_scipy_on_random_arms(roi, seed):
    rng = np.random.default_rng(seed)
    n_a, n_b = int(rng.integers(20, 400)), int(rng.integers(5, 100))
    # revenue per member: most members buy nothing in the window
    a = rng.exponential(200, size=n_a) * (rng.random(n_a) < 0.3)
    b = rng.exponential(150, size=n_b) * (rng.random(n_b) < 0.2)
    t, _, p = roi.welch_t_test(a.mean(), a.var(ddof=1), len(a), b.mean(), b.var(ddof=1), len(b))
    ref = stats.ttest_ind(a, b, equal_var=False)
    assert t == pytest.approx(ref.statistic, abs=TOL)
    assert p == pytest.approx(ref.pvalue, abs=TOL)


def reference_two_proportion(x1, n1, x2, n2):
    """Two-proportion z-test written out independently: pooled p, normal tails by erfc."""
    p1, p2, pooled = x1 / n1, x2 / n2, (x1 + x2) / (n1 + n2)
    z = (p1 - p2) / math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    return z, math.erfc(abs(z) / math.sqrt(2))


@pytest.mark.parametrize("x1,n1,x2,n2", [(15, 109, 5, 31), (480, 4000, 95, 1000), (3, 30, 9, 12), (0, 50, 1, 10)])
def test_two_proportion_z_matches_reference(roi, x1, n1, x2, n2):
    z, p = roi.two_proportion_z_test(x1, n1, x2, n2)
    z_ref, p_ref = reference_two_proportion(x1, n1, x2, n2)
    assert z == pytest.approx(z_ref, abs=TOL)
    assert p == pytest.approx(p_ref, abs=TOL)
    # the squared z of the pooled test is the 2x2 chi-square without continuity correction
    table = np.array([[x1, n1 - x1], [x2, n2 - x2]])
    chi2, p_chi, _, _ = stats.chi2_contingency(table, correction=False)
    assert z * z == pytest.approx(chi2, abs=1e-9 * max(1.0, chi2))
    assert p == pytest.approx(p_chi, abs=TOL)


@pytest.mark.parametrize("n_t,n_c,share", [(109, 31, 0.2), (800, 200, 0.2), (700, 300, 0.2), (17, 9, 0.25)])
def test_sample_ratio_matches_scipy_chisquare(roi, n_t, n_c, share):
    stat, p = roi.sample_ratio_test(n_t, n_c, share)
    total = n_t + n_c
    ref = stats.chisquare([n_t, n_c], f_exp=[total * (1 - share), total * share])
    assert stat == pytest.approx(ref.statistic, abs=TOL)
    assert p == pytest.approx(ref.pvalue, abs=TOL)


def test_degenerate_inputs_give_nan(roi):
    assert all(math.isnan(v) for v in roi.two_proportion_z_test(0, 10, 0, 10))
    assert all(math.isnan(v) for v in roi.welch_t_test(1.0, 0.0, 5, 1.0, 0.0, 5))
    assert all(math.isnan(v) for v in roi.welch_t_test(1.0, 1.0, 1, 1.0, 1.0, 5))
    assert all(math.isnan(v) for v in roi.sample_ratio_test(10, 10, 0.0))


def test_campaign_statistics_fill_the_treatment_row_only(roi):
    arms = pd.DataFrame(
        {
            "campaign_arm_id": ["c1-c", "c1-t", "c2-t"],
            "arm": ["control", "treatment", "treatment"],
            "member_count": [len(CONTROL), len(TREATMENT), 20],
            "converted_count": [int((CONTROL > 0).sum()), int((TREATMENT > 0).sum()), 4],
            "revenue_per_member": [CONTROL.mean(), TREATMENT.mean(), 10.0],
            "revenue_variance": [CONTROL.var(ddof=1), TREATMENT.var(ddof=1), 4.0],
            "planned_control_share": [0.3, 0.3, 0.2],
            "control_member_count": [None, len(CONTROL), None],  # c2 has no control arm
            "control_converted_count": [None, int((CONTROL > 0).sum()), None],
            "control_revenue_per_member": [None, CONTROL.mean(), None],
            "control_revenue_variance": [None, CONTROL.var(ddof=1), None],
        }
    )
    out = roi.campaign_statistics(arms).set_index("campaign_arm_id")
    assert out.loc["c1-c"].isna().all()
    assert out.loc["c2-t"].isna().all()
    ref = stats.ttest_ind(TREATMENT, CONTROL, equal_var=False)
    assert out.loc["c1-t", "revenue_p_value"] == pytest.approx(ref.pvalue, abs=TOL)
    assert out.loc["c1-t", "revenue_t"] == pytest.approx(ref.statistic, abs=TOL)
    x1, x2 = int((TREATMENT > 0).sum()), int((CONTROL > 0).sum())
    _, p_ref = reference_two_proportion(x1, len(TREATMENT), x2, len(CONTROL))
    assert out.loc["c1-t", "conversion_p_value"] == pytest.approx(p_ref, abs=TOL)
    srm = stats.chisquare([len(TREATMENT), len(CONTROL)], f_exp=[44 * 0.7, 44 * 0.3])
    assert out.loc["c1-t", "srm_p_value"] == pytest.approx(srm.pvalue, abs=TOL)


# --- multi-arm tests (mart_campaign_arm_comparisons) ---------------------------------


@pytest.mark.parametrize("n_arm,n_c,share,arms", [(107, 74, 0.19, 3), (300, 200, 0.2, 2), (260, 90, 0.25, 3)])
def test_multi_arm_sample_ratio_uses_the_pairs_planned_share(roi, n_arm, n_c, share, arms):
    """Treated members split evenly over `arms` arms: an arm and the control are expected
    in the ratio (1 - share) / arms : share."""
    stat, p = roi.sample_ratio_test(n_arm, n_c, roi.pair_control_share(share, arms))
    arm_share = (1 - share) / arms
    total = n_arm + n_c
    ref = stats.chisquare(
        [n_arm, n_c], f_exp=[total * arm_share / (arm_share + share), total * share / (arm_share + share)]
    )
    assert stat == pytest.approx(ref.statistic, abs=TOL)
    assert p == pytest.approx(ref.pvalue, abs=TOL)
    assert roi.pair_control_share(share, 1) == share


def test_every_treatment_arm_is_tested_against_the_one_control(roi):
    rng = np.random.default_rng(7)
    arm_a, arm_b = rng.exponential(40, 90) * (rng.random(90) < 0.3), rng.exponential(60, 80) * (rng.random(80) < 0.4)
    rows = [
        {"arm": "control", "control_member_count": None},
        *(
            {
                "arm": name,
                "member_count": len(values),
                "converted_count": int((values > 0).sum()),
                "revenue_per_member": values.mean(),
                "revenue_variance": values.var(ddof=1),
                "planned_control_share": 0.2,
                "treatment_arm_count": 2,
                "control_member_count": len(CONTROL),
                "control_converted_count": int((CONTROL > 0).sum()),
                "control_revenue_per_member": CONTROL.mean(),
                "control_revenue_variance": CONTROL.var(ddof=1),
            }
            for name, values in (("treatment_a", arm_a), ("treatment_b", arm_b))
        ),
    ]
    values = roi.arm_statistics(rows)
    assert all(values[name][0] is None for name in roi.STAT_COLUMNS)
    for i, arm in ((1, arm_a), (2, arm_b)):
        ref = stats.ttest_ind(arm, CONTROL, equal_var=False)
        assert values["revenue_p_value"][i] == pytest.approx(ref.pvalue, abs=TOL)
        _, p_ref = reference_two_proportion(int((arm > 0).sum()), len(arm), int((CONTROL > 0).sum()), len(CONTROL))
        assert values["conversion_p_value"][i] == pytest.approx(p_ref, abs=TOL)
        srm = stats.chisquare([len(arm), len(CONTROL)], f_exp=np.array([0.4, 0.2]) / 0.6 * (len(arm) + len(CONTROL)))
        assert values["srm_p_value"][i] == pytest.approx(srm.pvalue, abs=TOL)


def reference_holm(p: np.ndarray) -> np.ndarray:
    """Holm's step-down adjusted p-values, written out from the procedure: the i-th
    smallest is max over j <= i of min(1, (m - j + 1) p_(j))."""
    order = np.argsort(p, kind="stable")
    m = len(p)
    stepped = np.minimum(1.0, (m - np.arange(m)) * p[order])
    out = np.empty(m)
    out[order] = np.maximum.accumulate(stepped)
    return out


def test_the_dbt_unit_test_of_the_corrections_expects_holm_and_scipys_benjamini_hochberg():
    """The expected rows of the dbt unit test mart_campaign_arm_comparisons_holm_and_bh are
    the Holm adjustment and scipy.stats.false_discovery_control (Benjamini-Hochberg) of its
    given p-values, family by family."""
    import yaml

    yml = MODEL_FILE.parents[3] / "models/marts/marketing/mart_campaign_arm_comparisons.yml"
    (test,) = [t for t in yaml.safe_load(yml.read_text())["unit_tests"] if t["name"].endswith("holm_and_bh")]
    given = [r for r in test["given"][0]["rows"] if r["is_treatment"]]
    expect = {(r["campaign_id"], r["arm"]): r for r in test["expect"]["rows"]}
    assert set(expect) == {(r["campaign_id"], r["arm"]) for r in given}
    for campaign in {r["campaign_id"] for r in given}:
        family = [r for r in given if r["campaign_id"] == campaign]
        for metric in ("conversion", "revenue"):
            p = np.array([r[f"{metric}_p_value"] for r in family])
            holm, bh = reference_holm(p), stats.false_discovery_control(p, method="bh")
            for row, h, b in zip(family, holm, bh, strict=True):
                got = expect[(campaign, row["arm"])]
                assert got[f"{metric}_p_value_holm"] == pytest.approx(h, abs=TOL), (campaign, row["arm"], metric)
                assert got[f"{metric}_p_value_bh"] == pytest.approx(b, abs=TOL), (campaign, row["arm"], metric)
            assert b <= h + TOL
