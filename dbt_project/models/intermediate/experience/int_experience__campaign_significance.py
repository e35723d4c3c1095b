"""Significance of each campaign's treatment effect, one row per campaign arm.

A dbt Python model, because SQL has no normal, Student t or chi-square tail functions: it
reads the sufficient statistics of `int_experience__campaign_arms` (counts, means,
variances) and computes the tests of the agreed definition with exact distribution
functions (scipy.special's tails - what scipy.stats calls underneath, at a third of the
import time). The SQL mart `mart_campaign_roi` joins them to the arms under an enforced
contract (a Python model cannot enforce one):

- conversion: two-proportion z-test with pooled variance, two-sided;
- revenue per member: Welch's t-test (unequal variances, Welch-Satterthwaite degrees of
  freedom), two-sided - the same as scipy.stats.ttest_ind(equal_var=False);
- sample-ratio mismatch: chi-square goodness of fit of the arm sizes against the
  planned control_share (1 degree of freedom), as scipy.stats.chisquare; in a multi-arm
  test of k treatment arms (treated members split evenly), each arm against the control
  with the pair's planned control share (`pair_control_share`).

The statistics are filled on every treatment row - each treatment arm against the
campaign's one control - and NULL on the control row, like the other comparison
columns. The p-values are per comparison: mart_campaign_arm_comparisons corrects those
of a multi-arm test for its several arms (Holm, Benjamini-Hochberg). The functions below
are pure and are unit-tested against scipy.stats in tests/unit/test_campaign_stats.py
(which imports this file).
"""

from __future__ import annotations

import math

ALPHA = 0.05
SRM_ALPHA = 0.001


def two_proportion_z_test(x1: float, n1: float, x2: float, n2: float) -> tuple[float, float]:
    """Pooled two-proportion z-test of p1 = x1/n1 against p2 = x2/n2: (z, two-sided p)."""
    from scipy.special import ndtr

    if n1 <= 0 or n2 <= 0:
        return math.nan, math.nan
    p1, p2 = x1 / n1, x2 / n2
    pooled = (x1 + x2) / (n1 + n2)
    se = math.sqrt(pooled * (1.0 - pooled) * (1.0 / n1 + 1.0 / n2))
    if se == 0.0:
        return math.nan, math.nan
    z = (p1 - p2) / se
    return z, float(2.0 * ndtr(-abs(z)))


def welch_t_test(
    mean1: float, var1: float, n1: float, mean2: float, var2: float, n2: float
) -> tuple[float, float, float]:
    """Welch's t-test from sample means and (n-1) variances: (t, df, two-sided p)."""
    from scipy.special import stdtr

    if n1 < 2 or n2 < 2:
        return math.nan, math.nan, math.nan
    a, b = var1 / n1, var2 / n2
    se2 = a + b
    if se2 == 0.0:
        return math.nan, math.nan, math.nan
    t = (mean1 - mean2) / math.sqrt(se2)
    df = se2 * se2 / (a * a / (n1 - 1) + b * b / (n2 - 1))
    return t, df, float(2.0 * stdtr(df, -abs(t)))


def sample_ratio_test(n_treatment: float, n_control: float, control_share: float) -> tuple[float, float]:
    """Chi-square goodness of fit of the arm sizes to the planned split: (chi2, p), 1 df."""
    from scipy.special import chdtrc

    total = n_treatment + n_control
    if total <= 0 or not 0.0 < control_share < 1.0:
        return math.nan, math.nan
    expected_t, expected_c = total * (1.0 - control_share), total * control_share
    stat = (n_treatment - expected_t) ** 2 / expected_t + (n_control - expected_c) ** 2 / expected_c
    return stat, float(chdtrc(1, stat))


def pair_control_share(control_share: float, treatment_arms: int) -> float:
    """The control's planned share of one (treatment arm, control) pair when the treated
    share 1 - control_share is split evenly over `treatment_arms` arms."""
    return control_share / (control_share + (1.0 - control_share) / treatment_arms)


