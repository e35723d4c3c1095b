"""Run the stages in child processes, alternate the pairs, take medians, write the JSON.

Each stage runs in its own Python process so its peak memory is its own: the harness
samples the resident set of the child's whole process tree (dbt and DuckDB threads,
dbt subprocesses under Dagster) from /proc every 0.1 s, and also keeps the kernel's
ru_maxrss of the largest single process from wait4().

The settings reach each stage as environment variables (child_environment); the stage
points them at its work directory (bench.stages.stage_settings).
"""

from __future__ import annotations

import fcntl
import json
import os
import platform
import statistics
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path

from mallcrm.core.settings import PROJECT_ROOT, Settings, child_environment, load_settings
from spark import cluster

RESULTS_DIR = PROJECT_ROOT / "bench" / "results"
# A group of alternating stages whose first round takes longer than this in total is
# measured in that one round only: five rounds of a two-minute pair would take ten.
LONG_RUN_SECONDS = 60.0

# ratio name -> (numerator stage, denominator stage)
RATIOS = {
    "ingest_vs_duckdb": ("ingest_dlt", "ingest_duckdb"),
    "dbt_vs_direct_sql": ("dbt_full", "direct_sql"),
    "dagster_vs_dbt": ("dagster", "dbt_cli"),
    "incremental_vs_full": ("dbt_daily", "dbt_full"),
}
ALL_GROUPS = ("generate", "ingest", "dbt", "dagster", "ml", "publish")
# Issue 18's targets (docs/performance.md): ratios from one run, peak memory at S=200.
TARGETS = {
    "ingest_vs_duckdb": 1.5,
    "dbt_vs_direct_sql": 1.15,
    "dagster_vs_dbt": 1.1,
    "incremental_vs_full": 0.05,
    "peak_rss_bytes_at_S200": 8 * 2**30,
}
# The comparison runs; --no-baselines leaves them out (a million-member run times the
# pipeline itself: its baselines would double the hours and say nothing new).
BASELINE_STAGES = ("ingest_duckdb", "direct_sql", "dbt_cli", "dagster")
BASELINES_BELOW_SCALE = 100.0
# `--engine spark`: these pipeline stages run again on the Spark cluster, each once, after
# DuckDB's; the report's `spark_vs_duckdb` divides each by DuckDB's time for it.
ENGINE_STAGES = ("prepare_base", "dbt_full", "ingest_day", "dbt_daily", "ml", "publish")


def _tree_rss(pid: int) -> int:
    """Resident bytes of a process and all its descendants (Linux /proc)."""
    total, stack = 0, [pid]
    while stack:
        p = stack.pop()
        try:
            with open(f"/proc/{p}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1]) * 1024
                        break
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children") as f:
                    stack.extend(int(c) for c in f.read().split())
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
    return total


@dataclass
class Measurement:
    stage: str
    seconds: float
    rows: int | None
    peak_rss_bytes: int
    max_single_rss_bytes: int
    detail: dict = field(default_factory=dict)


def run_stage(stage: str, workdir: Path, env: dict[str, str], **kwargs) -> Measurement:
    """Run one stage in a child process; raise with its output if it fails."""
    cmd = [sys.executable, "-m", "bench.stages", stage, str(workdir), json.dumps(kwargs)]
    proc = subprocess.Popen(cmd, cwd=PROJECT_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    peak = [0]
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], _tree_rss(proc.pid))
            done.wait(0.1)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    output = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    done.set()
    sampler.join()
    if proc.returncode != 0:
        raise RuntimeError(f"bench stage {stage} failed (exit {proc.returncode}):\n{output[-4000:]}")
    result = json.loads(output.strip().splitlines()[-1])
    seconds = float(result.pop("seconds"))
    rows = result.pop("rows", None)
    return Measurement(stage, seconds, rows, peak[0], usage.ru_maxrss * 1024, result)


@dataclass
class StageSummary:
    stage: str
    runs: list[Measurement]

    @property
    def seconds(self) -> float:
        return statistics.median(m.seconds for m in self.runs)

    def to_dict(self) -> dict:
        rows = self.runs[-1].rows
        seconds = self.seconds
        return {
            "stage": self.stage,
            "runs": len(self.runs),
            "seconds": round(seconds, 3),
            "seconds_each": [round(m.seconds, 3) for m in self.runs],
            "rows": rows,
            "rows_per_second": round(rows / seconds, 1) if rows and seconds > 0 else None,
            "peak_rss_bytes": max(m.peak_rss_bytes for m in self.runs),
            "max_single_process_rss_bytes": max(m.max_single_rss_bytes for m in self.runs),
            "detail": self.runs[-1].detail,
        }


