"""Uplift model (ml/uplift.py): the Qini, the learners and the time split."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from cli import main
from ml import models, uplift
from ml.pipeline import TrainResult
from ml.registry import Registry
from pipeline import steps


def _experiment(n: int = 6000, seed: int = 3) -> pd.DataFrame:
    """A randomized campaign where only members with orders_90d above 2 respond to the
    treatment (+30 points of conversion); the rest convert at the same 20 % either way."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({c: rng.normal(size=n) for c in uplift.FEATURES})
    frame["orders_90d"] = rng.integers(0, 6, n).astype(float)
    frame["treated"] = (rng.random(n) < 0.5).astype(int)
    responsive = frame["orders_90d"] > 2
    p = 0.2 + 0.3 * (frame["treated"] == 1) * responsive
    frame["converted"] = (rng.random(n) < p).astype(int)
    frame["true_uplift"] = 0.3 * responsive
    return frame


def test_qini_of_a_perfect_ranking_beats_random():
    frame = _experiment()
    t, y = frame["treated"], frame["converted"]
    perfect = uplift.qini_coefficient(t, y, frame["true_uplift"])
    random = uplift.random_qini(t, y, permutations=100)
    assert perfect > random["qini_p95"] > random["qini"]
    assert abs(random["qini"]) < random["qini_p95"]
    # The reversed ranking is below the random line, and its area says so.
    assert uplift.qini_coefficient(t, y, -frame["true_uplift"]) < -random["qini_p95"]


def test_qini_curve_counts_incremental_conversions():
    # treated: 2 of 2 convert; control: 0 of 2 -> targeting the treated-looking top two first.
    x, q = uplift.qini_curve([1, 0, 1, 0], [1, 0, 1, 0], [4, 3, 2, 1])
    assert list(x) == [0.0, 0.25, 0.5, 0.75, 1.0]
    assert list(q) == [0.0, 1.0, 1.0, 2.0, 2.0]
    assert uplift.uplift_at([1, 0, 1, 0], [1, 0, 1, 0], [4, 3, 2, 1], 0.5) == 1.0


@pytest.mark.parametrize("learner", ["t_logistic", "t_gbm", "x_logistic", "x_gbm"])
def test_learners_recover_a_planted_heterogeneous_effect(learner):
    train, test = _experiment(seed=1), _experiment(seed=2)
    model = uplift.fit_learner(learner, train)
    tau, p1, p0 = model.predict(test)
    responsive = test["orders_90d"] > 2
    # The responsive members' predicted uplift is near the planted 0.3, the others' near 0.
    assert tau[responsive].mean() == pytest.approx(0.3, abs=0.08)
    assert abs(tau[~responsive].mean()) < 0.08
    assert ((p1 >= 0) & (p1 <= 1) & (p0 >= 0) & (p0 <= 1)).all()
    qini = uplift.qini_coefficient(test["treated"], test["converted"], tau)
    assert qini > uplift.random_qini(test["treated"], test["converted"], permutations=100)["qini_p95"]


def _campaign_rows() -> pd.DataFrame:
    """Six campaigns a month apart, each 20 days long, so the one starting just before the
    split runs past it."""
    rows = []
    for i, start in enumerate(pd.date_range("2026-01-01", periods=6, freq="30D")):
        for m in range(4):
            rows.append(
                {
                    "campaign_id": f"C{i}",
                    "member_id": f"M{m}",
                    "start_date": start.date(),
                    "end_date": (start + pd.Timedelta(days=40 if i == 3 else 19)).date(),
                    "treated": m % 2,
                    "converted": 1,
                }
            )
    return pd.DataFrame(rows)


def test_time_split_keeps_test_outcomes_out_of_training():
    rows = _campaign_rows()
    split = uplift.campaign_split(rows)
    assert split.test_campaigns == ["C4", "C5"]  # the last third by start date
    assert split.split_date == pd.Timestamp("2026-05-01")
    # C3 starts before the split but its window ends after it: in neither set.
    assert split.dropped_campaigns == ["C3"]
    train = uplift._rows(rows, split.train_campaigns)
    assert (pd.to_datetime(train["end_date"]) < split.split_date).all()
    assert set(train["campaign_id"]).isdisjoint(split.test_campaigns)
    # The learner is chosen inside the training campaigns: its own split never reaches the test ones.
    inner = uplift.campaign_split(train)
    assert set(inner.train_campaigns + inner.test_campaigns) <= set(split.train_campaigns)


def test_gate_needs_both_baselines_beaten():
    random = {"qini": 0.0, "qini_p95": 10.0}
    assert uplift.beats_baselines({"qini": 12.0}, random, {"qini": 5.0})[0]
    assert not uplift.beats_baselines({"qini": 12.0}, random, {"qini": 15.0})[0]
    assert not uplift.beats_baselines({"qini": 8.0}, random, {"qini": 5.0})[0]
    assert not uplift.beats_baselines({"qini": float("nan")}, random, {"qini": 5.0})[0]


