"""Train, register, promote and score the churn and CLV models against the warehouse.

Reads `ml_features.ml_member_features` (dbt, point-in-time features) and
`marts.fct_transactions`; writes `ml_scores.churn_scores` and `ml_scores.clv_scores`,
which the member marts read as the dbt source `ml_scores`. Used by the `mallcrm ml`
commands and the Dagster assets (orchestration/ml.py).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingRegressor

from mallcrm.core.settings import Settings
from mallcrm.core.warehouse import connect
from ml import cards, churn, clv, plots, sampling
from ml.registry import ModelVersion, Registry
from spark.lake import write_table

CHURN = "churn"
CLV = "clv"
FEATURES_TABLE = "ml_features.ml_member_features"
SCORES_SCHEMA = "ml_scores"


# --------------------------------------------------------------------------- reading


def load_features(settings: Settings, cutoffs=None, active_only: bool = False) -> pd.DataFrame:
    """Feature rows, by cutoff and member; only those at `cutoffs` (dates) when given,
    only active members' with `active_only` (a million members x 6 snapshots is 6 million
    rows: the trainers and scorers read just the snapshots they use).

    Ordered, not in table order: the calibration folds and the training samples follow
    the rows' order, and a table's order is the engine's choice (Spark's files are not
    in DuckDB's insertion order), so a model is the same whichever engine built the table."""
    where, params = [], []
    if cutoffs is not None:
        days = sorted({pd.Timestamp(c).date() for c in cutoffs})
        where.append(f"cutoff_date in ({', '.join('?' for _ in days)})" if days else "false")
        params.extend(days)
    if active_only:
        where.append("is_active")
    query = f"select * from {FEATURES_TABLE}" + (f" where {' and '.join(where)}" if where else "")
    query += " order by cutoff_date, member_id"
    con = connect(settings)
    try:
        return con.sql(query, params=params or None).df()
    finally:
        con.close()


def load_feature_snapshots(settings: Settings) -> pd.DataFrame:
    """One row per snapshot: cutoff_date, snapshot_index, horizon_days (what `_horizon`
    and `_score_cutoff` need, without reading every member's row)."""
    con = connect(settings)
    try:
        return con.sql(
            f"select distinct cutoff_date, snapshot_index, horizon_days from {FEATURES_TABLE} order by cutoff_date"
        ).df()
    finally:
        con.close()


def _sample_rows(frame: pd.DataFrame, unit: str, cap: int | None = None) -> tuple[pd.DataFrame, dict]:
    """`frame`, or above `cap` rows (default `ml.sampling.MAX_TRAIN_ROWS`) a seeded
    sample of its rows in their order; with the sample's description."""
    cap = sampling.MAX_TRAIN_ROWS if cap is None else int(cap)
    picked = sampling.sample_indices(len(frame), cap)
    if picked is None:
        return frame, sampling.describe(unit, len(frame), len(frame), cap)
    return frame.iloc[picked].reset_index(drop=True), sampling.describe(unit, len(frame), len(picked), cap)


def load_purchases(settings: Settings) -> pd.DataFrame:
    """Member sales receipts (refunds excluded): member_id, business_date, amount; in one
    order on every engine (see `load_features`)."""
    con = connect(settings)
    try:
        return con.sql(
            """
            select member_id, business_date, cast(net_revenue_amount as double) as amount
            from marts.fct_transactions
            where member_id is not null and not is_refund
            order by member_id, business_date, transaction_id
            """
        ).df()
    finally:
        con.close()


def _horizon(features: pd.DataFrame) -> int:
    values = features["horizon_days"].dropna().unique()
    if len(values) != 1:
        raise ValueError(f"{FEATURES_TABLE} must have one horizon_days, found {list(values)}")
    return int(values[0])


def _score_cutoff(features: pd.DataFrame) -> pd.Timestamp:
    return pd.Timestamp(features.loc[features["snapshot_index"] == 0, "cutoff_date"].max())


# --------------------------------------------------------------------------- results


