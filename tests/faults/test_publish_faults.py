"""Publishing the role files is atomic per set: a publish killed with SIGKILL at any
point leaves every role file of warehouse/roles/ from one publish, all old or all new,
never a mix; the next publish completes and leaves no half-built or stale copies behind.

Each run is a child process that kills itself (SIGKILL, like `kill -9`) at a chosen
point: after the 1st, 2nd or 3rd role file is written (a `detach role_out`), at the 1st
or 2nd rename into place (`os.replace`), or when the publish starts deleting what a
previous publish left (after the swap). Between the first publish and the killed one,
the marts lose the last day of `marts.dim_date`, a table every role file copies, so its
row count tells which publish wrote a file.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from mallcrm.core.settings import child_environment
from privacy.publish import publish_role_files
from tests.conftest import generate_mall, settings_for

pytestmark = pytest.mark.integration

TINY = {"members": 120, "stores": 4, "days": 12}

# The child: the real publish, with one kill point armed (argv: point, n).
KILLED_PUBLISH = """
import os, shutil, signal, sys
import privacy.publish as publish
from mallcrm.core.settings import load_settings

point, n = sys.argv[1], int(sys.argv[2])
calls = {"n": 0}

def tick():
    calls["n"] += 1
    if calls["n"] == n:
        os.kill(os.getpid(), signal.SIGKILL)

if point == "built":  # after the n-th role file is complete
    connect = publish.connect

    class Killing:
        def __init__(self, con):
            self._con = con

        def execute(self, sql, *args, **kwargs):
            result = self._con.execute(sql, *args, **kwargs)
            if sql.strip().startswith("detach role_out"):
                tick()
            return result

        def __getattr__(self, name):
            return getattr(self._con, name)

    publish.connect = lambda *a, **k: Killing(connect(*a, **k))
elif point == "replace":  # just before the n-th rename into place
    replace = os.replace

    def killing_replace(*args, **kwargs):
        tick()
        return replace(*args, **kwargs)

    os.replace = killing_replace
elif point == "cleanup":  # when it starts deleting a directory (after the swap)
    rmtree = shutil.rmtree

    def killing_rmtree(*args, **kwargs):
        tick()
        return rmtree(*args, **kwargs)

    shutil.rmtree = killing_rmtree
publish.publish_role_files(load_settings())
print("publish finished")
"""


@pytest.fixture(scope="module")
def tiny_built(tmp_path_factory) -> Path:
    from pipeline import steps

    root = tmp_path_factory.mktemp("publish_faults")
    generate_mall(root / "inbox", **TINY)
    settings = settings_for(root)
    steps.ingest(settings)
    assert steps.build(settings, quiet=True).success
    return root


def _mall(tmp_path: Path, built: Path) -> Path:
    root = tmp_path / "mall"
    shutil.copytree(
        built / "warehouse", root / "warehouse", ignore=shutil.ignore_patterns("roles*", "bi", "*.lock", ".dlt")
    )
    return root


def _dim_date_rows(path: Path) -> int:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return con.execute("select count(*) from marts.dim_date").fetchone()[0]
    finally:
        con.close()


def role_file_rows(root: Path) -> dict[str, int]:
    """{file under warehouse/roles/: rows of its marts.dim_date}, read as a reader would."""
    roles = root / "warehouse" / "roles"
    return {str(p.relative_to(roles)): _dim_date_rows(p) for p in sorted(roles.rglob("*.duckdb"))}


def _left_behind(root: Path) -> list[str]:
    """Everything under warehouse/ besides the warehouse, the current roles and bookkeeping."""
    warehouse = root / "warehouse"
    current = (warehouse / "roles").resolve()
    return sorted(
        p.name
        for p in warehouse.iterdir()
        if p.name.startswith("roles") and p.name != "roles" and p.resolve() != current
    )


def _shrink_marts(root: Path) -> None:
    con = duckdb.connect(str(root / "warehouse" / "mallcrm.duckdb"))
    try:
        con.execute("delete from marts.dim_date where date_day = (select max(date_day) from marts.dim_date)")
    finally:
        con.close()


@pytest.mark.parametrize(
    ("point", "n"),
    [("built", 1), ("built", 2), ("built", 3), ("replace", 1), ("replace", 2), ("replace", 3), ("cleanup", 1)],
    ids=lambda v: str(v),
)
def test_a_killed_publish_leaves_one_whole_set_and_a_rerun_completes(tmp_path, tiny_built, point, n):
    root = _mall(tmp_path, tiny_built)
    settings = settings_for(root)
    first = publish_role_files(settings)
    old = role_file_rows(root)
    assert len(old) >= len(first) and len(set(old.values())) == 1
    (old_rows,) = set(old.values())
    _shrink_marts(root)

    child = subprocess.run(
        [sys.executable, "-c", KILLED_PUBLISH, point, str(n)],
        env=child_environment(settings),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert child.returncode in (0, -signal.SIGKILL), child.stdout + child.stderr

    after_kill = role_file_rows(root)
    assert set(after_kill) == set(old), "a role file is missing or extra after the kill"
    assert len(set(after_kill.values())) == 1, f"a mix of two publishes after a kill at {point} {n}: {after_kill}"
    assert set(after_kill.values()) <= {old_rows, old_rows - 1}
    if child.returncode == 0:  # the kill point was never reached: the new set is in place
        assert set(after_kill.values()) == {old_rows - 1}

    again = publish_role_files(settings)
    assert set(again) == set(first)
    assert set(role_file_rows(root).values()) == {old_rows - 1}
    assert set(role_file_rows(root)) == set(old)
    assert _left_behind(root) == [], "a half-built or superseded set is left in the warehouse directory"
    leftovers = [p.name for p in (root / "warehouse" / "roles").rglob("*") if not p.name.endswith(".duckdb")]
    assert leftovers == [] or all((root / "warehouse" / "roles" / name).is_dir() for name in leftovers)


def test_the_kill_points_are_reached(tmp_path, tiny_built):
    """The harness is not vacuous: a kill after the 2nd file does stop the publish."""
    root = _mall(tmp_path, tiny_built)
    settings = settings_for(root)
    publish_role_files(settings)
    child = subprocess.run(
        [sys.executable, "-c", KILLED_PUBLISH, "built", "2"],
        env=child_environment(settings),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert child.returncode == -signal.SIGKILL, child.stdout + child.stderr
    assert "publish finished" not in child.stdout
