"""Churn labels, time splits, metrics and the promotion gate (ml/churn.py)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ml import churn


def test_label_window_is_cutoff_exclusive_horizon_inclusive():
    purchases = pd.DataFrame(
        {
            "member_id": ["on_cutoff", "first_day", "last_day", "too_late", "both"],
            "business_date": pd.to_datetime(["2026-03-01", "2026-03-02", "2026-03-31", "2026-04-01", "2026-03-15"]),
        }
    )
    members = ["on_cutoff", "first_day", "last_day", "too_late", "both", "never"]
    y = churn.churn_labels(purchases, members, "2026-03-01", 30)
    assert y.to_dict() == {"on_cutoff": 1, "first_day": 0, "last_day": 0, "too_late": 1, "both": 0, "never": 1}


def test_time_split_never_overlaps_validation_window():
    t0 = pd.Timestamp("2026-10-31")
    cutoffs = [t0 - pd.Timedelta(days=60 * k) for k in range(6)]
    split = churn.time_split(cutoffs, t0, 60, max_train_snapshots=3)
    assert split.validation_cutoff == t0 - pd.Timedelta(days=60)
    assert split.score_cutoff == t0
    # every training label window (c, c + H] ends on or before the validation cutoff
    assert all(c + pd.Timedelta(days=60) <= split.validation_cutoff for c in split.train_cutoffs)
    assert split.train_cutoffs == sorted(cutoffs[2:5])


def test_time_split_refuses_too_little_history():
    t0 = pd.Timestamp("2026-10-31")
    with pytest.raises(ValueError, match="2 x 60 days"):
        churn.time_split([t0, t0 - pd.Timedelta(days=60)], t0, 60)
    with pytest.raises(ValueError, match="validation cutoff"):
        churn.time_split([t0], t0, 60)


def test_labelled_frame_keeps_active_members_only():
    features = pd.DataFrame(
        {
            "member_id": ["m1", "m2", "m3"],
            "cutoff_date": pd.to_datetime(["2026-01-31"] * 3),
            "is_active": [True, True, False],
        }
    )
    purchases = pd.DataFrame({"member_id": ["m1"], "business_date": pd.to_datetime(["2026-02-10"])})
    frame = churn.labelled_frame(features, purchases, [pd.Timestamp("2026-01-31")], 30)
    assert frame.set_index("member_id")["churned"].to_dict() == {"m1": 0, "m2": 1}


def test_lift_and_evaluate():
    y = np.array([1] * 10 + [0] * 90)
    perfect = y.astype(float)
    assert churn.lift_at(y, perfect, 0.1) == pytest.approx(10.0)
    m = churn.evaluate(y, perfect)
    assert m["roc_auc"] == 1.0 and m["pr_auc"] == 1.0 and m["churn_rate"] == 0.1
    assert m["calibration"]


def test_gate_requires_beating_the_baseline():
    assert churn.beats_baseline({"roc_auc": 0.8, "pr_auc": 0.7}, {"roc_auc": 0.75, "pr_auc": 0.6})[0]
    assert not churn.beats_baseline({"roc_auc": 0.7, "pr_auc": 0.7}, {"roc_auc": 0.75, "pr_auc": 0.6})[0]
    assert not churn.beats_baseline({"roc_auc": float("nan"), "pr_auc": 0.7}, {"roc_auc": 0.75, "pr_auc": 0.6})[0]


def test_model_beats_recency_on_signal_recency_misses():
    # Churn depends on recency *and* complaints: the model must see both.
    rng = np.random.default_rng(0)
    n = 1000
    frame = pd.DataFrame({f: rng.normal(size=n) for f in churn.FEATURES})
    frame["recency_days"] = rng.integers(0, 120, n).astype(float)
    frame["complaints_365d"] = rng.integers(0, 3, n).astype(float)
    logit = -2 + frame["recency_days"] / 40 + 1.5 * frame["complaints_365d"]
    frame["churned"] = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    train, valid = frame.iloc[:700], frame.iloc[700:]
    model = churn.fit_churn_model(train, 60)
    base = churn.RecencyBaseline().fit(train, train["churned"])
    m = churn.evaluate(valid["churned"], model.predict_proba(valid))
    b = churn.evaluate(valid["churned"], base.predict_proba(valid))
    assert churn.beats_baseline(m, b)[0]
    p = model.predict_proba(valid)
    assert np.all((p >= 0) & (p <= 1))