@dataclass
class TrainResult:
    model: str
    version: ModelVersion
    metrics: dict
    promoted: bool
    reason: str
    extra: dict = field(default_factory=dict)
    # False: the fingerprint matched an existing version (ml.models.train_model), which
    # is `version`; `promoted` then says whether that version is the promoted one.
    retrained: bool = True

    @property
    def sample(self) -> dict | None:
        """What the model trained on (`ml.sampling.describe`): total, used, cap, sampled."""
        return self.metrics.get("sample")


def with_sample_note(reason: str, metrics: dict) -> str:
    """The CLI's reason, plus each training sample (`sample`, `<fit>_sample`) the model drew."""
    keys = ["sample", *sorted(k for k in metrics if k.endswith("_sample"))]
    notes = [
        f"{k.removesuffix('sample').rstrip('_') or 'fit'}: {n}"
        for k in keys
        if (n := sampling.note(metrics.get(k) or {}))
    ]
    return "; ".join([reason, *notes])


# --------------------------------------------------------------------------- churn


def train_churn(
    settings: Settings, registry: Registry | None = None, promote: bool = True, max_train_snapshots: int = 3
) -> TrainResult:
    registry = registry or Registry(settings.models_dir)
    snapshots = load_feature_snapshots(settings)
    if snapshots.empty:
        raise ValueError(f"{FEATURES_TABLE} is empty: build the dbt project first")
    horizon = _horizon(snapshots)
    split = churn.time_split(snapshots["cutoff_date"].unique(), _score_cutoff(snapshots), horizon, max_train_snapshots)
    features = load_features(settings, [*split.train_cutoffs, split.validation_cutoff], active_only=True)
    purchases = load_purchases(settings)
    train_all = churn.labelled_frame(features, purchases, split.train_cutoffs, horizon)
    valid = churn.labelled_frame(features, purchases, [split.validation_cutoff], horizon)
    del features, purchases
    # Above the cap the model and the baseline fit on a seeded sample of the training
    # rows; validation (prediction only) keeps every row.
    train, sample = _sample_rows(train_all, "feature rows")

    model = churn.fit_churn_model(train, horizon)
    baseline = churn.RecencyBaseline().fit(train, train["churned"])
    y = valid["churned"].to_numpy()
    model_metrics = churn.evaluate(y, model.predict_proba(valid))
    baseline_metrics = churn.evaluate(y, baseline.predict_proba(valid))
    ok, reason = churn.beats_baseline(model_metrics, baseline_metrics)

    # The scorer: refit on every labelled snapshot, validation included (the metrics
    # above are those of the model that never saw the validation window).
    final_rows, final_sample = _sample_rows(pd.concat([train_all, valid], ignore_index=True), "feature rows")
    del train_all
    final = churn.fit_churn_model(final_rows, horizon)
    del final_rows
    metrics = {
        "model": CHURN,
        "algorithm": "HistGradientBoostingClassifier + CalibratedClassifierCV(sigmoid)",
        "split": split.as_dict(),
        "train_rows": int(len(train)),
        "sample": sample,
        "final_sample": final_sample,
        "train_churn_rate": float(train["churned"].mean()),
        "validation": model_metrics,
        "baseline": {"name": "logistic regression on log1p(recency_days)", **baseline_metrics},
        "gate": {"passed": bool(ok), "rule": "validation ROC-AUC and PR-AUC >= baseline", "detail": reason},
        "features": list(churn.FEATURES),
    }
    card = cards.churn_card(metrics) + cards.sample_section(metrics)
    model_score, baseline_score = model.predict_proba(valid), baseline.predict_proba(valid)
    pngs = {}
    if len(np.unique(y)) == 2:
        pngs = {
            "roc.png": plots.roc(y, model_score, baseline_score),
            "calibration.png": plots.calibration(model_metrics["calibration"], baseline_metrics["calibration"]),
            "lift.png": plots.lift(y, model_score, baseline_score),
        }
    version = registry.register(CHURN, artifact=final, metrics=metrics, card=card, extra_files=pngs)
    if promote and ok:
        registry.promote(CHURN, version.version)
    return TrainResult(CHURN, version, metrics, bool(promote and ok), with_sample_note(reason, metrics))