def alternate(
    stages: list[str], workdir: Path, env: dict[str, str], reps: int, log=print, run=run_stage
) -> dict[str, StageSummary]:
    """Run `stages` in turn, `reps` rounds, so a ratio compares runs made side by side.

    When the first round takes more than LONG_RUN_SECONDS in all, that round is the only
    one: repeating it would put the whole bench past its time budget (the ratio then
    carries one round's noise, docs/performance.md).
    """
    runs: dict[str, list[Measurement]] = {s: [] for s in stages}
    rounds = reps
    i = 0
    while i < rounds:
        for stage in stages:
            m = run(stage, workdir, env)
            runs[stage].append(m)
            log(f"  {stage:<14} run {i + 1}/{rounds}: {m.seconds:8.2f} s  peak {m.peak_rss_bytes / 2**20:7.0f} MiB")
        if i == 0 and sum(r[0].seconds for r in runs.values()) > LONG_RUN_SECONDS:
            rounds = 1
        i += 1
    return {s: StageSummary(s, r) for s, r in runs.items()}


def machine() -> dict:
    mem = 0
    try:
        with open("/proc/meminfo") as f:
            mem = int(f.readline().split()[1]) * 1024
    except OSError:
        pass
    return {
        "nproc": os.cpu_count(),
        "memory_bytes": mem,
        "platform": platform.platform(),
        "python": platform.python_version(),
        "loadavg_at_start": os.getloadavg(),
    }


def run_bench(
    scale: float,
    reps: int = 5,
    groups: tuple[str, ...] = ALL_GROUPS,
    workdir: Path | None = None,
    results_dir: Path = RESULTS_DIR,
    log=print,
    settings: Settings | None = None,
    days: int | None = None,
    baselines: bool = True,
    engine: str = "duckdb",
) -> dict:
    """Run the benchmark with `settings` (default: load_settings()); returns the report
    (also written to results_dir).

    `days` is the history length (default a year); without `baselines` the comparison
    stages are skipped and the history is ingested once (prepare_base, timed as ingest).

    The stages get the settings' DuckDB limits, keys and time zone; their warehouses,
    inboxes, ML registry and Dagster home are under the work directory."""
    settings = settings or load_settings()
    # absolute: the stages run with the project root as working directory
    label = f"S{scale:g}" + (f"-D{days}" if days else "") + (f"-{engine}" if engine != "duckdb" else "")
    workdir = Path(workdir or settings.warehouse_dir / "bench" / label).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    with _workdir_lock(workdir, log):
        return _run_bench(scale, reps, groups, workdir, results_dir, log, settings, days, baselines, label, engine)