def test_a_mall_with_too_few_campaigns_fails_the_gate_without_stopping(monkeypatch, tmp_path):
    """One finished campaign cannot be split into training and test: a version whose gate
    failed, not an exception, so `mallcrm demo` and `ml train` go on (docs/ml.md)."""
    one = _campaign_rows()
    one = one[one["campaign_id"] == "C0"].assign(campaign_kind=uplift.MALL, **{c: 1.0 for c in uplift.FEATURES})
    monkeypatch.setattr(uplift, "load_campaign_rows", lambda settings: one)
    result = uplift.train_uplift(settings=None, registry=Registry(tmp_path))
    assert not result.promoted and not result.metrics["gate"]["passed"]
    assert result.reason.startswith("not evaluated:") and "start date" in result.reason
    assert result.metrics["gate"]["evaluated"] is False  # `mallcrm ml train` does not fail on it
    assert Registry(tmp_path).current(uplift.UPLIFT) is None
    assert models.get(uplift.UPLIFT).card_metrics(result.metrics)["learner"].startswith("none")


def _two_campaigns(seed: int = 5) -> pd.DataFrame:
    """Two campaigns with no effect at all but different control shares (15 % / 40 %) and
    base rates (10 % / 50 %): the setting where one pooled Qini curve is biased."""
    rng = np.random.default_rng(seed)
    parts = []
    for cid, n, control, rate in (("A", 3000, 0.15, 0.1), ("B", 3000, 0.40, 0.5)):
        parts.append(
            pd.DataFrame(
                {
                    "campaign_id": cid,
                    "treated": (rng.random(n) >= control).astype(int),
                    "converted": (rng.random(n) < rate).astype(int),
                    "noise": rng.random(n),
                }
            )
        )
    return pd.concat(parts, ignore_index=True)


def test_stratified_qini_ignores_which_campaign_is_ranked_first():
    frame = _two_campaigns()
    t, y, g = frame["treated"], frame["converted"], frame["campaign_id"]
    b_first = frame["noise"] + 10 * (g == "B")
    a_first = frame["noise"] + 10 * (g == "A")
    # Pooled, ranking campaign B (high base rate, large control arm) first looks like a
    # targeting skill (or its opposite) although the campaigns have no effect.
    pooled_gap = uplift.qini_coefficient(t, y, b_first) - uplift.qini_coefficient(t, y, a_first)
    assert abs(pooled_gap) > 50
    # Stratified, only the order within each campaign counts: the same figure either way.
    assert uplift.qini_coefficient(t, y, b_first, g) == pytest.approx(uplift.qini_coefficient(t, y, a_first, g))
    # ... and it is the sum of the campaigns' own coefficients.
    per_campaign = sum(uplift.qini_coefficient(t[g == c], y[g == c], frame["noise"][g == c]) for c in ("A", "B"))
    assert uplift.qini_coefficient(t, y, frame["noise"], g) == pytest.approx(per_campaign)
    random = uplift.random_qini(t, y, g, permutations=100)
    assert abs(random["qini"]) < random["qini_p95"]


def test_stratified_curve_and_uplift_add_up_per_campaign():
    # Campaign A: targeting its top half gives 1 treated conversion, control none. Campaign B
    # (control share 1/3): the treated convert at 1/2, the control at 0.
    frame = pd.DataFrame(
        {
            "campaign_id": ["A"] * 4 + ["B"] * 6,
            "treated": [1, 0, 1, 0, 1, 1, 1, 1, 0, 0],
            "converted": [1, 0, 0, 0, 1, 0, 1, 0, 0, 0],
            "score": [4, 3, 2, 1, 6, 5, 4, 3, 2, 1],
        }
    )
    t, y, s, g = frame["treated"], frame["converted"], frame["score"], frame["campaign_id"]
    pts = uplift.curve_points(t, y, s, g, points=2)
    # Q(1) = A's 1 - 0 plus B's 2 - 0 x 4/2 incremental conversions
    assert list(pts["incremental_conversions"]) == [0.0, pytest.approx(1.0 + 2.0), pytest.approx(3.0)]
    # Top half of each campaign: A has treated 1/1 vs control 0/1 (2 members), B treated 2/3 and no control.
    assert uplift.uplift_at(t, y, s, 0.5, g) == pytest.approx(1.0)
    # Everyone: A 1/2 - 0 (4 members), B 2/4 - 0 (6 members), weighted by members.
    assert uplift.uplift_at(t, y, np.zeros(10), 1.0, g) == pytest.approx((4 * 0.5 + 6 * 0.5) / 10)


