"""Churn (non-contractual retail, docs/ml.md): a member active at cutoff t0 churns when
they make no purchase in (t0, t0 + H]. Trained and evaluated on time splits only.

Pure functions over pandas frames; reading the warehouse is `ml.pipeline`'s job.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.calibration import CalibratedClassifierCV, calibration_curve
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score

# Columns of ml_features.ml_member_features the model uses (all numeric, NULL allowed).
FEATURES = [
    "tenure_days",
    "recency_days",
    "days_since_first_purchase",
    "purchase_days_total",
    "orders_total",
    "orders_30d",
    "net_spend_30d",
    "orders_90d",
    "net_spend_90d",
    "orders_365d",
    "net_spend_365d",
    "net_spend_total",
    "avg_order_value_365d",
    "mean_interpurchase_days",
    "std_interpurchase_days",
    "recency_over_mean_gap",
    "refunds_365d",
    "distinct_stores_365d",
    "distinct_categories_365d",
    "top_category_share_365d",
    "discount_share_365d",
    "coupon_order_share_365d",
    "complaints_365d",
    "major_complaints_365d",
    "days_since_last_complaint",
    "last_nps_score",
    "nps_responses",
    "check_ins_90d",
    "coupon_claims_90d",
    "activity_signups_90d",
]
BASELINE_FEATURE = "recency_days"


def churn_labels(purchases: pd.DataFrame, members, cutoff, horizon_days: int) -> pd.Series:
    """1 = churned (no purchase in (cutoff, cutoff + horizon]), 0 = bought again.

    `purchases`: member_id, business_date (sales only). `members`: the members to label
    (those active at the cutoff). Purchases on the cutoff day itself are *before* it.
    """
    cutoff = pd.Timestamp(cutoff)
    stop = cutoff + pd.Timedelta(days=int(horizon_days))
    days = pd.to_datetime(purchases["business_date"])
    bought = set(purchases.loc[(days > cutoff) & (days <= stop), "member_id"].astype(str))
    index = pd.Index([str(m) for m in members], name="member_id")
    return pd.Series([0 if m in bought else 1 for m in index], index=index, name="churned", dtype=int)


@dataclass(frozen=True)
class TimeSplit:
    """Cutoffs for training and validation; every label window ends by `data_end`."""

    train_cutoffs: list[pd.Timestamp]
    validation_cutoff: pd.Timestamp
    score_cutoff: pd.Timestamp
    horizon_days: int

    def as_dict(self) -> dict:
        return {
            "train_cutoffs": [str(c.date()) for c in self.train_cutoffs],
            "validation_cutoff": str(self.validation_cutoff.date()),
            "score_cutoff": str(self.score_cutoff.date()),
            "horizon_days": self.horizon_days,
        }


def time_split(available_cutoffs, data_end, horizon_days: int, max_train_snapshots: int = 3) -> TimeSplit:
    """Validation at data_end - H (its label window ends on data_end), training at the
    earlier cutoffs <= data_end - 2H (newest first, at most `max_train_snapshots`), so
    no training label window overlaps the validation one. Scoring at data_end."""
    data_end = pd.Timestamp(data_end)
    h = pd.Timedelta(days=int(horizon_days))
    cutoffs = sorted({pd.Timestamp(c) for c in available_cutoffs})
    validation = data_end - h
    if validation not in cutoffs:
        raise ValueError(
            f"no feature snapshot at the validation cutoff {validation.date()} "
            f"(data end {data_end.date()} - {horizon_days} days); rebuild ml_member_features"
        )
    train = [c for c in cutoffs if c <= validation - h][::-1][:max_train_snapshots]
    if not train:
        raise ValueError(
            f"no feature snapshot on or before {(validation - h).date()} to train on: "
            f"need at least 2 x {horizon_days} days of history"
        )
    return TimeSplit(sorted(train), validation, data_end, int(horizon_days))


def labelled_frame(features: pd.DataFrame, purchases: pd.DataFrame, cutoffs, horizon_days: int) -> pd.DataFrame:
    """Active members' feature rows at the given cutoffs with their churn label."""
    frames = []
    for cutoff in cutoffs:
        rows = features[(pd.to_datetime(features["cutoff_date"]) == pd.Timestamp(cutoff)) & features["is_active"]]
        rows = rows.copy()
        labels = churn_labels(purchases, rows["member_id"], cutoff, horizon_days)
        rows["churned"] = labels.to_numpy()
        frames.append(rows)
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def matrix(frame: pd.DataFrame, columns=FEATURES) -> np.ndarray:
    # A private float copy (pandas 3 may return read-only arrays).
    return np.array(frame[list(columns)].astype(float).to_numpy(), dtype=float, copy=True)