def score_churn(settings: Settings, registry: Registry | None = None) -> pd.DataFrame:
    registry = registry or Registry(settings.models_dir)
    current = registry.current(CHURN)
    if current is None:
        raise LookupError("no promoted churn model: run `mallcrm ml train` first")
    model: churn.ChurnModel = current.load_artifact()
    cutoff = _score_cutoff(load_feature_snapshots(settings))
    features = load_features(settings, [cutoff])
    rows = features[(pd.to_datetime(features["cutoff_date"]) == cutoff) & features["is_active"]].copy()
    scores = pd.DataFrame(
        {
            "member_id": rows["member_id"].astype(str).to_numpy(),
            "churn_probability": model.predict_proba(rows) if len(rows) else np.array([], dtype=float),
        }
    )
    scores["churn_risk_decile"] = (
        (scores["churn_probability"].rank(method="first", ascending=False) - 1) * 10 // max(len(scores), 1) + 1
    ).astype("int64")
    scores["cutoff_date"] = cutoff.date()
    scores["horizon_days"] = int(model.horizon_days)
    scores["model_version"] = current.version
    scores["scored_at"] = _now()
    return scores


# --------------------------------------------------------------------------- CLV

CLV_ML_FEATURES = churn.FEATURES
# The ML challenger may win on MAE by shrinking everyone towards zero; it must also get
# the holdout total right to within this fraction, else the probabilistic model wins.
CLV_TOTAL_BIAS_TOLERANCE = 0.15


def total_bias(predicted_total: float, actual_total: float) -> float:
    """predicted / actual - 1 (0 = the total is right; -0.4 = 40 % under)."""
    return float(predicted_total / actual_total - 1.0) if actual_total else float("inf")


@dataclass
class ClvMlModel:
    """Gradient boosting on the point-in-time features, predicting net spend over the
    horizon; kept only when it beats BG/NBD + Gamma-Gamma on the holdout."""

    estimator: HistGradientBoostingRegressor
    features: list[str]
    horizon_days: int

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        return np.maximum(self.estimator.predict(churn.matrix(frame, self.features)), 0.0)


def _spend_after(purchases: pd.DataFrame, cutoff, horizon: int) -> pd.Series:
    actual = clv.holdout_actuals(purchases, cutoff, horizon, customer_col="member_id", date_col="business_date")
    return actual["actual_value"]


def _ml_frame(features, purchases, cutoff, horizon) -> pd.DataFrame:
    rows = features[
        (pd.to_datetime(features["cutoff_date"]) == pd.Timestamp(cutoff)) & (features["purchase_days_total"] > 0)
    ].copy()
    rows["member_id"] = rows["member_id"].astype(str)
    spend = _spend_after(purchases, cutoff, horizon)
    rows["target_value"] = rows["member_id"].map(spend).fillna(0.0).astype(float)
    return rows


