"""The one list of ML models: what each trains, scores and writes, and what it reads.

The CLI (`mallcrm ml`), the Dagster assets (orchestration/ml.py), the demo and the bench
all iterate `MODELS`; adding a model here adds it everywhere. `train_model` trains one,
or skips it when its training fingerprint is unchanged (ml/registry.py).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd

from mallcrm.core.settings import Settings
from ml import behaviour, pipeline, sampling, uplift
from ml.registry import Registry, training_fingerprint

Trainer = Callable[..., pipeline.TrainResult]  # (settings, registry, promote=...) -> TrainResult
Scorer = Callable[[Settings, Registry], pd.DataFrame]

SCORES_SCHEMA = pipeline.SCORES_SCHEMA


@dataclass(frozen=True)
class ModelSpec:
    name: str
    title: str  # for help texts and asset descriptions
    train: Trainer
    score: Scorer
    score_table: str  # in schema ml_scores, read by the member marts as a dbt source
    reads: tuple[str, ...]  # warehouse relations (schema.table) the model trains and scores on
    # SQL returning (rows, duplicate keys, out-of-range values) over the score table {t}
    score_check_sql: str
    card_metrics: Callable[[dict], dict]  # headline metrics of a candidate, for the Dagster UI

    @property
    def score_relation(self) -> str:
        return f"{SCORES_SCHEMA}.{self.score_table}"

    def training_settings(self) -> dict:
        """The settings a training run uses: the trainer's own defaults (window, snapshots)
        and the sampling caps and seed (ml/sampling.py); the rest is code (ml/)."""
        defaults = {
            name: p.default
            for name, p in inspect.signature(self.train).parameters.items()
            if p.default is not inspect.Parameter.empty and name not in ("registry", "promote")
        }
        caps = {name: getattr(sampling, name) for name in dir(sampling) if name == "SEED" or name.startswith("MAX_")}
        return {"model": self.name, "trainer": f"{self.train.__module__}.{self.train.__qualname__}", **defaults, **caps}


def _sample_metrics(m: dict) -> dict:
    """The training sample's size (ml/sampling.py): what the fit used of what there was."""
    s = m.get("sample") or {}
    if "used" not in s:
        return {}
    return {"sample_used": int(s["used"]), "sample_total": int(s["total"]), "sampled": bool(s["sampled"])}


def _gate_detail(m: dict) -> dict:
    return {"detail": m["gate"]["detail"], **_sample_metrics(m)}


def _churn_metrics(m: dict) -> dict:
    return {
        **_sample_metrics(m),
        "roc_auc": m["validation"]["roc_auc"],
        "baseline_roc_auc": m["baseline"]["roc_auc"],
        "pr_auc": m["validation"]["pr_auc"],
        "baseline_pr_auc": m["baseline"]["pr_auc"],
        "lift_top_decile": m["validation"]["lift_top_decile"],
    }


def _clv_metrics(m: dict) -> dict:
    return {
        **_sample_metrics(m),
        "winner": m["winner"],
        "bgnbd_holdout_mae": m["bgnbd_gamma_gamma"]["mae"],
        "naive_baseline_mae": m["baseline"]["mae"],
    }


def _uplift_metrics(m: dict) -> dict:
    """Holdout Qini of the chosen learner, every learner and both baselines."""
    return {
        **_sample_metrics(m),
        "learner": m["learner"] or "none (not evaluated)",
        "qini": m["test"]["qini"],
        **{f"qini_{k}": v["qini"] for k, v in m["learners_test"].items()},
        "qini_churn_heuristic": m["churn_heuristic"]["qini"],
        "qini_random_mean": m["random"]["qini"],
        "qini_random_p95": m["random"]["qini_p95"],
    }


FEATURES = "ml_features.ml_member_features"
TRANSACTIONS = "marts.fct_transactions"
SALES_LINES = "marts.fct_sales_lines"