STAT_COLUMNS = [
    "conversion_z",
    "conversion_p_value",
    "revenue_t",
    "revenue_df",
    "revenue_p_value",
    "srm_chi_square",
    "srm_p_value",
]


def arm_statistics(rows: list[dict]) -> dict[str, list]:
    """The test columns for rows shaped like int_experience__campaign_arms (dicts): one
    list per STAT_COLUMNS name, one value per row, None where a test does not apply
    (control rows, campaigns without a control arm, arms too small for a variance). Rows
    without `treatment_arm_count` are two-arm campaigns."""
    values = {name: [] for name in STAT_COLUMNS}
    for row in rows:
        stats = [math.nan] * len(STAT_COLUMNS)
        if row["arm"] != "control" and not _missing(row["control_member_count"]):
            z, p_z = two_proportion_z_test(
                float(row["converted_count"]),
                float(row["member_count"]),
                float(row["control_converted_count"]),
                float(row["control_member_count"]),
            )
            t, df, p_t = welch_t_test(
                float(row["revenue_per_member"]),
                _float(row["revenue_variance"]),
                float(row["member_count"]),
                float(row["control_revenue_per_member"]),
                _float(row["control_revenue_variance"]),
                float(row["control_member_count"]),
            )
            chi, p_chi = sample_ratio_test(
                float(row["member_count"]),
                float(row["control_member_count"]),
                pair_control_share(float(row["planned_control_share"]), int(row.get("treatment_arm_count") or 1)),
            )
            stats = [z, p_z, t, df, p_t, chi, p_chi]
        for name, value in zip(STAT_COLUMNS, stats, strict=True):
            values[name].append(None if _missing(value) else float(value))
    return values


def campaign_statistics(arms):
    """arm_statistics for a pandas frame: campaign_arm_id and STAT_COLUMNS as a frame
    (nullable Float64, pandas NA where a test does not apply)."""
    import pandas as pd

    rows = arms.astype(object).where(arms.notna(), None).to_dict("records")
    values = arm_statistics(rows)
    out = pd.DataFrame({"campaign_arm_id": list(arms["campaign_arm_id"])})
    for name in STAT_COLUMNS:
        out[name] = pd.array(values[name], dtype="Float64")
    return out


def _missing(value) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _float(value) -> float:
    return math.nan if _missing(value) else float(value)


def _below(values: list, alpha: float) -> list:
    return [None if v is None else v < alpha for v in values]


FLAG_COLUMNS = {  # flag -> (p-value column, threshold)
    "is_conversion_significant": ("conversion_p_value", ALPHA),
    "is_revenue_significant": ("revenue_p_value", ALPHA),
    "has_sample_ratio_mismatch": ("srm_p_value", SRM_ALPHA),
}


def model(dbt, session):
    # A table: the few rows are computed once per build and the mart joins them in SQL.
    # Plain rows in, a DuckDB relation out: building a pandas frame or a pyarrow array
    # imports pandas (~2 s here, on the critical path of every run) for two dozen rows.
    dbt.config(materialized="table")
    arms = dbt.ref("int_experience__campaign_arms")
    rows = [dict(zip(arms.columns, values, strict=True)) for values in arms.fetchall()]
    values = arm_statistics(rows)
    for flag, (p_value, alpha) in FLAG_COLUMNS.items():
        values[flag] = _below(values[p_value], alpha)
    result = "int_experience__campaign_significance__rows"
    columns = [
        "campaign_arm_id varchar",
        *(f"{n} double" for n in STAT_COLUMNS),
        *(f"{f} boolean" for f in FLAG_COLUMNS),
    ]
    session.execute(f"create or replace temp table {result} ({', '.join(columns)})")
    records = [
        (row["campaign_arm_id"], *(values[n][i] for n in [*STAT_COLUMNS, *FLAG_COLUMNS])) for i, row in enumerate(rows)
    ]
    if records:
        session.executemany(f"insert into {result} values ({', '.join('?' * len(columns))})", records)
    return session.table(result)