def train_clv(settings: Settings, registry: Registry | None = None, promote: bool = True) -> TrainResult:
    registry = registry or Registry(settings.models_dir)
    snapshots = load_feature_snapshots(settings)
    if snapshots.empty:
        raise ValueError(f"{FEATURES_TABLE} is empty: build the dbt project first")
    horizon = _horizon(snapshots)
    t0 = _score_cutoff(snapshots)
    calibration_end = t0 - pd.Timedelta(days=horizon)
    purchases = load_purchases(settings)
    cols = {"customer_col": "member_id", "date_col": "business_date"}

    # 1. Probabilistic model, calibrated to t0 - H, judged on (t0 - H, t0].
    cap = {"max_customers": sampling.MAX_CLV_CUSTOMERS, "seed": sampling.SEED}
    holdout_fit = clv.fit_clv(purchases, calibration_end, horizon, **cap, **cols)
    actual = clv.holdout_actuals(purchases, calibration_end, horizon, **cols)
    pred = holdout_fit.predictions.join(actual, how="left").fillna({"actual_purchases": 0.0, "actual_value": 0.0})
    prob_metrics = _value_metrics(pred["expected_value"], pred["actual_value"])
    prob_metrics["purchases_mae"] = float(np.mean(np.abs(pred["expected_purchases"] - pred["actual_purchases"])))
    prob_metrics["predicted_purchases_total"] = float(pred["expected_purchases"].sum())
    prob_metrics["actual_purchases_total"] = float(pred["actual_purchases"].sum())

    # 2. ML challenger: features at t0 - 2H -> spend in (t0 - 2H, t0 - H]; judged on the
    #    same holdout customers from their t0 - H features.
    ml_metrics, ml_model, ml_note = None, None, ""
    train_cutoff = calibration_end - pd.Timedelta(days=horizon)
    available = set(pd.to_datetime(snapshots["cutoff_date"]).unique())
    features = load_features(settings, [train_cutoff, calibration_end])
    challenger_sample = sampling.describe("feature rows", 0, 0, sampling.MAX_TRAIN_ROWS)  # none fitted
    if train_cutoff in available:
        # Above the cap the challenger fits on a seeded sample of its rows (BG/NBD and
        # Gamma-Gamma, a few parameters each, always fit on every customer).
        train, challenger_sample = _sample_rows(_ml_frame(features, purchases, train_cutoff, horizon), "feature rows")
        valid = _ml_frame(features, purchases, calibration_end, horizon)
        valid = valid[valid["member_id"].isin(pred.index)]
        if len(train) >= 50 and len(valid):
            est = HistGradientBoostingRegressor(
                loss="poisson", max_iter=200, learning_rate=0.05, max_leaf_nodes=15, min_samples_leaf=20, random_state=0
            )
            est.fit(churn.matrix(train, CLV_ML_FEATURES), train["target_value"].to_numpy())
            ml_model = ClvMlModel(est, list(CLV_ML_FEATURES), horizon)
            ml_metrics = _value_metrics(
                pd.Series(ml_model.predict(valid), index=valid["member_id"]),
                pd.Series(valid["target_value"].to_numpy(), index=valid["member_id"]),
            )
            # The comparison must be on the same customers: restrict the BG/NBD numbers too.
            same = pred.loc[valid["member_id"]]
            prob_metrics_same = _value_metrics(same["expected_value"], same["actual_value"])
            ml_metrics["bgnbd_mae_same_customers"] = prob_metrics_same["mae"]
        else:
            ml_note = f"too few customers to train the ML challenger ({len(train)})"
    else:
        ml_note = f"no feature snapshot at {train_cutoff.date()} for the ML challenger"

    winner = "bgnbd_gamma_gamma"
    if ml_metrics is not None:
        ml_metrics["total_bias"] = total_bias(ml_metrics["predicted_total"], ml_metrics["actual_total"])
        ml_metrics["beats_bgnbd_mae"] = bool(ml_metrics["mae"] < ml_metrics["bgnbd_mae_same_customers"])
        ml_metrics["within_total_bias_tolerance"] = bool(abs(ml_metrics["total_bias"]) <= CLV_TOTAL_BIAS_TOLERANCE)
        if ml_metrics["beats_bgnbd_mae"] and ml_metrics["within_total_bias_tolerance"]:
            winner = "gradient_boosting"

    # 3. Refit the winner on everything up to t0 for scoring.
    final_fit = clv.fit_clv(purchases, t0, horizon, **cap, **cols)
    artifact = None
    if winner == "gradient_boosting":
        refit, _ = _sample_rows(_ml_frame(features, purchases, calibration_end, horizon), "feature rows")
        est = HistGradientBoostingRegressor(
            loss="poisson", max_iter=200, learning_rate=0.05, max_leaf_nodes=15, min_samples_leaf=20, random_state=0
        )
        est.fit(churn.matrix(refit, CLV_ML_FEATURES), refit["target_value"].to_numpy())
        artifact = ClvMlModel(est, list(CLV_ML_FEATURES), horizon)

    params = final_fit.params()
    params["holdout_fit"] = holdout_fit.params()
    params["winner"] = winner
    ok = bool(holdout_fit.bgnbd.converged or np.isfinite(holdout_fit.bgnbd.log_likelihood))
    baseline_mae = _value_metrics(pd.Series(0.0, index=pred.index), pred["actual_value"])["mae"]
    ok = ok and prob_metrics["mae"] <= _naive_mae(purchases, calibration_end, horizon, pred)
    metrics = {
        "model": CLV,
        "winner": winner,
        "horizon_days": horizon,
        "calibration_end": str(calibration_end.date()),
        "holdout_end": str(t0.date()),
        "customers": int(len(pred)),
        "sample": sampling.describe(
            "customers", final_fit.sample["customers"], final_fit.sample["fitted_on"], sampling.MAX_CLV_CUSTOMERS
        ),
        "challenger_sample": challenger_sample,
        "holdout_fit_sample": sampling.describe(
            "customers", holdout_fit.sample["customers"], holdout_fit.sample["fitted_on"], sampling.MAX_CLV_CUSTOMERS
        ),
        "bgnbd_gamma_gamma": prob_metrics,
        "gradient_boosting": ml_metrics,
        "gradient_boosting_note": ml_note,
        "baseline": {
            "name": "naive: spend of the previous horizon repeats",
            "mae": _naive_mae(purchases, calibration_end, horizon, pred),
            "zero_prediction_mae": baseline_mae,
        },
        "gate": {"passed": ok, "rule": "BG/NBD fitted, and holdout MAE <= the naive baseline's"},
        "winner_rule": (
            "gradient boosting wins only with a lower holdout MAE than BG/NBD + Gamma-Gamma on the "
            f"same customers AND a holdout total within +/-{CLV_TOTAL_BIAS_TOLERANCE:.0%} of the actual"
        ),
        "params": params,
    }
    card = cards.clv_card(metrics) + cards.sample_section(metrics)
    deciles = _decile_table(pred["expected_value"], pred["actual_value"])
    version = registry.register(
        CLV,
        params=params,
        artifact=artifact,
        metrics=metrics,
        card=card,
        extra_files={
            "holdout_deciles.json": json.dumps(deciles, indent=2),
            "predicted_vs_actual.png": plots.predicted_vs_actual(deciles),
        },
    )
    if promote and ok:
        registry.promote(CLV, version.version)
    return TrainResult(CLV, version, metrics, bool(promote and ok), with_sample_note(f"winner {winner}", metrics))