def test_learner_choice_validates_forward_in_time_inside_training(monkeypatch):
    """Every start date with two campaigns ended before it is a fold: fit on those, judge on it."""
    rows = _campaign_rows()
    train = uplift._rows(rows, uplift.campaign_split(rows).train_campaigns)  # C0, C1, C2
    seen = []

    class Fitted:
        def __init__(self, frame):
            seen.append(set(frame["campaign_id"]))

        def predict(self, frame):
            seen.append(set(frame["campaign_id"]))
            return (np.zeros(len(frame)),) * 3

    monkeypatch.setattr(uplift, "fit_learner", lambda learner, frame: Fitted(frame))
    learner, validation = uplift.choose_learner(train)
    assert validation["folds"] == 1 and learner in uplift.LEARNERS
    assert seen[:2] == [{"C0", "C1"}, {"C2"}]  # fit on the earlier campaigns, validate on the later one
    assert set().union(*seen) <= {"C0", "C1", "C2"}
    # One training campaign: nothing to validate on, the default learner and a note saying so.
    assert uplift.choose_learner(uplift._rows(rows, ["C0"]))[0] == uplift.DEFAULT_LEARNER


def _mall(n_per_campaign: int = 1500) -> pd.DataFrame:
    """Six monthly mall campaigns with the planted effect, then one audience export whose
    control arm converts MORE (a different treatment): it must not reach training or the gate."""
    parts = []
    for i, start in enumerate(pd.date_range("2026-01-01", periods=6, freq="30D")):
        part = _experiment(n_per_campaign, seed=10 + i)
        part["campaign_id"], part["campaign_kind"] = f"CMP{i}", uplift.MALL
        part["start_date"], part["end_date"] = start.date(), (start + pd.Timedelta(days=19)).date()
        parts.append(part)
    export = _experiment(600, seed=99)
    export["converted"] = 1 - export["treated"]
    export["campaign_id"], export["campaign_kind"] = "ACT-x", uplift.EXPORT
    export["start_date"], export["end_date"] = parts[-1]["start_date"].iloc[0], parts[-1]["end_date"].iloc[0]
    return pd.concat([*parts, export], ignore_index=True).drop(columns="true_uplift")


def test_training_and_gate_use_the_mall_campaigns_and_report_exports_apart(monkeypatch, tmp_path):
    rows = _mall()
    monkeypatch.setattr(uplift, "load_campaign_rows", lambda settings: rows)
    result = uplift.train_uplift(settings=None, registry=Registry(tmp_path))
    m = result.metrics
    assert m["split"]["test_campaigns"] == 2 and m["test"]["n"] == 3000  # no export row in the test
    assert m["train_rows"] == 4 * 1500  # nor in training
    assert m["gate"]["passed"] and result.promoted, m["gate"]["detail"]
    assert m["test"]["uplift_top_10"] > m["test_ate"] > 0
    exports = m["audience_exports"]
    assert exports["campaigns"] == 1 and exports["learners"]["t_logistic"]["n"] == 600
    assert exports["ate"] == pytest.approx(-1.0)  # its control converts, its treated do not: reported, never gated


def _cli_env(monkeypatch, tmp_path):
    (tmp_path / "wh.duckdb").touch()
    monkeypatch.setenv("MALLCRM_WAREHOUSE", str(tmp_path / "wh.duckdb"))
    monkeypatch.setenv("MALLCRM_MODELS_DIR", str(tmp_path / "models"))
    return Registry(tmp_path / "models")


@pytest.mark.parametrize(("evaluated", "exit_code"), [(False, 0), (True, 4)])
def test_ml_train_fails_only_on_a_gate_that_was_evaluated(monkeypatch, tmp_path, evaluated, exit_code):
    registry = _cli_env(monkeypatch, tmp_path)
    gate = {"passed": False, "evaluated": evaluated, "rule": "r", "detail": "d"}
    version = registry.register(uplift.UPLIFT, metrics={"gate": gate}, card="#\n")
    result = TrainResult(uplift.UPLIFT, version, {"gate": gate}, False, "d")
    monkeypatch.setattr(steps, "train", lambda settings, names, promote, force: [result])
    out = CliRunner().invoke(main, ["ml", "train", "--model", uplift.UPLIFT])
    assert out.exit_code == exit_code, out.output
    assert ("not evaluated" if not evaluated else "NOT promoted") in out.output


def test_ml_score_skips_a_trained_model_that_was_never_promoted(monkeypatch, tmp_path):
    registry = _cli_env(monkeypatch, tmp_path)
    monkeypatch.setattr(
        steps, "score", lambda settings, names: [steps.ScoreResult(names[0], "ml_scores.uplift_scores", 0, None)]
    )
    never_trained = CliRunner().invoke(main, ["ml", "score", "--model", uplift.UPLIFT])
    assert never_trained.exit_code == 1 and "no trained version of uplift" in never_trained.output
    gate = {"passed": False, "rule": "r", "detail": "holdout Qini 1.0 vs random p95 2.0"}
    registry.register(uplift.UPLIFT, metrics={"gate": gate}, card="#\n")
    failed_gate = CliRunner().invoke(main, ["ml", "score", "--model", uplift.UPLIFT])
    assert failed_gate.exit_code == 0, failed_gate.output
    assert "skipped, uplift has no promoted version" in failed_gate.output and "random p95 2.0" in failed_gate.output
