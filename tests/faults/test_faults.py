"""The fault suite: a killed run, a second writer, a full disk.

A run killed with SIGKILL during ingestion, and again during the dbt build, then run
again, must leave the warehouse equal to an uninterrupted run's: same tables, same row
counts, same order-independent checksum of every row. Columns that record *when* a row was
loaded or *which load* wrote it legitimately differ and are left out of the checksum
(VOLATILE below). The same holds for a Dagster run, which calls the same pipeline steps.
A second writer is refused while one runs, whether the first is a CLI command or a
Dagster run; a full disk gives a clear error and a re-run completes the warehouse.
"""

from __future__ import annotations

import resource
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from mallcrm.core.settings import child_environment
from tests.conftest import generate_mall, settings_for

pytestmark = pytest.mark.integration

TINY = {"members": 120, "stores": 4, "days": 12}
VOLATILE = (
    "_dlt_load_id",
    "_dlt_id",
    "_loaded_at",
    "loaded_at",
    "quarantined_at",
    "inserted_at",
    "ingested_at",
    "built_at",
    "judged_through",  # the dlt load id the cross-row rules judged (ingestion/cross_rules.py)
)
MALLCRM = [sys.executable, "-m", "cli"]


def _env(root: Path) -> dict[str, str]:
    return child_environment(settings_for(root))