def _value_metrics(predicted: pd.Series, actual: pd.Series) -> dict:
    p, a = np.asarray(predicted, dtype=float), np.asarray(actual, dtype=float)
    return {
        "n": int(len(a)),
        "mae": float(np.mean(np.abs(p - a))) if len(a) else float("nan"),
        "rmse": float(np.sqrt(np.mean((p - a) ** 2))) if len(a) else float("nan"),
        "predicted_total": float(p.sum()),
        "actual_total": float(a.sum()),
        "spearman": (
            float(pd.Series(p).corr(pd.Series(a), method="spearman"))
            if len(a) > 2 and np.ptp(p) > 0 and np.ptp(a) > 0
            else float("nan")
        ),
    }


def _naive_mae(purchases, calibration_end, horizon, pred) -> float:
    """Predict next horizon's spend = the customer's spend in the previous horizon."""
    prev = clv.holdout_actuals(
        purchases,
        calibration_end - pd.Timedelta(days=horizon),
        horizon,
        customer_col="member_id",
        date_col="business_date",
    )["actual_value"]
    guess = pd.Series(pred.index.map(prev), index=pred.index).fillna(0.0).astype(float)
    return float(np.mean(np.abs(guess - pred["actual_value"])))


def _decile_table(predicted: pd.Series, actual: pd.Series) -> list[dict]:
    df = pd.DataFrame({"p": np.asarray(predicted, dtype=float), "a": np.asarray(actual, dtype=float)})
    if df.empty:
        return []
    df["decile"] = (df["p"].rank(method="first", ascending=False) - 1) * 10 // len(df) + 1
    g = df.groupby("decile")
    return [
        {
            "decile": int(d),
            "customers": int(len(x)),
            "mean_predicted": float(x["p"].mean()),
            "mean_actual": float(x["a"].mean()),
        }
        for d, x in g
    ]


