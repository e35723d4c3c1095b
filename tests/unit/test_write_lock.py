"""The one-writer lock: re-entrant inside the holding process, refusing every other process."""

from __future__ import annotations

import subprocess
import sys

import pytest

from mallcrm.core.lock import WarehouseBusy, lock_path, write_lock
from tests.conftest import settings_for

TRY_LOCK = """
import sys
from pathlib import Path
from mallcrm.core.lock import WarehouseBusy, write_lock
from mallcrm.core.settings import load_settings
try:
    with write_lock(load_settings(), "second process"):
        print("acquired")
except WarehouseBusy as error:
    print(error)
    sys.exit(75)
"""


def _other_process(settings) -> subprocess.CompletedProcess:
    env = {"MALLCRM_WAREHOUSE": str(settings.warehouse), "PATH": "/usr/bin:/bin"}
    return subprocess.run([sys.executable, "-c", TRY_LOCK], env=env, capture_output=True, text=True, timeout=60)


def test_the_holder_takes_the_lock_again_and_another_process_is_refused_until_the_end(tmp_path):
    settings = settings_for(tmp_path)
    with write_lock(settings, "dagster run 42"):
        with write_lock(settings, "mallcrm ingest"):  # a step inside the run: no self-deadlock
            refused = _other_process(settings)
            assert refused.returncode == 75
            assert "dagster run 42" in refused.stdout and "Nothing was changed" in refused.stdout
        # leaving the inner step keeps the outer hold
        assert _other_process(settings).returncode == 75
    after = _other_process(settings)
    assert after.returncode == 0 and "acquired" in after.stdout, after.stderr


def test_a_lock_held_elsewhere_raises_at_once_naming_the_holder(tmp_path):
    import fcntl

    settings = settings_for(tmp_path)
    path = lock_path(settings.warehouse)
    path.parent.mkdir(parents=True)
    with open(path, "a+", encoding="utf-8") as other:  # another open file description = another holder
        fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)
        other.write('{"command": "mallcrm build"}')
        other.flush()
        with pytest.raises(WarehouseBusy, match="mallcrm build"), write_lock(settings, "mallcrm ingest"):
            pass