@contextmanager
def _workdir_lock(workdir: Path, log):
    """One bench at a time per work directory: two would rebuild each other's run/ and base/."""
    with open(workdir / ".bench.lock", "w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            log(f"waiting for another bench in {workdir}")
            fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def _run_bench(scale, reps, groups, workdir, results_dir, log, settings, days, baselines, label, engine) -> dict:
    settings = replace(settings, dagster_home=workdir / "dagster_home", engine="duckdb")
    settings.dagster_home.mkdir(parents=True, exist_ok=True)
    env = child_environment(settings)
    started_at = datetime.now(UTC)
    started = time.perf_counter()
    summaries: dict[str, StageSummary] = {}

    def once(stage: str, **kwargs) -> None:
        m = run_stage(stage, workdir, env, **kwargs)
        log(f"  {stage:<14} {m.seconds:8.2f} s  peak {m.peak_rss_bytes / 2**20:7.0f} MiB")
        summaries[stage] = StageSummary(stage, [m])

    def keep(stages: list[str]) -> list[str]:
        return [s for s in stages if baselines or s not in BASELINE_STAGES]

    log(f"bench S={scale:g}{f' days={days}' if days else ''}: work directory {workdir}")
    if "generate" in groups or not (workdir / "inbox").exists():
        once("generate", scale=scale, days=days)
    if "ingest" in groups and baselines:
        summaries.update(alternate(["ingest_dlt", "ingest_duckdb"], workdir, env, reps, log))
    once("prepare_base")
    if "dbt" in groups or "ml" in groups or "publish" in groups:
        # full build, direct SQL and the daily run alternate; ingest_day re-creates run/.
        full_runs = alternate(
            keep(["dbt_full", "direct_sql", "ingest_day", "dbt_daily"]),
            workdir,
            env,
            reps if "dbt" in groups else 1,
            log,
        )
        summaries.update(full_runs)
    if "dagster" in groups and baselines:
        summaries.update(alternate(["dbt_cli", "dagster"], workdir, env, reps, log))
    if "ml" in groups:
        once("ml")
    if "publish" in groups:
        if "ml" not in groups:
            once("ml")
        once("publish")

    engine_stages = {}
    if engine != "duckdb":
        engine_stages = _run_engine(engine, groups, workdir, settings, log)
        summaries.update({f"{engine}:{stage}": summary for stage, summary in engine_stages.items()})

    ratios = {}
    for name, (num, den) in RATIOS.items():
        if num in summaries and den in summaries and summaries[den].seconds > 0:
            pairs = [a.seconds / b.seconds for a, b in zip(summaries[num].runs, summaries[den].runs, strict=False)]
            ratios[name] = round(statistics.median(pairs), 4)
    report = {
        "scale": scale,
        "days": days or (summaries["generate"].runs[0].detail["config"]["days"] if "generate" in summaries else None),
        "baselines": baselines,
        "started_at": started_at.isoformat(timespec="seconds"),
        "wall_seconds": round(time.perf_counter() - started, 1),
        "reps": reps,
        "machine": machine(),
        "duckdb": {"memory_limit": settings.duckdb_memory_limit, "threads": settings.duckdb_threads},
        "simulation": summaries["generate"].runs[0].detail.get("config") if "generate" in summaries else None,
        "stages": {name: s.to_dict() for name, s in summaries.items()},
        "ratios": ratios,
        "targets": TARGETS,
        "engine": engine,
    }
    if engine_stages:
        report[f"{engine}_vs_duckdb"] = {
            stage: round(summary.seconds / summaries[stage].seconds, 3)
            for stage, summary in engine_stages.items()
            if stage in summaries and summaries[stage].seconds > 0
        }
    results_dir.mkdir(parents=True, exist_ok=True)
    path = results_dir / f"{started_at.strftime('%Y%m%dT%H%M%SZ')}-{label}.json"
    path.write_text(json.dumps(report, indent=2, default=str) + "\n")
    report["path"] = str(path)
    return report


def _run_engine(engine: str, groups, workdir: Path, settings: Settings, log) -> dict[str, StageSummary]:
    """The pipeline stages again with MALLCRM_ENGINE=`engine`, once each, on the local
    cluster (started here unless it runs, and stopped again if it was started here)."""
    engine_settings = replace(settings, engine=engine)
    env = child_environment(engine_settings)
    started_here = not cluster.status(engine_settings).running
    log(f"{engine}: {'starting' if started_here else 'using'} the local cluster ({engine_settings.spark_path})")
    cluster.up(engine_settings)
    wanted = [s for s in ENGINE_STAGES if s == "prepare_base" or _group(s) in groups]
    out: dict[str, StageSummary] = {}
    try:
        for stage in wanted:
            m = run_stage(stage, workdir, env)
            log(f"  {engine}:{stage:<14} {m.seconds:8.2f} s  peak {m.peak_rss_bytes / 2**20:7.0f} MiB")
            out[stage] = StageSummary(stage, [m])
    finally:
        if started_here:
            cluster.down(engine_settings)
    return out


def _group(stage: str) -> str:
    return {"dbt_full": "dbt", "ingest_day": "dbt", "dbt_daily": "dbt"}.get(stage, stage)


def format_table(report: dict) -> str:
    """The report as a plain-text table: one line per stage, then the ratios."""
    lines = [f"{'stage':<14} {'runs':>4} {'seconds':>9} {'rows':>11} {'rows/s':>11} {'peak MiB':>9}"]
    for s in report["stages"].values():
        rows = f"{s['rows']:,}" if s["rows"] is not None else "-"
        rps = f"{s['rows_per_second']:,.0f}" if s["rows_per_second"] else "-"
        lines.append(
            f"{s['stage']:<14} {s['runs']:>4} {s['seconds']:>9.2f} {rows:>11} {rps:>11} "
            f"{s['peak_rss_bytes'] / 2**20:>9.0f}"
        )
    lines.append("")
    for name, value in report["ratios"].items():
        target = report["targets"][name]
        verdict = "meets" if value <= target else "misses"
        lines.append(f"{name:<22} {value:>7.3f}  (target <= {target:g}: {verdict})")
    engine = report.get("engine", "duckdb")
    for stage, value in report.get(f"{engine}_vs_duckdb", {}).items():
        lines.append(f"{engine}_vs_duckdb {stage:<14} {value:>7.3f}")
    return "\n".join(lines)
