"""`python -m simulator INBOX [--members N ...]`: generate without the mallcrm CLI.

Handy for benchmarking the simulator alone; prints the generation report summary and
optionally writes the full report (files, rows, injected defects) as JSON.
"""

from __future__ import annotations

import argparse
import json
import time
from datetime import date
from pathlib import Path

from .config import SimulationConfig
from .generate import generate


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m simulator", description=__doc__)
    p.add_argument("inbox", type=Path)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--members", type=int, default=5000)
    p.add_argument("--stores", type=int, default=60)
    p.add_argument("--days", type=int, default=365)
    p.add_argument("--start", type=date.fromisoformat, default=date(2025, 11, 1))
    p.add_argument("--pos-encoding", choices=["utf-8", "gbk"], default="utf-8")
    p.add_argument("--dirty", action="store_true")
    p.add_argument("--no-progress", action="store_true")
    p.add_argument("--report", type=Path, help="write the full report as JSON here")
    a = p.parse_args(argv)
    config = SimulationConfig(
        seed=a.seed,
        members=a.members,
        stores=a.stores,
        days=a.days,
        start_date=a.start,
        pos_encoding=a.pos_encoding,
        dirty=a.dirty,
    )
    cpu = time.process_time()
    report = generate(config, a.inbox, progress=not a.no_progress)
    summary = {
        "seconds": report.seconds,
        "cpu_seconds": round(time.process_time() - cpu, 3),
        "files": len(report.files),
        "rows": sum(report.rows.values()),
        "injected": len(report.injected),
        "totals": report.to_dict()["totals"],
    }
    print(json.dumps(summary, indent=2))
    if a.report:
        a.report.write_text(report.to_json(), encoding="utf-8")


if __name__ == "__main__":
    main()
