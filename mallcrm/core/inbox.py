"""The inbox as the contract sees it: which files fit an export, which are complete.

Read by ingestion (what to load), `mallcrm doctor` (what is not processed) and the Dagster
sensor (what may start a run); nothing here writes.

- A file whose name or folder fits no export of the contract (`match_file`) is never
  read and goes to `unmatched`, as does a link out of the inbox.
- A matching file is read only once complete, per the system's `completeness:` in
  ingestion/export_formats.yml: `settle` (unchanged for `seconds`, by its modification
  time) or `marker` (`<file name><suffix>` exists beside it). Others go to `waiting`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from mallcrm.core.contract import Contract, InboxFile, load_contract, match_file

# A file that will have settled within this many seconds is waited for (once per run);
# one that needs longer is left for a later run.
WAIT_AT_MOST_SECONDS = 5.0


@dataclass
class InboxLog:
    """Files of the inbox not loaded by this run, each with why."""

    unmatched: list[str] = field(default_factory=list)  # "<file>: why it fits no export"
    waiting: list[str] = field(default_factory=list)  # "<file>: why it is not complete yet"
    waiting_files: set[str] = field(default_factory=set)

    def wait(self, file: InboxFile, reason: str) -> None:
        if file.relpath not in self.waiting_files:
            self.waiting_files.add(file.relpath)
            self.waiting.append(f"{file.relpath}: {reason}")


def _is_marker(base: Path, path: Path, contract: Contract) -> bool:
    """A completion marker (`<export file><suffix>`) of a system in marker mode."""
    parts = path.relative_to(base).parts
    if len(parts) != 2 or parts[0] not in contract.systems:
        return False
    completeness = contract.completeness(parts[0])
    return (
        completeness.mode == "marker"
        and path.name.endswith(completeness.suffix)
        and path.with_name(path.name[: -len(completeness.suffix)]).is_file()
    )


def scan_inbox(
    folder: Path, contract: Contract, log: InboxLog | None = None, base: Path | None = None
) -> list[InboxFile]:
    """Every file under `folder` that fits the contract, oldest business day first.
    File names are taken relative to `base` (the inbox; default: `folder` itself).
    Completion markers of their export file are neither listed nor unmatched."""
    base = base or folder
    found: list[InboxFile] = []
    if not folder.exists():
        return found
    root = base.resolve()
    for path in sorted(p for p in folder.rglob("*") if p.is_file() and not p.name.startswith(".")):
        if not path.resolve().is_relative_to(root):
            # a link out of the inbox (e.g. to /etc/passwd) is never read
            if log is not None:
                log.unmatched.append(f"{path.relative_to(base).as_posix()}: resolves outside the inbox; not read")
            continue
        matched = match_file(base, path, contract)
        if isinstance(matched, str):
            if _is_marker(base, path, contract):
                continue
            if log is not None:
                log.unmatched.append(matched)
            continue
        found.append(matched)
    return sorted(found, key=lambda f: (f.business_date, f.relpath))


def incomplete_reason(file: InboxFile, now: float | None = None) -> str | None:
    """None when the file is complete (contract `completeness:`), else why it is not."""
    completeness = file.export.completeness
    if completeness.mode == "marker":
        marker = file.path.name + completeness.suffix
        return None if (file.path.parent / marker).is_file() else f"waiting for its completion marker {marker}"
    settle = completeness.seconds
    age = (time.time() if now is None else now) - file.path.stat().st_mtime
    if age < 0:
        return (
            f"modified {-age:,.0f} s in the future (the exporter's clock?); "
            f"loaded once unchanged for {settle:g} s after that time"
        )
    if age < settle:
        return f"changed {age:,.1f} s ago, may still be being written; loaded once unchanged for {settle:g} s"
    return None


def complete_files(files: list[InboxFile], log: InboxLog, wait: bool = True) -> list[InboxFile]:
    """The files that are complete; the others are noted in `log.waiting`. With `wait`,
    files that will have settled within WAIT_AT_MOST_SECONDS are waited for (one sleep);
    one that changed meanwhile is still too young afterwards and waits for a later run."""
    now = time.time()
    if wait:
        remaining = [
            f.export.completeness.seconds - (now - f.path.stat().st_mtime)
            for f in files
            if f.export.completeness.mode == "settle"
        ]
        pause = max((r for r in remaining if 0 < r <= WAIT_AT_MOST_SECONDS), default=0.0)
        if pause:
            time.sleep(pause + 0.05)
            now = time.time()
    ready = []
    for f in files:
        reason = incomplete_reason(f, now)
        if reason is None:
            ready.append(f)
        else:
            log.wait(f, reason)
    return ready


def inbox_state(
    inbox: Path,
    log: InboxLog,
    systems: list[str] | None = None,
    wait: bool = False,
    contract: Contract | None = None,
) -> list[InboxFile]:
    """Scan the whole inbox: unmatched files and files not complete yet go to `log`;
    returns the complete files of `systems` (default: all)."""
    files = scan_inbox(inbox, contract or load_contract(), log)
    if systems is not None:
        files = [f for f in files if f.export.system in systems]
    return complete_files(files, log, wait=wait)
