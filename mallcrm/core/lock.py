"""One writer at a time: a lock file beside the warehouse.

DuckDB allows one writing process per file; a second `mallcrm ingest` or `build` started
while one runs would fail half-way with a DuckDB lock error. Every pipeline step that
writes (mallcrm.pipeline) takes this lock first, whether the CLI, Dagster or the bench
called it, and a second writer is refused at once with a message naming the holder. It
is an advisory `flock`, so the kernel releases it when its holder dies: a run killed with
SIGKILL leaves no stale lock behind.

The lock is re-entrant within a process (per process, not per thread): a Dagster run
holds it for the whole run and the steps it calls take it again without blocking
themselves. Writers in this project run one per process (Dagster's in-process executor).
"""

from __future__ import annotations

import fcntl
import json
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from mallcrm.core.settings import Settings


class WarehouseBusy(RuntimeError):
    """Another process holds the warehouse's run lock."""


def lock_path(warehouse: Path) -> Path:
    return warehouse.with_name(warehouse.name + ".lock")


_held: dict[Path, int] = {}  # lock file -> depth, for this process
_guard = threading.Lock()


def holds_write_lock(settings: Settings) -> bool:
    """Does this process hold the warehouse's write lock (a writer may create the warehouse)?"""
    return bool(_held.get(lock_path(settings.warehouse).resolve()))


@contextmanager
def write_lock(settings: Settings, command: str) -> Iterator[None]:
    """Hold the warehouse's run lock for `command`, or raise WarehouseBusy at once."""
    path = lock_path(settings.warehouse).resolve()
    with _guard:
        if _held.get(path):
            _held[path] += 1
            reentered = True
        else:
            reentered = False
    if reentered:
        try:
            yield
        finally:
            with _guard:
                _held[path] -= 1
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = open(path, "a+", encoding="utf-8")
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            raise WarehouseBusy(
                f"{settings.warehouse} is being written by {holder}; wait for it to finish "
                "(or stop it) and run again. Nothing was changed."
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(json.dumps({"pid": os.getpid(), "command": command, "since": time.strftime("%Y-%m-%dT%H:%M:%S")}))
        handle.flush()
        with _guard:
            _held[path] = 1
        try:
            yield
        finally:
            with _guard:
                _held.pop(path, None)
    finally:
        handle.close()  # closing releases the lock
