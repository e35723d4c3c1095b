"""`mallcrm ml`: train, score and the standalone CLV fit (ml/, docs/ml.md).

mallcrm ml train     train every model of ml.models on the warehouse, register, promote if better
mallcrm ml score     write ml_scores.* with the promoted models
mallcrm ml clv --transactions FILE --calibration-end DATE --output DIR
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click
import pandas as pd

from cli import exit_codes
from cli.common import progress, writing
from cli.common import settings as load_cli_settings
from mallcrm.core.lock import write_lock
from ml.clv import fit_clv
from ml.models import MODEL_NAMES, MODELS
from ml.registry import Registry
from pipeline import steps

_MODEL_LIST = "; ".join(f"{m.name}: {m.title} -> ml_scores.{m.score_table}" for m in MODELS)


@click.group(help=f"Train and score the models (registry: MALLCRM_MODELS_DIR). The models: {_MODEL_LIST}.")
def ml() -> None:
    pass


@ml.command("clv")
@click.option(
    "--transactions",
    "transactions_file",
    required=True,
    type=click.Path(exists=True, path_type=Path),
    help="CSV with customer_id, date, amount: one row per purchase.",
)
@click.option("--calibration-end", required=True, help="Last day (YYYY-MM-DD) of the calibration period.")
@click.option(
    "--output", required=True, type=click.Path(path_type=Path), help="Folder for params.json and predictions.csv."
)
@click.option("--horizon-days", default=90, show_default=True, help="Prediction horizon in days.")
def clv_command(transactions_file: Path, calibration_end: str, output: Path, horizon_days: int) -> None:
    """Fit BG/NBD + Gamma-Gamma on a purchases CSV and predict each customer."""
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
    click.echo(
        f"BG/NBD r={bg.r:.4f} alpha={bg.alpha:.4f} a={bg.a:.4f} b={bg.b:.4f} (LL {bg.log_likelihood:.2f}, "
        f"{bg.n_customers} customers)"
    )
    click.echo(
        f"Gamma-Gamma p={gg.p:.4f} q={gg.q:.4f} gamma={gg.gamma:.4f} (LL {gg.log_likelihood:.2f}, "
        f"{gg.n_customers} repeat customers)"
    )
    click.echo(f"wrote {output / 'params.json'} and {output / 'predictions.csv'}")


@ml.command("train")
@click.option(
    "--model", "models", multiple=True, type=click.Choice(MODEL_NAMES), help="Only these models (default: all)."
)
@click.option("--no-promote", is_flag=True, help="Register the new versions without promoting them.")
@click.option(
    "--force",
    is_flag=True,
    help="Retrain even a model whose data, settings and code are those of its promoted (or newest) version.",
)
def train_command(models: tuple[str, ...], no_promote: bool, force: bool) -> None:
    """Train on the warehouse's features; promote each model that passes its gate (exit 4 if one fails it;
    a model whose gate could not be evaluated for lack of data, e.g. uplift on a mall with too few campaigns,
    is reported but does not fail the command)."""
    settings = load_cli_settings()
    with writing(settings, "ml train"), write_lock(settings, "mallcrm ml train"):  # one lock for every model
        results = [
            result
            for name in progress(models or MODEL_NAMES, "training", unit="model")
            for result in steps.train(settings, [name], promote=not no_promote, force=force)
        ]
    failed = False
    for result in results:
        gate = result.metrics["gate"]
        evaluated = gate.get("evaluated", True)  # False: too little data to test the model at all
        state = "promoted" if result.promoted else "NOT promoted" if evaluated else "not evaluated"
        failed |= evaluated and not gate["passed"]
        click.echo(f"{result.model} {result.version.version}: {state} ({result.reason}) -> {result.version.path}")
    if failed:
        sys.exit(exit_codes.MODEL_NOT_PROMOTED)


@ml.command("complaint-root-causes")
def complaint_root_causes_command() -> None:
    """Root cause and terms of every complaint, from its scrubbed text, into ml_scores.complaint_root_causes."""
    settings = load_cli_settings()
    with writing(settings, "ml complaint-root-causes"):
        rows = steps.complaint_root_causes(settings)
    click.echo(f"ml_scores.complaint_root_causes: {rows:,} row(s); `mallcrm build -s source:ml_scores+` shows them")


@ml.command("score")
@click.option(
    "--model", "models", multiple=True, type=click.Choice(MODEL_NAMES), help="Only these models (default: all)."
)
def score_command(models: tuple[str, ...]) -> None:
    """Score with the promoted models into ml_scores.*; a trained model with no promoted version (its gate
    failed) is skipped with a message; exit 1 if a model was never trained."""
    settings = load_cli_settings()
    with writing(settings, "ml score"), write_lock(settings, "mallcrm ml score"):  # one lock for every model
        results = [
            result
            for name in progress(models or MODEL_NAMES, "scoring", unit="model")
            for result in steps.score(settings, [name])
        ]
    registry = Registry(settings.models_dir)
    missing = []
    for r in results:
        if r.model_version is not None:
            click.echo(f"{r.table}: {r.rows:,} row(s), model {r.model_version}")
        elif versions := registry.versions(r.model):
            detail = registry.get(r.model, versions[-1]).metrics["gate"].get("detail", "gate failed")
            click.echo(f"{r.table}: skipped, {r.model} has no promoted version ({versions[-1]}: {detail})")
        else:
            missing.append(r.model)
    if missing:
        raise click.ClickException(
            f"no trained version of {', '.join(missing)} in {settings.models_dir}: run `mallcrm ml train` first"
        )
