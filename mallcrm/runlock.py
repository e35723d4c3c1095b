"""One writer at a time: a lock file beside the warehouse.

DuckDB allows one writing process per file; a second `mallcrm ingest` or `build` started
while one runs would fail half-way with a DuckDB lock error. The commands that write take
this lock first and refuse at once with a message naming the holder. It is an advisory
`flock`, so the kernel releases it when its holder dies: a run killed with SIGKILL leaves
no stale lock behind.
"""

from __future__ import annotations

import fcntl
import json
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


class WarehouseBusy(RuntimeError):
    """Another process holds the warehouse's run lock."""


def lock_path(warehouse: Path) -> Path:
    return warehouse.with_name(warehouse.name + ".lock")


@contextmanager
def warehouse_lock(warehouse: Path, command: str) -> Iterator[None]:
    """Hold the warehouse's run lock for `command`, or raise WarehouseBusy at once."""
    path = lock_path(warehouse)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = open(path, "a+", encoding="utf-8")
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            raise WarehouseBusy(
                f"{warehouse} is being written by {holder}; wait for it to finish "
                "(or stop it) and run again. Nothing was changed."
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(json.dumps({"pid": os.getpid(), "command": command, "since": time.strftime("%Y-%m-%dT%H:%M:%S")}))
        handle.flush()
        yield
    finally:
        handle.close()  # closing releases the lock