def score_clv(settings: Settings, registry: Registry | None = None) -> pd.DataFrame:
    registry = registry or Registry(settings.models_dir)
    current = registry.current(CLV)
    if current is None:
        raise LookupError("no promoted CLV model: run `mallcrm ml train` first")
    params = json.loads((current.path / "params.json").read_text())
    horizon = int(params["horizon_days"])
    purchases = load_purchases(settings)
    t0 = _score_cutoff(load_feature_snapshots(settings))
    bg = clv.BetaGeoModel(**params["bgnbd"])
    gg = clv.GammaGammaModel(**params["gamma_gamma"])
    summary = clv.rfm_summary(purchases, t0, customer_col="member_id", date_col="business_date")
    pred = clv.predict_clv(bg, gg, summary, horizon)
    pred["predicted_clv"] = pred["expected_value"]
    if params.get("winner") == "gradient_boosting":
        ml_model: ClvMlModel = current.load_artifact()
        features = load_features(settings, [t0])
        rows = features[pd.to_datetime(features["cutoff_date"]) == t0].copy()
        rows["member_id"] = rows["member_id"].astype(str)
        ml_pred = pd.Series(ml_model.predict(rows), index=rows["member_id"])
        pred["predicted_clv"] = pred.index.map(ml_pred).astype(float)
        pred["predicted_clv"] = pred["predicted_clv"].fillna(pred["expected_value"])
    scores = pd.DataFrame(
        {
            "member_id": pred.index.astype(str),
            "predicted_clv": pred["predicted_clv"].to_numpy(dtype=float),
            "p_alive": pred["p_alive"].to_numpy(dtype=float),
            "expected_purchases": pred["expected_purchases"].to_numpy(dtype=float),
            "expected_average_spend": pred["expected_average_spend"].to_numpy(dtype=float),
            "bgnbd_expected_value": pred["expected_value"].to_numpy(dtype=float),
        }
    )
    scores["value_model"] = params.get("winner", "bgnbd_gamma_gamma")
    scores["cutoff_date"] = t0.date()
    scores["horizon_days"] = horizon
    scores["model_version"] = current.version
    scores["scored_at"] = _now()
    return scores


# --------------------------------------------------------------------------- writing


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None, microsecond=0)


def write_scores(settings: Settings, table: str, scores: pd.DataFrame) -> None:
    """Replace `ml_scores.<table>` with the latest scoring run in one transaction.

    On engine spark the same rows, as the DuckDB table types them, also become the Spark
    table `ml_scores.<table>` (Parquet in the lake, spark/lake.py), which dbt on Spark
    reads as the source `ml_scores` (member 360)."""
    con = connect(settings)
    try:
        con.execute(f"create schema if not exists {SCORES_SCHEMA}")
        con.register("_scores_df", scores)
        con.execute("begin")
        con.execute(f"create or replace table {SCORES_SCHEMA}.{table} as select * from _scores_df")
        con.execute("commit")
        con.unregister("_scores_df")
        if settings.engine == "spark":
            write_table(
                settings, f"{SCORES_SCHEMA}.{table}", con.sql(f"select * from {SCORES_SCHEMA}.{table}").to_arrow_table()
            )
    finally:
        con.close()


def republish_scores(settings: Settings) -> list[str]:
    """Engine spark: write every `ml_scores` table of the warehouse to the lake again (after
    an erasure removed rows from them); returns the tables written."""
    if settings.engine != "spark":
        return []
    con = connect(settings)
    try:
        tables = [
            row[0]
            for row in con.execute(
                "select table_name from information_schema.tables "
                "where table_schema = ? and table_type = 'BASE TABLE' and table_catalog = current_database()",
                [SCORES_SCHEMA],
            ).fetchall()
        ]
        for table in tables:
            write_table(
                settings, f"{SCORES_SCHEMA}.{table}", con.sql(f"select * from {SCORES_SCHEMA}.{table}").to_arrow_table()
            )
    finally:
        con.close()
    return [f"{SCORES_SCHEMA}.{t}" for t in tables]
