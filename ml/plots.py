"""PNG plots for the model cards (matplotlib, Agg backend: no display needed).

Each function returns PNG bytes, which the registry writes beside card.md.
"""

from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from sklearn.metrics import roc_curve  # noqa: E402


def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buf, format="png", dpi=90)
    plt.close(fig)
    return buf.getvalue()


def roc(y, model_score, baseline_score) -> bytes:
    fig, ax = plt.subplots(figsize=(4.5, 4))
    for name, s in (("model", model_score), ("recency baseline", baseline_score)):
        fpr, tpr, _ = roc_curve(y, s)
        ax.plot(fpr, tpr, label=name)
    ax.plot([0, 1], [0, 1], ls=":", c="grey")
    ax.set(xlabel="false positive rate", ylabel="true positive rate", title="ROC (validation)")
    ax.legend(loc="lower right")
    return _png(fig)


def calibration(model_curve: list[dict], baseline_curve: list[dict]) -> bytes:
    fig, ax = plt.subplots(figsize=(4.5, 4))
    for name, curve in (("model", model_curve), ("recency baseline", baseline_curve)):
        ax.plot([c["mean_predicted"] for c in curve], [c["observed_rate"] for c in curve], marker="o", label=name)
    ax.plot([0, 1], [0, 1], ls=":", c="grey")
    ax.set(xlabel="mean predicted churn", ylabel="observed churn", title="Calibration (validation)")
    ax.legend(loc="upper left")
    return _png(fig)


def lift(y, model_score, baseline_score, bins: int = 10) -> bytes:
    y = np.asarray(y, dtype=float)
    fig, ax = plt.subplots(figsize=(4.5, 4))
    width = 0.4
    for offset, (name, s) in zip(
        (-width / 2, width / 2), (("model", model_score), ("recency baseline", baseline_score)), strict=True
    ):
        order = np.argsort(-np.asarray(s, dtype=float), kind="stable")
        groups = np.array_split(y[order], bins)
        rate = y.mean() or 1.0
        ax.bar(np.arange(1, bins + 1) + offset, [g.mean() / rate for g in groups], width, label=name)
    ax.axhline(1, ls=":", c="grey")
    ax.set(xlabel="score decile (1 = highest risk)", ylabel="lift (churn rate / overall)", title="Lift by decile")
    ax.legend()
    return _png(fig)


def predicted_vs_actual(deciles: list[dict], title: str = "Holdout value by predicted decile") -> bytes:
    fig, ax = plt.subplots(figsize=(5, 4))
    d = [r["decile"] for r in deciles]
    ax.bar(np.array(d) - 0.2, [r["mean_predicted"] for r in deciles], 0.4, label="predicted")
    ax.bar(np.array(d) + 0.2, [r["mean_actual"] for r in deciles], 0.4, label="actual")
    ax.set(xlabel="predicted-value decile (1 = highest)", ylabel="mean value per customer (CNY)", title=title)
    ax.legend()
    return _png(fig)


def silhouette_by_k(by_k: dict, chosen: int, baseline: float) -> bytes:
    fig, ax = plt.subplots(figsize=(4.5, 3.5))
    ks = sorted(int(k) for k in by_k)
    ax.plot(ks, [by_k[str(k)] for k in ks], marker="o", label="K-means")
    ax.axhline(baseline, ls=":", c="grey", label=f"permuted baseline (k={chosen})")
    ax.axvline(chosen, ls="--", c="tab:red", lw=0.8)
    ax.set(xlabel="k", ylabel="silhouette", title="Silhouette by k")
    ax.legend()
    return _png(fig)


def segment_profile(profile_z, names: list[str]) -> bytes:
    z = np.asarray(profile_z, dtype=float)
    fig, ax = plt.subplots(figsize=(max(6, 0.45 * z.shape[1] + 2), 0.5 * z.shape[0] + 2))
    lim = max(1.0, float(np.nanmax(np.abs(z))))
    im = ax.imshow(z, cmap="RdBu_r", vmin=-lim, vmax=lim, aspect="auto")
    ax.set_xticks(range(z.shape[1]), list(profile_z.columns), rotation=60, ha="right", fontsize=8)
    ax.set_yticks(range(z.shape[0]), names, fontsize=8)
    ax.set_title("Segment centroids (z-score vs population)")
    fig.colorbar(im, ax=ax, shrink=0.8)
    return _png(fig)


def hit_rates(model: float, baseline: float, k: int) -> bytes:
    fig, ax = plt.subplots(figsize=(4, 3.5))
    ax.bar(["item-based CF", "popularity"], [model, baseline], color=["tab:blue", "tab:grey"])
    ax.set(ylabel=f"hit rate @ {k}", title="Time-holdout hit rate")
    return _png(fig)
