"""Plot how each stage's cost grows with the scale factor, from bench/results/*.json.

    python -m bench.plot [results ...] --out docs/performance_scaling.png

For each scale the newest report is used; a stage missing at a scale is left out there.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from bench.harness import RESULTS_DIR

STAGES = (
    "generate",
    "ingest_dlt",
    "ingest_duckdb",
    "prepare_base",
    "dbt_full",
    "direct_sql",
    "dbt_daily",
    "dagster",
    "ml",
    "publish",
)


def latest_by_scale(paths: list[Path]) -> dict[float, dict]:
    reports: dict[float, dict] = {}
    for path in sorted(paths):  # names start with the UTC timestamp: later wins
        report = json.loads(path.read_text())
        if report.get("days") not in (None, 365):
            continue  # another history length: not on the scale axis
        reports[float(report["scale"])] = report
    return dict(sorted(reports.items()))


def plot(reports: dict[float, dict], out: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax_time, ax_mem) = plt.subplots(1, 2, figsize=(11, 4.2))
    for stage in STAGES:
        points = [(s, r["stages"][stage]) for s, r in reports.items() if stage in r["stages"]]
        if not points:
            continue
        scales = [s for s, _ in points]
        ax_time.plot(scales, [p["seconds"] for _, p in points], marker="o", label=stage)
        ax_mem.plot(scales, [p["peak_rss_bytes"] / 2**30 for _, p in points], marker="o", label=stage)
    ax_time.set(xlabel="scale factor S", ylabel="seconds (median)", title="Time per stage", xscale="log", yscale="log")
    ax_mem.set(xlabel="scale factor S", ylabel="GiB", title="Peak RSS of the stage's process tree", xscale="log")
    ax_mem.axhline(8, color="grey", linestyle="--", linewidth=1)
    ax_mem.annotate("8 GiB target", (ax_mem.get_xlim()[0], 8), xytext=(4, 4), textcoords="offset points", fontsize=8)
    for ax in (ax_time, ax_mem):
        ax.grid(True, which="both", alpha=0.3)
    ax_time.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", nargs="*", type=Path)
    parser.add_argument("--out", type=Path, default=Path("docs/performance_scaling.png"))
    args = parser.parse_args()
    paths = args.results or sorted(RESULTS_DIR.glob("*.json"))
    print(plot(latest_by_scale(paths), args.out))


if __name__ == "__main__":
    main()