class RecencyBaseline:
    """Logistic regression on log(1 + recency_days): the bar the model must clear."""

    def fit(self, frame: pd.DataFrame, y) -> RecencyBaseline:
        self.model = LogisticRegression().fit(self._x(frame), np.asarray(y))
        return self

    @staticmethod
    def _x(frame: pd.DataFrame) -> np.ndarray:
        r = np.array(frame[BASELINE_FEATURE].astype(float).to_numpy(), dtype=float, copy=True)
        return np.log1p(np.nan_to_num(r, nan=365.0)).reshape(-1, 1)

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        return self.model.predict_proba(self._x(frame))[:, 1]


@dataclass
class ChurnModel:
    """Calibrated HistGradientBoostingClassifier over FEATURES."""

    estimator: CalibratedClassifierCV
    features: list[str]
    horizon_days: int

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        return self.estimator.predict_proba(matrix(frame, self.features))[:, 1]


def fit_churn_model(frame: pd.DataFrame, horizon_days: int, random_state: int = 0) -> ChurnModel:
    y = frame["churned"].to_numpy().astype(int)
    if len(np.unique(y)) < 2:
        raise ValueError("training labels have one class only: cannot train a churn model")
    base = HistGradientBoostingClassifier(
        max_iter=200,
        learning_rate=0.05,
        max_leaf_nodes=15,
        min_samples_leaf=20,
        l2_regularization=1.0,
        random_state=random_state,
    )
    folds = int(max(2, min(3, np.bincount(y).min())))
    estimator = CalibratedClassifierCV(base, method="sigmoid", cv=folds)
    estimator.fit(matrix(frame), y)
    return ChurnModel(estimator, list(FEATURES), int(horizon_days))


def lift_at(y, score, fraction: float = 0.1) -> float:
    """Churn rate among the top `fraction` scores / overall churn rate."""
    y, score = np.asarray(y, dtype=float), np.asarray(score, dtype=float)
    n = max(1, int(np.ceil(len(y) * fraction)))
    top = np.argsort(-score, kind="stable")[:n]
    base = y.mean()
    return float(y[top].mean() / base) if base > 0 else float("nan")


def evaluate(y, score, n_bins: int = 10) -> dict:
    y = np.asarray(y, dtype=int)
    score = np.asarray(score, dtype=float)
    out = {
        "n": int(len(y)),
        "churn_rate": float(y.mean()) if len(y) else float("nan"),
        "roc_auc": float("nan"),
        "pr_auc": float("nan"),
        "lift_top_decile": lift_at(y, score, 0.1),
        "brier": float(brier_score_loss(y, score)) if len(y) else float("nan"),
        "calibration": [],
    }
    if len(np.unique(y)) == 2:
        out["roc_auc"] = float(roc_auc_score(y, score))
        out["pr_auc"] = float(average_precision_score(y, score))
        frac_pos, mean_pred = calibration_curve(y, score, n_bins=n_bins, strategy="quantile")
        out["calibration"] = [
            {"mean_predicted": float(p), "observed_rate": float(o)} for p, o in zip(mean_pred, frac_pos, strict=True)
        ]
    return out


def beats_baseline(metrics: dict, baseline: dict) -> tuple[bool, str]:
    """The promotion gate: ROC-AUC and PR-AUC on the validation split at least the
    recency baseline's."""
    m_auc, b_auc = metrics.get("roc_auc"), baseline.get("roc_auc")
    m_pr, b_pr = metrics.get("pr_auc"), baseline.get("pr_auc")
    if any(v is None or np.isnan(v) for v in (m_auc, b_auc, m_pr, b_pr)):
        return False, "validation metrics are undefined (one class only?)"
    ok = m_auc >= b_auc and m_pr >= b_pr
    return ok, (f"ROC-AUC {m_auc:.4f} vs baseline {b_auc:.4f}; PR-AUC {m_pr:.4f} vs baseline {b_pr:.4f}")
