"""Model cards (`card.md`) rendered from a version's metrics.

The cards carry the numbers as tables and reference the PNG plots (`ml/plots.py`)
written beside them in the version folder.
"""

from __future__ import annotations


def _f(value, digits: int = 4) -> str:
    if value is None:
        return "—"
    try:
        if value != value:  # NaN
            return "n/a"
        return f"{value:.{digits}f}"
    except (TypeError, ValueError):
        return str(value)


def _table(headers: list[str], rows: list[list]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(lines)


CALIBRATION_HEADERS = [
    "bin",
    "model: mean predicted",
    "model: observed churn",
    "baseline: mean predicted",
    "baseline: observed churn",
]


def churn_card(m: dict) -> str:
    v, b, s = m["validation"], m["baseline"], m["split"]
    calib_rows = []
    for i in range(max(len(v["calibration"]), len(b["calibration"]))):
        mv = v["calibration"][i] if i < len(v["calibration"]) else {}
        bv = b["calibration"][i] if i < len(b["calibration"]) else {}
        calib_rows.append(
            [
                i + 1,
                _f(mv.get("mean_predicted"), 3),
                _f(mv.get("observed_rate"), 3),
                _f(bv.get("mean_predicted"), 3),
                _f(bv.get("observed_rate"), 3),
            ]
        )
    return f"""# Churn model card

**Definition.** A member active at cutoff t0 (a sale in the 365 days up to t0) churns when
they make no purchase in (t0, t0 + {s["horizon_days"]} days]: non-contractual retail churn, where
no cancellation is ever recorded (docs/ml.md). Trained and evaluated on time splits only.

**Algorithm.** {m["algorithm"]}, over the point-in-time features of
`ml_features.ml_member_features` (dbt). The artifact is refit on the training and
validation snapshots together; the metrics below come from the model trained without
the validation window.

## Data window

| split | cutoffs | label window |
|---|---|---|
| train | {", ".join(s["train_cutoffs"])} | each cutoff + {s["horizon_days"]} days |
| validation | {s["validation_cutoff"]} | ({s["validation_cutoff"]}, {s["score_cutoff"]}] |
| scoring | {s["score_cutoff"]} | next {s["horizon_days"]} days |

Training rows: {m["train_rows"]} (churn rate {_f(m["train_churn_rate"], 3)}); validation rows:
{v["n"]} (churn rate {_f(v["churn_rate"], 3)}).

## Validation metrics vs the recency-only baseline

Baseline: {b["name"]}.

{
        _table(
            ["metric", "model", "baseline"],
            [
                ["ROC-AUC", _f(v["roc_auc"]), _f(b["roc_auc"])],
                ["PR-AUC (average precision)", _f(v["pr_auc"]), _f(b["pr_auc"])],
                ["lift in the top decile", _f(v["lift_top_decile"], 2), _f(b["lift_top_decile"], 2)],
                ["Brier score", _f(v["brier"]), _f(b["brier"])],
            ],
        )
    }

**Promotion gate:** {m["gate"]["rule"]} — {"PASSED" if m["gate"]["passed"] else "FAILED"}
({m["gate"]["detail"]}).

## Calibration curve (validation, quantile bins)

{_table(CALIBRATION_HEADERS, calib_rows)}

![ROC](roc.png) ![calibration](calibration.png) ![lift by decile](lift.png)

## Features

{", ".join("`" + f + "`" for f in m["features"])}
"""


def clv_card(m: dict) -> str:
    p, ml = m["bgnbd_gamma_gamma"], m.get("gradient_boosting")
    bg, gg = m["params"]["bgnbd"], m["params"]["gamma_gamma"]
    hbg = m["params"]["holdout_fit"]["bgnbd"]
    hgg = m["params"]["holdout_fit"]["gamma_gamma"]
    rows = [
        ["MAE of holdout spend (CNY)", _f(p["mae"], 2), _f(ml["mae"], 2) if ml else "—"],
        ["RMSE", _f(p["rmse"], 2), _f(ml["rmse"], 2) if ml else "—"],
        ["Spearman rank correlation", _f(p["spearman"], 3), _f(ml["spearman"], 3) if ml else "—"],
        ["predicted total (CNY)", _f(p["predicted_total"], 0), _f(ml["predicted_total"], 0) if ml else "—"],
        ["actual total (CNY)", _f(p["actual_total"], 0), _f(ml["actual_total"], 0) if ml else "—"],
    ]
    if ml:
        same = f"BG/NBD + Gamma-Gamma MAE on the challenger's customers: {_f(ml['bgnbd_mae_same_customers'], 2)}."
    else:
        same = m.get("gradient_boosting_note", "")
    return f"""# Customer lifetime value model card

**Model.** BG/NBD (Fader, Hardie & Lee 2005) for repeat purchase days, Gamma-Gamma
(Fader, Hardie & Lee 2005b) for spend per purchase day, fitted by maximum likelihood
(`ml/clv.py`, scipy). Value = expected purchases x expected average spend over the next
{m["horizon_days"]} days (undiscounted, net revenue of sales, CNY). A gradient-boosting
challenger on the point-in-time features is kept only if it beats the probabilistic
model's holdout MAE.

**Winner: `{m["winner"]}`.**

## Data window

Calibration: purchases up to {m["calibration_end"]}; holdout: ({m["calibration_end"]}, {m["holdout_end"]}]
({m["customers"]} customers). The scoring parameters below are refit on all purchases
up to {m["holdout_end"]}.

## Holdout (predicted vs actual value)

{_table(["metric", "BG/NBD + Gamma-Gamma", "gradient boosting"], rows)}

{same}

Naive baseline (next horizon's spend = the previous horizon's): MAE {_f(m["baseline"]["mae"], 2)};
predicting zero: MAE {_f(m["baseline"]["zero_prediction_mae"], 2)}.
Purchases: predicted {_f(p["predicted_purchases_total"], 1)} vs actual {_f(p["actual_purchases_total"], 1)}
(MAE per customer {_f(p["purchases_mae"], 3)}).

**Promotion gate:** {m["gate"]["rule"]} — {"PASSED" if m["gate"]["passed"] else "FAILED"}.

**Winner rule:** {m.get("winner_rule", "lower holdout MAE")}.{_bias_line(ml)}

Predicted (BG/NBD + Gamma-Gamma) vs actual value by predicted decile (numbers in
`holdout_deciles.json`):

![predicted vs actual value](predicted_vs_actual.png)

## Parameters

{
        _table(
            ["fit", "r", "alpha", "a", "b", "log-likelihood", "customers"],
            [
                ["holdout calibration", *_bg_row(hbg)],
                ["scoring (all data)", *_bg_row(bg)],
            ],
        )
    }

{
        _table(
            ["fit", "p", "q", "gamma", "log-likelihood", "repeat customers"],
            [
                ["holdout calibration", *_gg_row(hgg)],
                ["scoring (all data)", *_gg_row(gg)],
            ],
        )
    }
"""


def _bias_line(ml: dict | None) -> str:
    if not ml or "total_bias" not in ml:
        return ""
    return (
        f" Gradient boosting's holdout total is {_f(ml['total_bias'] * 100, 1)} % off the actual "
        f"({'within' if ml['within_total_bias_tolerance'] else 'outside'} the tolerance)."
    )


def _bg_row(p: dict) -> list:
    return [_f(p["r"]), _f(p["alpha"]), _f(p["a"]), _f(p["b"]), _f(p["log_likelihood"], 1), p["n_customers"]]


def _gg_row(p: dict) -> list:
    return [_f(p["p"]), _f(p["q"]), _f(p["gamma"], 2), _f(p["log_likelihood"], 1), p["n_customers"]]


def segmentation_card(m: dict, profile) -> str:
    by_k = _table(["k", "silhouette"], [[k, _f(v)] for k, v in m["silhouette_by_k"].items()])
    segs = _table(
        ["id", "name", "members", "strongest traits (feature: cluster mean)"],
        [[s["segment_id"], s["segment_name"], s["members"], s["profile"]] for s in m["segments"]],
    )
    return f"""# Customer segmentation model card

**Model.** {m["algorithm"]} over the standardized behavioural shares of
`{"ml_features.ml_member_segment_features"}` (dbt, cutoff {m["cutoff_date"]}): category mix,
time of day, discount sensitivity and family membership. {m["members"]} members.
k is the best silhouette over {", ".join(m["silhouette_by_k"])}; chosen **k = {m["k"]}**.

**Names** come from rules over each centroid (`ml/segmentation.py`): the strongest
trait at least 0.5 population standard deviations above the mean names the cluster
(a category share -> e.g. "fashion lovers", discount or coupon share -> "discount seekers",
family group or kids share -> "family shoppers", a time of day -> "evening shoppers");
no such trait -> "all-round shoppers"; a clash adds the second trait.

## Silhouette

Chosen silhouette {_f(m["silhouette"])}; baseline ({m["baseline"]["name"]}):
{_f(m["baseline"]["silhouette"])}.

![silhouette by k](silhouette.png)

{by_k}

**Promotion gate:** {m["gate"]["rule"]} — {"PASSED" if m["gate"]["passed"] else "FAILED"} ({m["gate"]["detail"]}).

## Segments

{segs}

![segment profiles](profile.png)

Centroid means in original units: `profile.csv`.

## Features

{", ".join("`" + f + "`" for f in m["features"])}
"""


def basket_card(m: dict, rules) -> str:
    rows = []
    for level, s in m["levels"].items():
        rows.append(
            [
                level,
                s["baskets"],
                s["items"],
                _f(s["min_support"], 5),
                s["frequent_itemsets"],
                s["rules"],
                s["rules_lift_above_1"],
                _f(s["holdout_mean_lift_top"], 3),
            ]
        )
    top = _table(
        ["level", "antecedents", "consequents", "support", "confidence", "lift"],
        [
            [r.level, r.antecedents, r.consequents, _f(r.support, 4), _f(r.confidence, 3), _f(r.lift, 2)]
            for r in rules.groupby("level").head(5).itertuples()
        ],
    )
    w = m["window"]
    return f"""# Basket rules model card

**Model.** {m["algorithm"]} on a sparse one-hot basket matrix, two levels:
`category` = product categories in one shopping trip (a member's receipts of one day;
an anonymous receipt is its own trip), so rules cross stores; `sku` = products on one
receipt. Itemsets of at most {m["max_len"]} items seen in at least {m["min_baskets"]} baskets;
rules with confidence >= {m["min_confidence"]}. Baskets with one item are left out.

## Data window

Mining: sales in ({w["start_exclusive"]}, {w["holdout_start_exclusive"]}]; holdout:
({w["holdout_start_exclusive"]}, {w["end"]}] (each top rule's lift re-measured there).
The rules written back (`ml_scores.basket_rules`, top {m["top_rules"]} with lift > 1) are mined
again on the whole window.

{
        _table(
            [
                "level",
                "baskets",
                "items",
                "min support",
                "frequent itemsets",
                "rules",
                "rules with lift > 1",
                "top rules: mean holdout lift",
            ],
            rows,
        )
    }

Baseline: independence (lift 1). **Promotion gate:** {m["gate"]["rule"]} —
{"PASSED" if m["gate"]["passed"] else "FAILED"} ({m["gate"]["detail"]}).

## Top rules per level

{top}

All written rules: `rules.csv`.
"""


def recommendations_card(m: dict) -> str:
    v, w = m["validation"], m["window"]
    return f"""# Recommendations model card

**Model.** {m["algorithm"]}: cosine similarity between products over the binary member x
product matrix (scipy.sparse), the {v["neighbours"]} most similar neighbours kept per
product; a member's score for a product is the sum of its similarities to the products
they bought. Top {v["k"]} per member, **excluding products the member already bought**.

## Evaluation (time holdout)

Trained on sales in ({w["start_exclusive"]}, {w["holdout_start_exclusive"]}]; judged on
({w["holdout_start_exclusive"]}, {w["end"]}]: a hit is a member whose top {v["k"]} holds a
product they bought for the first time in the holdout. {v["members_evaluated"]} members
with such a purchase; {v["items"]} products, {v["train_members"]} training members.

{
        _table(
            ["model", f"hit rate @ {v['k']}"],
            [["item-based CF", _f(v["hit_rate"])], [v["baseline"]["name"], _f(v["baseline"]["hit_rate"])]],
        )
    }

![hit rate](hit_rate.png)

**Promotion gate:** {m["gate"]["rule"]} — {"PASSED" if m["gate"]["passed"] else "FAILED"} ({m["gate"]["detail"]}).
The scoring artifact is refit on the whole window.
"""


def sample_section(m: dict) -> str:
    """'## Training sample': what each fit used (ml/sampling.py; all of it below the caps)."""
    rows = []
    for key in ["sample", *sorted(k for k in m if k.endswith("_sample"))]:
        s = m.get(key)
        if not isinstance(s, dict) or "used" not in s:
            continue
        state = f"seeded sample (seed {s['seed']})" if s["sampled"] else "all"
        rows.append([key, s["unit"], f"{s['total']:,}", f"{s['used']:,}", f"{s['cap']:,}", state])
    if not rows:
        return ""
    table = _table(["fit", "unit", "available", "used", "cap", "drawn"], rows)
    return (
        f"\n\n## Training sample\n\nAbove its cap a fit uses a seeded sample; scoring covers every member.\n\n{table}\n"
    )
