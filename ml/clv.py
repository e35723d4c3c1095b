"""Customer lifetime value: BG/NBD (purchase counts) + Gamma-Gamma (spend per purchase).

A compact scipy implementation of

* Fader, Hardie & Lee (2005), "Counting Your Customers the Easy Way: An Alternative to
  the Pareto/NBD Model", Marketing Science 24(2) — the BG/NBD model;
* Fader, Hardie & Lee (2005b), "RFM and CLV: Using Iso-Value Curves for Customer Base
  Analysis", JMR 42(4) — the Gamma-Gamma spend model;
* Fader & Hardie's note "Computing P(alive) Using the BG/NBD Model" (2008).

Why not a library: `lifetimes` (0.11.3, unmaintained since 2020) cannot even load its
datasets on our pins (it imports `pkg_resources`, gone from current setuptools) and pulls
`autograd`; `btyd` is a 2022 beta fork of it; `pymc-marketing` brings PyMC and a compiler
toolchain for what is a four-parameter maximum-likelihood fit. The formulas below are
short, and `tests/unit/test_ml_clv.py` pins them to the published CDNOW estimates.

Time is measured in days by default (any unit works as long as it is consistent). A
customer's summary, in the papers' notation:

* ``frequency`` x — number of *repeat* purchase periods (distinct days with a purchase,
  minus one);
* ``recency`` t_x — time from the first to the last purchase;
* ``T`` — time from the first purchase to the end of the calibration period;
* ``monetary_value`` — mean spend of the repeat purchases (0 when x = 0).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date

import numpy as np
import pandas as pd
from scipy import optimize, special

__all__ = [
    "BetaGeoModel",
    "GammaGammaModel",
    "rfm_summary",
    "holdout_actuals",
    "fit_clv",
    "bgnbd_log_likelihood",
    "gamma_gamma_log_likelihood",
]


def _arr(values) -> np.ndarray:
    # pandas 3 may hand out read-only views: always work on a private float copy.
    return np.array(values, dtype=float, copy=True)


# --------------------------------------------------------------------------- BG/NBD


def bgnbd_log_likelihood(params, frequency, recency, T) -> np.ndarray:
    """Per-customer log-likelihood of the BG/NBD model (FHL 2005, eq. 6).

    params = (r, alpha, a, b).
    """
    r, alpha, a, b = params
    x, t_x, T = _arr(frequency), _arr(recency), _arr(T)
    a1 = special.gammaln(r + x) - special.gammaln(r) + r * np.log(alpha)
    # ln B(a, b + x) - ln B(a, b)
    a2 = special.betaln(a, b + x) - special.betaln(a, b)
    a3 = -(r + x) * np.log(alpha + T)
    with np.errstate(divide="ignore", invalid="ignore"):
        # ln[a / (b + x - 1)] - (r + x) ln(alpha + t_x), only where x > 0
        a4 = np.where(
            x > 0,
            np.log(a) - np.log(np.maximum(b + x - 1, 1e-300)) - (r + x) * np.log(alpha + t_x),
            -np.inf,
        )
    return a1 + a2 + np.logaddexp(a3, a4)


@dataclass
class BetaGeoModel:
    """BG/NBD: Poisson purchasing while alive (rate ~ Gamma(r, alpha)); after each
    purchase the customer drops out with probability p ~ Beta(a, b)."""

    r: float = float("nan")
    alpha: float = float("nan")
    a: float = float("nan")
    b: float = float("nan")
    log_likelihood: float = float("nan")
    n_customers: int = 0
    converged: bool = False
    penalizer: float = 0.0

    @property
    def params(self) -> tuple[float, float, float, float]:
        return (self.r, self.alpha, self.a, self.b)

    def fit(self, frequency, recency, T, penalizer: float = 0.0) -> BetaGeoModel:
        x, t_x, T = _arr(frequency), _arr(recency), _arr(T)
        if len(x) == 0:
            raise ValueError("BG/NBD needs at least one customer")
        if np.any(t_x > T + 1e-9) or np.any(x < 0) or np.any((x == 0) & (t_x != 0)):
            raise ValueError("inconsistent summary: need 0 <= recency <= T, and recency = 0 when frequency = 0")
        # Scale time so that the optimiser starts near the optimum whatever the unit.
        scale = max(float(np.max(T)), 1e-9) / 10.0
        ts, txs = T / scale, t_x / scale

        def negll(log_params):
            p = np.exp(log_params)
            ll = bgnbd_log_likelihood(p, x, txs, ts).sum()
            return -(ll - penalizer * np.sum(p**2)) / len(x)

        best = None
        for start in ([0.0, 0.0, 0.0, 0.0], [np.log(0.5), np.log(2.0), np.log(0.5), np.log(2.0)]):
            res = optimize.minimize(negll, np.array(start), method="L-BFGS-B")
            res = optimize.minimize(
                negll, res.x, method="Nelder-Mead", options={"xatol": 1e-8, "fatol": 1e-12, "maxiter": 4000}
            )
            if best is None or res.fun < best.fun:
                best = res
        r, alpha_s, a, b = np.exp(best.x)
        self.r, self.alpha, self.a, self.b = float(r), float(alpha_s * scale), float(a), float(b)
        self.log_likelihood = float(bgnbd_log_likelihood(self.params, x, t_x, T).sum())
        self.n_customers = int(len(x))
        self.converged = bool(best.success)
        self.penalizer = penalizer
        return self

    def p_alive(self, frequency, recency, T) -> np.ndarray:
        """P(customer still alive at T | x, t_x, T)."""
        r, alpha, a, b = self.params
        x, t_x, T = _arr(frequency), _arr(recency), _arr(T)
        with np.errstate(divide="ignore", invalid="ignore"):
            log_ratio = (
                np.log(a) - np.log(np.maximum(b + x - 1, 1e-300)) + (r + x) * (np.log(alpha + T) - np.log(alpha + t_x))
            )
        return np.where(x > 0, 1.0 / (1.0 + np.exp(np.minimum(log_ratio, 700))), 1.0)

    def expected_purchases(self, t, frequency, recency, T) -> np.ndarray:
        """E[number of purchases in (T, T + t] | x, t_x, T] (FHL 2005, eq. 10)."""
        r, alpha, a, b = self.params
        x, t_x, T = _arr(frequency), _arr(recency), _arr(T)
        t = float(t)
        z = t / (alpha + T + t)
        hyp = special.hyp2f1(r + x, b + x, a + b + x - 1, z)
        first = (a + b + x - 1) / (a - 1)
        second = 1.0 - ((alpha + T) / (alpha + T + t)) ** (r + x) * hyp
        with np.errstate(divide="ignore", invalid="ignore"):
            denom = 1.0 + np.where(
                x > 0, (a / np.maximum(b + x - 1, 1e-300)) * ((alpha + T) / (alpha + t_x)) ** (r + x), 0.0
            )
        return np.maximum(first * second / denom, 0.0)

    def expected_purchases_new_customer(self, t) -> float:
        """E[X(t)] for a customer just acquired (FHL 2005, eq. 9)."""
        r, alpha, a, b = self.params
        t = float(t)
        hyp = special.hyp2f1(r, b, a + b - 1, t / (alpha + t))
        return float((a + b - 1) / (a - 1) * (1 - (alpha / (alpha + t)) ** r * hyp))

    def to_dict(self) -> dict:
        return asdict(self)


# --------------------------------------------------------------------------- Gamma-Gamma


def gamma_gamma_log_likelihood(params, frequency, monetary_value) -> np.ndarray:
    """Per-customer log-likelihood of the Gamma-Gamma spend model (FHL 2005b), for
    customers with x > 0 and mean spend m_x > 0. params = (p, q, gamma)."""
    p, q, v = params
    x, m = _arr(frequency), _arr(monetary_value)
    return (
        special.gammaln(p * x + q)
        - special.gammaln(p * x)
        - special.gammaln(q)
        + q * np.log(v)
        + (p * x - 1) * np.log(m)
        + p * x * np.log(x)
        - (p * x + q) * np.log(v + x * m)
    )


@dataclass
class GammaGammaModel:
    """Spend per transaction ~ Gamma(p, nu), nu ~ Gamma(q, gamma) across customers;
    independent of the purchase process."""

    p: float = float("nan")
    q: float = float("nan")
    gamma: float = float("nan")
    log_likelihood: float = float("nan")
    n_customers: int = 0
    converged: bool = False
    penalizer: float = 0.0

    @property
    def params(self) -> tuple[float, float, float]:
        return (self.p, self.q, self.gamma)

    def fit(self, frequency, monetary_value, penalizer: float = 0.0) -> GammaGammaModel:
        x, m = _arr(frequency), _arr(monetary_value)
        keep = (x > 0) & (m > 0)
        x, m = x[keep], m[keep]
        if len(x) < 2:
            raise ValueError("Gamma-Gamma needs at least two repeat customers with positive spend")
        scale = float(np.mean(m))

        def negll(log_params):
            p = np.exp(log_params)
            ll = gamma_gamma_log_likelihood(p, x, m / scale).sum()
            return -(ll - penalizer * np.sum(p**2)) / len(x)

        best = None
        for start in ([0.0, 0.0, 0.0], [np.log(5.0), np.log(3.0), np.log(2.0)]):
            res = optimize.minimize(negll, np.array(start), method="L-BFGS-B")
            res = optimize.minimize(
                negll, res.x, method="Nelder-Mead", options={"xatol": 1e-8, "fatol": 1e-12, "maxiter": 4000}
            )
            if best is None or res.fun < best.fun:
                best = res
        p, q, v = np.exp(best.x)
        self.p, self.q, self.gamma = float(p), float(q), float(v * scale)
        self.log_likelihood = float(gamma_gamma_log_likelihood(self.params, x, m).sum())
        self.n_customers = int(len(x))
        self.converged = bool(best.success)
        self.penalizer = penalizer
        return self

    def expected_average_spend(self, frequency, monetary_value) -> np.ndarray:
        """E[M | x, m_x]: a weighted mean of the population mean and the customer's own
        mean (FHL 2005b, eq. 5); the population mean for customers without repeats."""
        p, q, v = self.params
        x, m = _arr(frequency), _arr(monetary_value)
        population_mean = p * v / (q - 1) if q > 1 else np.nan
        with np.errstate(divide="ignore", invalid="ignore"):
            individual = p * (v + x * m) / (p * x + q - 1)
        return np.where((x > 0) & (m > 0), individual, population_mean)

    def to_dict(self) -> dict:
        return asdict(self)


# --------------------------------------------------------------------------- data prep


def rfm_summary(
    transactions: pd.DataFrame,
    calibration_end: date | str | pd.Timestamp,
    customer_col: str = "customer_id",
    date_col: str = "date",
    amount_col: str = "amount",
) -> pd.DataFrame:
    """One row per customer who bought on or before `calibration_end`:
    frequency, recency, T (days), monetary_value (mean spend of repeat purchase days).

    Purchases are aggregated per customer and day (several receipts on one day are one
    purchase occasion). Only rows dated on or before `calibration_end` are used.
    """
    end = pd.Timestamp(calibration_end).normalize()
    df = pd.DataFrame(
        {
            "customer_id": transactions[customer_col].astype(str),
            "day": pd.to_datetime(transactions[date_col]).dt.normalize(),
            "amount": pd.to_numeric(transactions[amount_col], errors="coerce").fillna(0.0).astype(float),
        }
    )
    df = df[df["day"] <= end]
    cols = ["frequency", "recency", "T", "monetary_value", "first_purchase", "last_purchase"]
    if df.empty:
        return pd.DataFrame(columns=cols).rename_axis("customer_id")
    daily = df.groupby(["customer_id", "day"], as_index=False)["amount"].sum().sort_values(["customer_id", "day"])
    daily["occasion"] = daily.groupby("customer_id").cumcount()
    g = daily.groupby("customer_id")
    first, last, n = g["day"].min(), g["day"].max(), g["day"].size()
    repeat_spend = daily[daily["occasion"] > 0].groupby("customer_id")["amount"].mean()
    out = pd.DataFrame(
        {
            "frequency": (n - 1).astype(float),
            "recency": (last - first).dt.days.astype(float),
            "T": (end - first).dt.days.astype(float),
            "monetary_value": repeat_spend.reindex(n.index).fillna(0.0).astype(float),
            "first_purchase": first,
            "last_purchase": last,
        }
    )
    out.index.name = "customer_id"
    return out


def holdout_actuals(
    transactions: pd.DataFrame,
    calibration_end,
    horizon_days: int,
    customer_col: str = "customer_id",
    date_col: str = "date",
    amount_col: str = "amount",
) -> pd.DataFrame:
    """Actual purchase occasions and spend per customer in (calibration_end, +horizon]."""
    end = pd.Timestamp(calibration_end).normalize()
    stop = end + pd.Timedelta(days=int(horizon_days))
    day = pd.to_datetime(transactions[date_col]).dt.normalize()
    mask = (day > end) & (day <= stop)
    df = pd.DataFrame(
        {
            "customer_id": transactions.loc[mask, customer_col].astype(str),
            "day": day[mask],
            "amount": pd.to_numeric(transactions.loc[mask, amount_col], errors="coerce").fillna(0.0).astype(float),
        }
    )
    g = df.groupby("customer_id")
    out = pd.DataFrame({"actual_purchases": g["day"].nunique().astype(float), "actual_value": g["amount"].sum()})
    out.index.name = "customer_id"
    return out


@dataclass
class ClvFit:
    bgnbd: BetaGeoModel
    gamma_gamma: GammaGammaModel
    horizon_days: int
    calibration_end: str
    predictions: pd.DataFrame = field(repr=False)
    sample: dict = field(default_factory=dict)  # customers, fitted_on, cap, seed

    def params(self) -> dict:
        return {
            "calibration_end": self.calibration_end,
            "horizon_days": self.horizon_days,
            "time_unit": "day",
            "bgnbd": self.bgnbd.to_dict(),
            "gamma_gamma": self.gamma_gamma.to_dict(),
        }


def predict_clv(bg: BetaGeoModel, gg: GammaGammaModel, summary: pd.DataFrame, horizon_days: int) -> pd.DataFrame:
    """P(alive), expected purchases and expected (undiscounted) value over the horizon."""
    x, t_x, T = summary["frequency"], summary["recency"], summary["T"]
    out = summary[["frequency", "recency", "T", "monetary_value"]].copy()
    out["p_alive"] = bg.p_alive(x, t_x, T)
    out["expected_purchases"] = bg.expected_purchases(horizon_days, x, t_x, T)
    out["expected_average_spend"] = gg.expected_average_spend(x, summary["monetary_value"])
    out["expected_value"] = out["expected_purchases"] * out["expected_average_spend"]
    return out


def fit_clv(
    transactions: pd.DataFrame,
    calibration_end,
    horizon_days: int = 90,
    penalizer: float = 0.0,
    max_customers: int | None = None,
    seed: int = 0,
    **cols,
) -> ClvFit:
    """Fit BG/NBD and Gamma-Gamma on the purchases up to `calibration_end` and predict
    each customer's next `horizon_days`.

    With `max_customers` (default: no cap), a base of more customers than that is fitted
    on a seeded random sample of that many customers (seven parameters in all: a sample
    of hundreds of thousands pins them; every likelihood evaluation costs one pass over
    the customers). Every customer is still predicted; `ClvFit.sample` says what was fitted."""
    summary = rfm_summary(transactions, calibration_end, **cols)
    fit_on = summary
    if max_customers is not None and len(summary) > max_customers:
        picked = np.sort(np.random.default_rng(seed).choice(len(summary), size=int(max_customers), replace=False))
        fit_on = summary.iloc[picked]
    sample = {"customers": int(len(summary)), "fitted_on": int(len(fit_on)), "cap": max_customers, "seed": seed}
    bg = BetaGeoModel().fit(fit_on["frequency"], fit_on["recency"], fit_on["T"], penalizer=penalizer)
    gg = GammaGammaModel().fit(fit_on["frequency"], fit_on["monetary_value"], penalizer=penalizer)
    return ClvFit(
        bgnbd=bg,
        gamma_gamma=gg,
        horizon_days=int(horizon_days),
        calibration_end=str(pd.Timestamp(calibration_end).date()),
        predictions=predict_clv(bg, gg, summary, horizon_days),
        sample=sample,
    )
