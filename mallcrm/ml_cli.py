"""`mallcrm ml`: churn and lifetime-value models (ml/, docs/ml.md).

    mallcrm ml clv --transactions FILE --calibration-end DATE --output DIR
    mallcrm ml train     train churn + CLV on the warehouse, register, promote if better
    mallcrm ml score     write ml_scores.churn_scores / clv_scores with the promoted models
"""

from __future__ import annotations

import json
from pathlib import Path

import click


@click.group()
def ml() -> None:
    """Churn and customer-lifetime-value models (registry: MALLCRM_MODELS_DIR)."""


@ml.command("clv")
@click.option("--transactions", "transactions_file", required=True, type=click.Path(exists=True, path_type=Path),
              help="CSV with customer_id, date, amount: one row per purchase.")
@click.option("--calibration-end", required=True, help="Last day (YYYY-MM-DD) of the calibration period.")
@click.option("--output", required=True, type=click.Path(path_type=Path),
              help="Folder for params.json and predictions.csv.")
@click.option("--horizon-days", default=90, show_default=True, help="Prediction horizon in days.")
def clv_command(transactions_file: Path, calibration_end: str, output: Path, horizon_days: int) -> None:
    """Fit BG/NBD + Gamma-Gamma on a purchases CSV and predict each customer."""
    import pandas as pd

    from ml.clv import fit_clv

    df = pd.read_csv(transactions_file, dtype={"customer_id": str})
    missing = {"customer_id", "date", "amount"} - set(df.columns)
    if missing:
        raise click.UsageError(f"{transactions_file} lacks column(s): {', '.join(sorted(missing))}")
    fit = fit_clv(df, calibration_end, horizon_days)
    output.mkdir(parents=True, exist_ok=True)
    (output / "params.json").write_text(json.dumps(fit.params(), indent=2) + "\n")
    cols = ["frequency", "recency", "T", "p_alive", "expected_purchases", "expected_value"]
    fit.predictions[cols].reset_index().to_csv(output / "predictions.csv", index=False)
    bg, gg = fit.bgnbd, fit.gamma_gamma
    click.echo(f"BG/NBD r={bg.r:.4f} alpha={bg.alpha:.4f} a={bg.a:.4f} b={bg.b:.4f} (LL {bg.log_likelihood:.2f}, "
               f"{bg.n_customers} customers)")
    click.echo(f"Gamma-Gamma p={gg.p:.4f} q={gg.q:.4f} gamma={gg.gamma:.4f} (LL {gg.log_likelihood:.2f}, "
               f"{gg.n_customers} repeat customers)")
    click.echo(f"wrote {output / 'params.json'} and {output / 'predictions.csv'}")


MODELS = ["clv", "churn", "segmentation", "basket_rules", "recommendations"]


def _trainers():
    from ml import behaviour, pipeline

    return {"clv": pipeline.train_clv, "churn": pipeline.train_churn, **behaviour.TRAINERS}


def _scorers():
    from ml import behaviour, pipeline

    return {"clv": pipeline.score_clv, "churn": pipeline.score_churn, **behaviour.SCORERS}


@ml.command("train")
@click.option("--model", "models", multiple=True, type=click.Choice(MODELS),
              help="Only these models (default: all).")
@click.option("--no-promote", is_flag=True, help="Register the new versions without promoting them.")
def train_command(models: tuple[str, ...], no_promote: bool) -> None:
    """Train on the warehouse's ml_features; promote each model that passes its gate."""
    from mallcrm.settings import load_settings
    from ml.registry import Registry

    settings, registry = load_settings(), Registry()
    failed = False
    for name in models or MODELS:
        result = _trainers()[name](settings, registry, promote=not no_promote)
        state = "promoted" if result.promoted else "NOT promoted"
        failed |= not result.metrics["gate"]["passed"]
        click.echo(f"{name} {result.version.version}: {state} ({result.reason}) -> {result.version.path}")
    if failed:
        raise SystemExit(4)


@ml.command("score")
@click.option("--model", "models", multiple=True, type=click.Choice(MODELS),
              help="Only these models (default: all).")
def score_command(models: tuple[str, ...]) -> None:
    """Score with the promoted models into ml_scores.* (churn_scores, clv_scores,
    member_segments, basket_rules, member_recommendations)."""
    from mallcrm.settings import load_settings
    from ml.behaviour import SCORE_TABLES
    from ml.registry import Registry

    settings, registry = load_settings(), Registry()
    for name in models or MODELS:
        scores = _scorers()[name](settings, registry)
        version = scores["model_version"].iloc[0] if len(scores) else "-"
        table = SCORE_TABLES.get(name, f"{name}_scores")
        click.echo(f"ml_scores.{table}: {len(scores):,} row(s), model {version}")
