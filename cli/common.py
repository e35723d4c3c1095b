"""What every `mallcrm` sub-command shares: the settings and the handling of a busy or
unwritable warehouse (exit codes in cli.exit_codes)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import click
import duckdb

from cli import exit_codes
from mallcrm.core.lock import WarehouseBusy
from mallcrm.core.settings import Settings, SettingsError, load_settings


class BusyError(click.ClickException):
    exit_code = exit_codes.BUSY


class StorageError(click.ClickException):
    exit_code = exit_codes.STORAGE


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
def writing(settings: Settings, command: str) -> Iterator[None]:
    """Turn a busy warehouse into exit 75 and a full or read-only disk into exit 74, each
    with one sentence naming the warehouse; every step is idempotent, so the operator
    fixes the cause and runs the command again."""
    try:
        yield
    except WarehouseBusy as error:
        raise BusyError(str(error)) from None
    except Exception as error:
        cause = _storage_error(error)
        if cause is None:
            raise
        raise StorageError(
            f"could not write the warehouse {settings.warehouse} ({type(cause).__name__}: {str(cause).strip()[:300]}). "
            f"Free disk space or fix permissions, then run `mallcrm {command}` again: "
            "what was committed stays, what was not is redone."
        ) from None
