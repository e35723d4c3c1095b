"""`mallcrm ml clv` on a tiny purchases CSV."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
from click.testing import CliRunner

from cli import main


def test_clv_command_writes_params_and_predictions(tmp_path):
    rng = np.random.default_rng(1)
    rows = []
    for c in range(60):
        day = int(rng.integers(0, 60))
        while day < 200:
            when = (pd.Timestamp("2025-01-01") + pd.Timedelta(days=day)).date()
            rows.append((f"C{c:03d}", when, round(rng.gamma(3, 20), 2)))
            day += int(rng.integers(3, 60))
    csv = tmp_path / "tx.csv"
    pd.DataFrame(rows, columns=["customer_id", "date", "amount"]).to_csv(csv, index=False)
    out = tmp_path / "out"
    result = CliRunner().invoke(
        main,
        [
            "ml",
            "clv",
            "--transactions",
            str(csv),
            "--calibration-end",
            "2025-05-31",
            "--output",
            str(out),
            "--horizon-days",
            "60",
        ],
    )
    assert result.exit_code == 0, result.output
    params = json.loads((out / "params.json").read_text())
    assert set(params["bgnbd"]) >= {"r", "alpha", "a", "b", "log_likelihood"}
    assert set(params["gamma_gamma"]) >= {"p", "q", "gamma", "log_likelihood"}
    pred = pd.read_csv(out / "predictions.csv")
    assert list(pred.columns) == [
        "customer_id",
        "frequency",
        "recency",
        "T",
        "p_alive",
        "expected_purchases",
        "expected_value",
    ]
    assert pred["customer_id"].is_unique and pred["p_alive"].between(0, 1).all()


def test_clv_command_rejects_missing_columns(tmp_path):
    csv = tmp_path / "bad.csv"
    csv.write_text("customer,date,amount\nA,2025-01-01,3\n")
    result = CliRunner().invoke(
        main,
        ["ml", "clv", "--transactions", str(csv), "--calibration-end", "2025-05-31", "--output", str(tmp_path / "o")],
    )
    assert result.exit_code != 0 and "customer_id" in result.output
