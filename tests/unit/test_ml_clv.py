"""BG/NBD and Gamma-Gamma (ml/clv.py) against published CDNOW estimates and simulation."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ml.clv import (
    BetaGeoModel,
    GammaGammaModel,
    bgnbd_log_likelihood,
    fit_clv,
    holdout_actuals,
    rfm_summary,
)

CDNOW = (
    Path(__file__).resolve().parents[2] / "ml" / "fixtures" / "cdnow" / "cdnow_customers_summary_with_transactions.csv"
)


@pytest.fixture(scope="module")
def cdnow() -> pd.DataFrame:
    return pd.read_csv(CDNOW)


def test_bgnbd_matches_fader_hardie_lee_2005_on_cdnow(cdnow):
    # FHL (2005), CDNOW, 2357 customers, 39-week calibration:
    # r = 0.243, alpha = 4.414, a = 0.793, b = 2.426, LL = -9582.4.
    assert len(cdnow) == 2357
    bg = BetaGeoModel().fit(cdnow["x"], cdnow["t_x"], cdnow["T"])
    assert bg.r == pytest.approx(0.243, abs=0.001)
    assert bg.alpha == pytest.approx(4.414, abs=0.01)
    assert bg.a == pytest.approx(0.793, abs=0.002)
    assert bg.b == pytest.approx(2.426, abs=0.01)
    assert bg.log_likelihood == pytest.approx(-9582.4, abs=0.1)


def test_bgnbd_likelihood_at_published_parameters(cdnow):
    ll = bgnbd_log_likelihood((0.243, 4.414, 0.793, 2.426), cdnow["x"], cdnow["t_x"], cdnow["T"]).sum()
    assert ll == pytest.approx(-9582.4, abs=0.5)


def test_gamma_gamma_matches_fader_hardie_lee_2005b_on_cdnow(cdnow):
    # FHL (2005b): p = 6.25, q = 3.74, gamma = 15.44 on the 946 repeat customers.
    repeat = cdnow[cdnow["x"] > 0]
    assert len(repeat) == 946
    gg = GammaGammaModel().fit(repeat["x"], repeat["zbar"])
    assert gg.p == pytest.approx(6.25, abs=0.01)
    assert gg.q == pytest.approx(3.74, abs=0.01)
    assert gg.gamma == pytest.approx(15.44, abs=0.02)
    # Conditional expectation is a weighted mean of own mean and population mean.
    spend = gg.expected_average_spend([0, 1, 10], [0.0, 20.0, 20.0])
    population = gg.p * gg.gamma / (gg.q - 1)
    assert spend[0] == pytest.approx(population)
    assert population > spend[1] > spend[2] > 20.0


def test_bgnbd_predictions_are_consistent(cdnow):
    bg = BetaGeoModel(r=0.243, alpha=4.414, a=0.793, b=2.426)
    x, t_x, T = np.array([0, 2, 2, 7]), np.array([0, 30.43, 5.0, 35.0]), np.array([38.86] * 4)
    p = bg.p_alive(x, t_x, T)
    assert p[0] == 1.0  # no repeat purchase: never observed to die
    assert p[1] > p[2]  # a recent last purchase is more alive
    e = bg.expected_purchases(39, x, t_x, T)
    assert np.all(e >= 0) and e[3] > e[1] > e[2]
    # Population: the calibration customers' expected purchases in weeks 40-78 (FHL
    # report 1,788 repeat transactions observed vs. their model's forecast near that).
    total = bg.expected_purchases(39, cdnow["x"], cdnow["t_x"], cdnow["T"]).sum()
    assert 1500 < total < 1800
    assert bg.expected_purchases_new_customer(39) == pytest.approx(
        bg.expected_purchases(39, [0], [0], [0])[0], rel=1e-6
    )


def _simulate_bgnbd(n, r, alpha, a, b, T, rng):
    lam = rng.gamma(r, 1 / alpha, n)
    p = rng.beta(a, b, n)
    rows = []
    for i in range(n):
        t, last, x = 0.0, 0.0, 0
        while True:
            t += rng.exponential(1 / lam[i])
            if t > T[i]:
                break
            x, last = x + 1, t
            if rng.random() < p[i]:
                break
        rows.append((x, last, T[i]))
    return pd.DataFrame(rows, columns=["x", "t_x", "T"])


def test_bgnbd_recovers_simulated_parameters():
    rng = np.random.default_rng(7)
    true = dict(r=0.8, alpha=20.0, a=1.2, b=4.0)
    sim = _simulate_bgnbd(6000, **true, T=rng.uniform(150, 365, 6000), rng=rng)
    bg = BetaGeoModel().fit(sim["x"], sim["t_x"], sim["T"])
    assert bg.r == pytest.approx(true["r"], rel=0.15)
    assert bg.alpha == pytest.approx(true["alpha"], rel=0.2)
    assert bg.a == pytest.approx(true["a"], rel=0.35)
    assert bg.b == pytest.approx(true["b"], rel=0.4)


def test_rfm_summary_and_holdout():
    tx = pd.DataFrame(
        {
            "customer_id": ["a", "a", "a", "a", "b", "c"],
            "date": ["2026-01-01", "2026-01-01", "2026-01-11", "2026-02-05", "2026-01-20", "2026-02-01"],
            "amount": [10.0, 5.0, 30.0, 99.0, 7.0, 3.0],
        }
    )
    s = rfm_summary(tx, "2026-01-31")
    assert list(s.index) == ["a", "b"]  # c bought after the calibration end
    a = s.loc["a"]
    # the two receipts of 01-01 are one purchase occasion
    assert (a["frequency"], a["recency"], a["T"], a["monetary_value"]) == (1, 10, 30, 30.0)
    b = s.loc["b"]
    assert (b["frequency"], b["recency"], b["T"], b["monetary_value"]) == (0, 0, 11, 0.0)
    h = holdout_actuals(tx, "2026-01-31", 4)
    assert h.loc["c", "actual_value"] == 3.0 and "a" not in h.index  # 02-05 is after the 4 days
    h = holdout_actuals(tx, "2026-01-31", 5)  # (end, end + 5]: the last day is included
    assert h.loc["a", "actual_value"] == 99.0 and h.loc["a", "actual_purchases"] == 1


def test_fit_clv_end_to_end_on_simulated_purchases():
    rng = np.random.default_rng(3)
    rows = []
    for c in range(400):
        rate, start = rng.gamma(2, 1 / 60), rng.integers(0, 120)
        t = float(start)
        while t < 365:
            rows.append((f"c{c}", pd.Timestamp("2025-01-01") + pd.Timedelta(days=int(t)), rng.gamma(4, 25)))
            t += rng.exponential(1 / rate) + 1
    tx = pd.DataFrame(rows, columns=["customer_id", "date", "amount"])
    fit = fit_clv(tx, "2025-09-30", horizon_days=90)
    pred = fit.predictions
    assert {"p_alive", "expected_purchases", "expected_value"} <= set(pred.columns)
    assert pred["p_alive"].between(0, 1).all() and (pred["expected_value"] >= 0).all()
    actual = holdout_actuals(tx, "2025-09-30", 90)["actual_purchases"].sum()
    assert pred["expected_purchases"].sum() == pytest.approx(actual, rel=0.3)
    params = fit.params()
    assert params["bgnbd"]["log_likelihood"] < 0 and params["gamma_gamma"]["n_customers"] > 0