MODELS: tuple[ModelSpec, ...] = (
    ModelSpec(
        name=pipeline.CLV,
        title="customer lifetime value (BG/NBD + Gamma-Gamma, gradient-boosting challenger)",
        train=pipeline.train_clv,
        score=pipeline.score_clv,
        score_table="clv_scores",
        reads=(FEATURES, TRANSACTIONS),
        score_check_sql="select count(*), count(*) - count(distinct member_id), count(*) filter (where "
        "predicted_clv is null or predicted_clv < 0 or predicted_clv > 1e12) from {t}",
        card_metrics=_clv_metrics,
    ),
    ModelSpec(
        name=pipeline.CHURN,
        title="churn (calibrated gradient boosting on time splits)",
        train=pipeline.train_churn,
        score=pipeline.score_churn,
        score_table="churn_scores",
        reads=(FEATURES, TRANSACTIONS),
        score_check_sql="select count(*), count(*) - count(distinct member_id), count(*) filter (where "
        "churn_probability is null or churn_probability < 0 or churn_probability > 1) from {t}",
        card_metrics=_churn_metrics,
    ),
    ModelSpec(
        name=behaviour.SEGMENTATION,
        title="customer segments (K-means)",
        train=behaviour.train_segmentation,
        score=behaviour.score_segmentation,
        score_table="member_segments",
        reads=("ml_features.ml_member_segment_features",),
        score_check_sql="select count(*), count(*) - count(distinct member_id), count(*) filter (where "
        "segment_name is null or segment_id < 0) from {t}",
        card_metrics=_gate_detail,
    ),
    ModelSpec(
        name=behaviour.BASKET,
        title="basket rules (FP-Growth)",
        train=behaviour.train_basket_rules,
        score=behaviour.score_basket_rules,
        score_table="basket_rules",
        reads=(SALES_LINES,),
        score_check_sql="select count(*), count(*) - count(distinct (level, antecedents, consequents)), "
        "count(*) filter (where lift <= 1 or confidence not between 0 and 1 or support not between 0 and 1) "
        "from {t}",
        card_metrics=_gate_detail,
    ),
    ModelSpec(
        name=behaviour.RECOMMENDATIONS,
        title="product recommendations (item-based collaborative filtering)",
        train=behaviour.train_recommendations,
        score=behaviour.score_recommendations,
        score_table="member_recommendations",
        reads=(SALES_LINES,),
        score_check_sql="select count(*), count(*) - count(distinct (member_id, sku)), count(*) filter "
        "(where rank < 1 or rank > 10 or score is null) from {t}",
        card_metrics=_gate_detail,
    ),
    ModelSpec(
        name=uplift.UPLIFT,
        title="campaign uplift (T-/X-learner by forward-chaining validation, stratified Qini on later mall campaigns)",
        train=uplift.train_uplift,
        score=uplift.score_uplift,
        score_table="uplift_scores",
        reads=(FEATURES, uplift.ASSIGNMENTS_TABLE, uplift.IDENTITY_TABLE, uplift.TRANSACTIONS_TABLE),
        score_check_sql="select count(*), count(*) - count(distinct member_id), count(*) filter (where "
        "uplift_score is null or uplift_score not between -1 and 1 or treated_response_probability not between 0 "
        "and 1 or control_response_probability not between 0 and 1) from {t}",
        card_metrics=_uplift_metrics,
    ),
)

MODEL_NAMES: tuple[str, ...] = tuple(m.name for m in MODELS)


def get(name: str) -> ModelSpec:
    for spec in MODELS:
        if spec.name == name:
            return spec
    raise KeyError(f"unknown model {name!r}; the models are: {', '.join(MODEL_NAMES)}")


def train_model(
    settings: Settings, registry: Registry, name: str, promote: bool = True, force: bool = False
) -> pipeline.TrainResult:
    """Train model `name` and record its fingerprint, unless the promoted (or newest)
    version was trained on the same data with the same settings and code: then that
    version is returned, not retrained and not promoted again (`force` retrains anyway).
    Called by pipeline.steps.train, so the CLI, Dagster, the demo and the bench agree."""
    spec = get(name)
    fingerprint = training_fingerprint(settings, spec.reads, spec.training_settings())
    same = None if force else registry.unchanged(name, fingerprint)
    if same is not None:
        current = registry.current(name)
        promoted = current is not None and current.version == same.version
        reason = (
            f"unchanged, not retrained: same data, settings and code as {same.version} "
            f"({'the promoted version' if promoted else 'not promoted'})"
        )
        return pipeline.TrainResult(name, same, same.metrics, promoted, reason, retrained=False)
    result = spec.train(settings, registry, promote=promote)
    registry.save_fingerprint(result.version, fingerprint)
    return result
