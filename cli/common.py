"""What every `mallcrm` sub-command shares: the settings, the handling of a busy,
unwritable or missing warehouse (exit codes in cli.exit_codes) and progress bars."""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import TypeVar

import click
import duckdb
from tqdm import tqdm

from cli import exit_codes
from mallcrm.core.lock import WarehouseBusy, lock_path, write_lock
from mallcrm.core.settings import Settings, SettingsError, load_settings
from mallcrm.core.warehouse import WarehouseMissing, require_warehouse

T = TypeVar("T")


class BusyError(click.ClickException):
    exit_code = exit_codes.BUSY


class StorageError(click.ClickException):
    exit_code = exit_codes.STORAGE


class NoWarehouseError(click.ClickException):
    exit_code = exit_codes.NO_WAREHOUSE


def on_terminal() -> bool:
    """Progress bars go to stderr, and only on a terminal: logs and tests stay clean."""
    return sys.stderr.isatty()


def progress(items: Iterable[T], desc: str, unit: str = "step") -> Iterable[T]:
    """`items`, with a bar on stderr while they are worked through (on a terminal only)."""
    items = list(items)
    return tqdm(items, desc=desc, unit=unit, disable=not on_terminal(), file=sys.stderr, leave=False)


def settings() -> Settings:
    """The settings from the environment, or a usage error naming the bad variable."""
    try:
        return load_settings()
    except SettingsError as error:
        raise click.UsageError(str(error)) from None


def _storage_error(error: BaseException) -> BaseException | None:
    """The disk-level cause (full disk, file too large, read-only) inside an error chain."""
    markers = ("No space left", "File too large", "Read-only file system", "Could not write file")
    seen, found = set(), None
    while error is not None and id(error) not in seen:  # the deepest match says it plainest
        seen.add(id(error))
        if isinstance(error, OSError | duckdb.IOException) or any(m in str(error) for m in markers):
            found = error
        error = error.__cause__ or error.__context__
    return found


@contextmanager
def writing(settings: Settings, command: str, creates: bool = False) -> Iterator[None]:
    """Turn a busy warehouse into exit 75 and a full or read-only disk into exit 74, each
    with one sentence naming the warehouse; every step is idempotent, so the operator
    fixes the cause and runs the command again. Only a command that `creates` the
    warehouse (ingest, demo) runs without one; the others exit 66, creating nothing, or
    75 when a writer holds the lock (it may be creating the warehouse right now)."""
    try:
        if not creates and not settings.warehouse.exists():
            if lock_path(settings.warehouse).exists():  # probe: never creates the lock file
                with write_lock(settings, f"mallcrm {command}"):
                    pass
            require_warehouse(settings)
        yield
    except WarehouseBusy as error:
        raise BusyError(str(error)) from None
    except WarehouseMissing:  # a FileNotFoundError, but not a storage problem: exit 66 (cli.main)
        raise
    except Exception as error:
        cause = _storage_error(error)
        if cause is None:
            raise
        raise StorageError(
            f"could not write the warehouse {settings.warehouse} ({type(cause).__name__}: {str(cause).strip()[:300]}). "
            f"Free disk space or fix permissions, then run `mallcrm {command}` again: "
            "what was committed stays, what was not is redone."
        ) from None