def _run(root: Path, *args: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([*MALLCRM, *args], env=_env(root), capture_output=True, text=True, timeout=600, **kwargs)


def _start(root: Path, *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [*MALLCRM, *args], env=_env(root), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )


def _kill_when(process: subprocess.Popen, ready, timeout: float = 300) -> None:
    """SIGKILL `process` as soon as `ready()` holds (polled), failing if it ends first."""
    deadline = time.monotonic() + timeout
    while not ready():
        assert process.poll() is None, f"the run ended before the kill point:\n{process.stdout.read()}"
        assert time.monotonic() < deadline, "the kill point never came"
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()


def fingerprint(warehouse: Path, schemas: tuple[str, ...] | None = None) -> dict[str, tuple[int, int]]:
    """{schema.table: (rows, order-independent checksum of the non-volatile columns)}."""
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        tables = con.execute(
            "select table_schema, table_name from information_schema.tables "
            "where table_type = 'BASE TABLE' and table_schema not like '%_staging' order by 1, 2"
        ).fetchall()
        out = {}
        for schema, table in tables:
            if schemas and schema not in schemas or table.startswith("_dlt"):
                continue
            columns = con.execute(
                "select column_name, data_type from information_schema.columns where table_schema = ? "
                "and table_name = ? order by ordinal_position",
                [schema, table],
            ).fetchall()
            # floating-point sums are computed in parallel: compare them to 9 significant digits
            row = ", ".join(
                f'round("{c}", 9 - cast(ceil(log10(abs("{c}") + 1e-300)) as integer))'
                if t in ("DOUBLE", "FLOAT")
                else f'"{c}"'
                for c, t in columns
                if c not in VOLATILE
            )
            out[f"{schema}.{table}"] = con.execute(
                f'select count(*), coalesce(sum(hash(row({row}))::hugeint), 0) from "{schema}"."{table}"'
            ).fetchone()
        return out
    finally:
        con.close()


def _raw_schemas(prints: dict) -> tuple[str, ...]:
    return tuple(sorted({name.split(".")[0] for name in prints if name.startswith("raw_")}))


@pytest.fixture(scope="module")
def exports(tmp_path_factory) -> Path:
    inbox = tmp_path_factory.mktemp("fault_exports") / "inbox"
    generate_mall(inbox, **TINY)
    return inbox


def _mall(tmp_path: Path, exports: Path) -> Path:
    shutil.copytree(exports, tmp_path / "inbox")
    return tmp_path


@pytest.fixture(scope="module")
def reference(tmp_path_factory, exports) -> dict:
    """An uninterrupted ingest + build of the tiny mall."""
    root = _mall(tmp_path_factory.mktemp("reference"), exports)
    assert _run(root, "ingest").returncode == 0
    build = _run(root, "build")
    assert build.returncode == 0, build.stdout[-3000:]
    return fingerprint(root / "warehouse" / "mallcrm.duckdb")


def test_sigkill_during_ingestion_then_rerun_equals_an_uninterrupted_run(tmp_path, exports, reference):
    root = _mall(tmp_path, exports)
    warehouse = root / "warehouse" / "mallcrm.duckdb"
    process = _start(root, "ingest")
    # kill once dlt has begun writing the warehouse (the first systems are loaded, others not)
    _kill_when(process, lambda: warehouse.exists() and warehouse.stat().st_size > 2_000_000)
    assert process.returncode == -signal.SIGKILL
    rerun = _run(root, "ingest")
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    raw = _raw_schemas(reference)
    assert fingerprint(warehouse, raw) == {k: v for k, v in reference.items() if k.split(".")[0] in raw}


# Dies in the narrowest window of a load: the warehouse has committed a job's rows, dlt has
# not yet recorded it. Only the append tables' jobs (ingested_files) are cut this way.
DIE_AFTER_COMMIT = """
import os
from dlt.common.storages.load_package import PackageStorage
record = PackageStorage.save_pending_transition
def die_before_recording(self, load_id, file_name, *args, **kwargs):
    if file_name.startswith("ingested_files."):
        os._exit(137)
    return record(self, load_id, file_name, *args, **kwargs)
PackageStorage.save_pending_transition = die_before_recording
from cli import main
main(["ingest"])
"""


def test_a_run_killed_after_a_commit_but_before_dlt_recorded_it_loads_nothing_twice(tmp_path, exports, reference):
    root = _mall(tmp_path, exports)
    died = subprocess.run(
        [sys.executable, "-c", DIE_AFTER_COMMIT], env=_env(root), capture_output=True, text=True, timeout=600
    )
    assert died.returncode == 137, died.stdout + died.stderr
    rerun = _run(root, "ingest")
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    raw = _raw_schemas(reference)
    assert fingerprint(root / "warehouse" / "mallcrm.duckdb", raw) == {
        k: v for k, v in reference.items() if k.split(".")[0] in raw
    }


def test_sigkill_during_the_dbt_build_then_rerun_equals_an_uninterrupted_run(tmp_path, exports, reference):
    root = _mall(tmp_path, exports)
    assert _run(root, "ingest").returncode == 0
    log = root / "build.log"
    with open(log, "w", encoding="utf-8") as out:
        process = subprocess.Popen([*MALLCRM, "build"], env=_env(root), stdout=out, stderr=subprocess.STDOUT)
        # kill in the middle of the marts: some built, others not
        _kill_when(process, lambda: log.read_text(encoding="utf-8").count("OK created sql table model marts.") >= 3)
    rerun = _run(root, "build")
    assert rerun.returncode == 0, rerun.stdout[-3000:]
    assert fingerprint(root / "warehouse" / "mallcrm.duckdb") == reference


# `mallcrm ingest` that, holding the warehouse lock, waits for a release file (argv[1])
# before loading: the second run then meets a live holder however fast the ingest is.
INGEST_HELD_OPEN = """
import sys, time
from pathlib import Path
import ingestion.pipeline as ingestion_pipeline
load, release = ingestion_pipeline.run_ingestion, Path(sys.argv.pop(1))
def wait_for_release(*args, **kwargs):
    while not release.exists():
        time.sleep(0.05)
    return load(*args, **kwargs)
ingestion_pipeline.run_ingestion = wait_for_release
from cli import main
main(["ingest"])
"""


def test_a_second_run_while_one_is_going_is_refused(tmp_path, exports):
    root = _mall(tmp_path, exports)
    release = tmp_path / "release"
    first = subprocess.Popen(
        [sys.executable, "-c", INGEST_HELD_OPEN, str(release)],
        env=_env(root),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lock = root / "warehouse" / "mallcrm.duckdb.lock"
    try:
        deadline = time.monotonic() + 120
        while not (lock.exists() and lock.read_text(encoding="utf-8").strip()):
            assert first.poll() is None and time.monotonic() < deadline
            time.sleep(0.05)
        second = _run(root, "build")
        assert second.returncode == 75
        assert "is being written by" in second.stderr and "mallcrm ingest" in second.stderr
        assert "Nothing was changed" in second.stderr
    finally:
        release.touch()
        first.wait(timeout=600)
    assert first.returncode == 0, first.stdout.read()


def _limit_file_size() -> None:
    # A file may not grow past 800 kB, as on a full disk: writes fail with EFBIG
    # instead of the process being killed by SIGXFSZ.
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (800_000, 800_000))


def test_a_full_disk_gives_a_clear_error_and_a_rerun_completes(tmp_path, exports, reference):
    root = _mall(tmp_path, exports)
    full = subprocess.run(
        [*MALLCRM, "ingest"], env=_env(root), capture_output=True, text=True, timeout=600, preexec_fn=_limit_file_size
    )
    assert full.returncode != 0
    # dlt logs its own retries above; the command's last word is one plain sentence
    last = full.stderr.strip().splitlines()[-1]
    assert last.startswith("Error: could not write the warehouse") and "mallcrm.duckdb" in last, last
    rerun = _run(root, "ingest")
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    raw = _raw_schemas(reference)
    assert fingerprint(root / "warehouse" / "mallcrm.duckdb", raw) == {
        k: v for k, v in reference.items() if k.split(".")[0] in raw
    }


def test_a_warehouse_directory_that_cannot_be_written_gives_a_clear_error(tmp_path, exports):
    """Root ignores file modes, so the unwritable place is /proc, where no process may
    create anything; the command names the path and leaves nothing behind."""
    root = _mall(tmp_path, exports)
    env = _env(root) | {"MALLCRM_WAREHOUSE": "/proc/mallcrm-warehouse/mallcrm.duckdb"}
    result = subprocess.run([*MALLCRM, "ingest"], env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 74  # cli.exit_codes.STORAGE
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("Error: could not write the warehouse /proc/mallcrm-warehouse/mallcrm.duckdb"), last
    assert not Path("/proc/mallcrm-warehouse").exists()


# A Dagster run of the ingestion assets, as the UI or the daily schedule starts it (the
# real Definitions, an ephemeral instance), in a process of its own. With HOLD set, the
# ingestion step waits inside the run (write lock held) until the file RELEASE exists.
DAGSTER_INGEST = """
import os, sys, time
from pathlib import Path
import dagster as dg
from pipeline import steps
from mallcrm.core.settings import load_settings
from orchestration.definitions import build_definitions

hold = os.environ.get("HOLD")
if hold:
    real = steps.run_ingestion
    def held(*args, **kwargs):
        Path(hold, "HELD").touch()
        while not Path(hold, "RELEASE").exists():
            time.sleep(0.05)
        return real(*args, **kwargs)
    steps.run_ingestion = held
defs = build_definitions(load_settings())
raw = [k for k in defs.resolve_all_asset_keys() if k.path[0].startswith("raw_")]
result = defs.resolve_job_def("refresh_warehouse").execute_in_process(
    instance=dg.DagsterInstance.ephemeral(), asset_selection=raw, raise_on_error=False)
sys.exit(0 if result.success else 1)
"""


def _dagster_ingest(root: Path, **env) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", DAGSTER_INGEST],
        env=_env(root) | env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def test_sigkill_during_a_dagster_ingest_run_then_rerun_equals_an_uninterrupted_run(tmp_path, exports, reference):
    root = _mall(tmp_path, exports)
    warehouse = root / "warehouse" / "mallcrm.duckdb"
    process = _dagster_ingest(root)
    _kill_when(process, lambda: warehouse.exists() and warehouse.stat().st_size > 2_000_000)
    assert process.returncode == -signal.SIGKILL
    rerun = _dagster_ingest(root)
    output, _ = rerun.communicate(timeout=600)
    assert rerun.returncode == 0, output[-5000:]
    raw = _raw_schemas(reference)
    assert fingerprint(warehouse, raw) == {k: v for k, v in reference.items() if k.split(".")[0] in raw}


def test_a_cli_writer_beside_a_dagster_run_is_refused(tmp_path, exports):
    root = _mall(tmp_path, exports)
    hold = tmp_path / "hold"
    hold.mkdir()
    run = _dagster_ingest(root, HOLD=str(hold))
    try:
        deadline = time.monotonic() + 300
        while not (hold / "HELD").exists():
            assert run.poll() is None, run.stdout.read()[-5000:]
            assert time.monotonic() < deadline, "the Dagster run never reached its ingestion step"
            time.sleep(0.05)
        for command in ("build", "ingest"):
            second = _run(root, command)
            assert second.returncode == 75, second.stdout + second.stderr
            assert "is being written by" in second.stderr and "dagster run" in second.stderr
    finally:
        (hold / "RELEASE").touch()
        output, _ = run.communicate(timeout=600)
    assert run.returncode == 0, output[-5000:]
