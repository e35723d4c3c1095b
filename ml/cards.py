"""Model cards (`card.md`) rendered from a version's metrics.

matplotlib is not among the project's pinned dependencies, so the cards carry the
numbers behind the usual plots (ROC summary, calibration curve, lift, predicted vs
actual value by decile) as tables; PNG plots would need matplotlib.
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


CALIBRATION_HEADERS = ['bin', 'model: mean predicted', 'model: observed churn',
                       'baseline: mean predicted', 'baseline: observed churn']


def churn_card(m: dict) -> str:
    v, b, s = m["validation"], m["baseline"], m["split"]
    calib_rows = []
    for i in range(max(len(v["calibration"]), len(b["calibration"]))):
        mv = v["calibration"][i] if i < len(v["calibration"]) else {}
        bv = b["calibration"][i] if i < len(b["calibration"]) else {}
        calib_rows.append([i + 1, _f(mv.get("mean_predicted"), 3), _f(mv.get("observed_rate"), 3),
                           _f(bv.get("mean_predicted"), 3), _f(bv.get("observed_rate"), 3)])
    return f"""# Churn model card

**Definition.** A member active at cutoff t0 (a sale in the 365 days up to t0) churns when
they make no purchase in (t0, t0 + {s['horizon_days']} days]. Non-contractual retail churn
(design.md); trained and evaluated on time splits only.

**Algorithm.** {m['algorithm']}, over the point-in-time features of
`ml_features.ml_member_features` (dbt). The artifact is refit on the training and
validation snapshots together; the metrics below come from the model trained without
the validation window.

## Data window

| split | cutoffs | label window |
|---|---|---|
| train | {', '.join(s['train_cutoffs'])} | each cutoff + {s['horizon_days']} days |
| validation | {s['validation_cutoff']} | ({s['validation_cutoff']}, {s['score_cutoff']}] |
| scoring | {s['score_cutoff']} | next {s['horizon_days']} days |

Training rows: {m['train_rows']} (churn rate {_f(m['train_churn_rate'], 3)}); validation rows:
{v['n']} (churn rate {_f(v['churn_rate'], 3)}).

## Validation metrics vs the recency-only baseline

Baseline: {b['name']}.

{_table(['metric', 'model', 'baseline'], [
    ['ROC-AUC', _f(v['roc_auc']), _f(b['roc_auc'])],
    ['PR-AUC (average precision)', _f(v['pr_auc']), _f(b['pr_auc'])],
    ['lift in the top decile', _f(v['lift_top_decile'], 2), _f(b['lift_top_decile'], 2)],
    ['Brier score', _f(v['brier']), _f(b['brier'])],
])}

**Promotion gate:** {m['gate']['rule']} — {'PASSED' if m['gate']['passed'] else 'FAILED'}
({m['gate']['detail']}).

## Calibration curve (validation, quantile bins)

{_table(CALIBRATION_HEADERS, calib_rows)}

Plots (ROC, calibration, lift) need matplotlib, which is not a project dependency; the
tables above hold their numbers.

## Features

{', '.join('`' + f + '`' for f in m['features'])}
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
{m['horizon_days']} days (undiscounted, net revenue of sales, CNY). A gradient-boosting
challenger on the point-in-time features is kept only if it beats the probabilistic
model's holdout MAE.

**Winner: `{m['winner']}`.**

## Data window

Calibration: purchases up to {m['calibration_end']}; holdout: ({m['calibration_end']}, {m['holdout_end']}]
({m['customers']} customers). The scoring parameters below are refit on all purchases
up to {m['holdout_end']}.

## Holdout (predicted vs actual value)

{_table(['metric', 'BG/NBD + Gamma-Gamma', 'gradient boosting'], rows)}

{same}

Naive baseline (next horizon's spend = the previous horizon's): MAE {_f(m['baseline']['mae'], 2)};
predicting zero: MAE {_f(m['baseline']['zero_prediction_mae'], 2)}.
Purchases: predicted {_f(p['predicted_purchases_total'], 1)} vs actual {_f(p['actual_purchases_total'], 1)}
(MAE per customer {_f(p['purchases_mae'], 3)}).

**Promotion gate:** {m['gate']['rule']} — {'PASSED' if m['gate']['passed'] else 'FAILED'}.

Predicted vs actual value by predicted decile: `holdout_deciles.json`. Plots need
matplotlib, which is not a project dependency.

## Parameters

{_table(['fit', 'r', 'alpha', 'a', 'b', 'log-likelihood', 'customers'], [
    ['holdout calibration', *_bg_row(hbg)],
    ['scoring (all data)', *_bg_row(bg)],
])}

{_table(['fit', 'p', 'q', 'gamma', 'log-likelihood', 'repeat customers'], [
    ['holdout calibration', *_gg_row(hgg)],
    ['scoring (all data)', *_gg_row(gg)],
])}
"""


def _bg_row(p: dict) -> list:
    return [_f(p["r"]), _f(p["alpha"]), _f(p["a"]), _f(p["b"]), _f(p["log_likelihood"], 1), p["n_customers"]]


def _gg_row(p: dict) -> list:
    return [_f(p["p"]), _f(p["q"]), _f(p["gamma"], 2), _f(p["log_likelihood"], 1), p["n_customers"]]
