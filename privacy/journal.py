"""Journals of destructive privacy jobs (erasure, retention purge, consent withdrawal).

A job that deletes personal data is a list of steps, each safe to run again. Before the
first step the job writes its *intent* (what it will remove, counted before anything is
removed); after each step it records the step as done. A job killed at any point is
finished by running the same command again: the journal is found, the intent is taken
from it (not recomputed from data the killed run already deleted) and the steps not yet
done are run. The journal is removed only once the job's outcome is recorded, so "done"
is never reported for a job that did not finish.

    job = open_job(settings, "erasure", "R-2026-001", intent=lambda: {...})
    if not job.done("suppress"):
        ...
        job.mark("suppress", tokens_added=3)
    ...
    job.finish()

Journals live in `<privacy dir>/jobs/<kind>-<id>.json`, written atomically (temporary file,
fsync, rename) and readable by the owner only. An erasure's intent holds the person's
identifiers in clear while the job runs, exactly as the request file that started it
does; both are deleted when the job is done. `pending(settings)` lists unfinished jobs
(`mallcrm doctor` and `mallcrm check` report them).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from mallcrm.core.files import write_atomically
from mallcrm.core.settings import Settings

_SAFE = re.compile(r"[^A-Za-z0-9_.-]")


def jobs_dir(settings: Settings) -> Path:
    return settings.privacy_path / "jobs"


def journal_path(settings: Settings, kind: str, job_id: str) -> Path:
    return jobs_dir(settings) / f"{kind}-{_SAFE.sub('_', job_id)}.json"


@dataclass
class Job:
    """One journaled job; `resumed` is true when a killed run's journal was found."""

    path: Path
    kind: str
    job_id: str
    intent: dict[str, Any]
    steps: dict[str, dict[str, Any]] = field(default_factory=dict)  # step -> facts recorded
    started_at: str = ""
    resumed: bool = False

    def done(self, step: str) -> bool:
        return step in self.steps

    def facts(self, step: str) -> dict[str, Any]:
        return self.steps.get(step, {})

    def mark(self, step: str, **facts: Any) -> None:
        """Record `step` as done (with what it found), durably, before the next step starts."""
        self.steps[step] = {"at": datetime.now(UTC).isoformat(timespec="seconds"), **facts}
        self._save()

    def finish(self) -> None:
        """The job's outcome is recorded: remove the journal (and its identifiers)."""
        self.path.unlink(missing_ok=True)

    def _save(self) -> None:
        body = {
            "kind": self.kind,
            "job_id": self.job_id,
            "started_at": self.started_at,
            "intent": self.intent,
            "steps": self.steps,
        }
        write_atomically(self.path, json.dumps(body, ensure_ascii=False, sort_keys=True, default=str))


def load(path: Path) -> Job:
    body = json.loads(path.read_text(encoding="utf-8"))
    return Job(
        path=path,
        kind=body["kind"],
        job_id=body["job_id"],
        intent=body["intent"],
        steps=body.get("steps") or {},
        started_at=body.get("started_at", ""),
        resumed=True,
    )


def open_job(settings: Settings, kind: str, job_id: str, intent: Callable[[], dict[str, Any]]) -> Job:
    """The unfinished job `kind`/`job_id` if a killed run left one, else a new one whose
    intent (`intent()`, computed now) is written before this returns."""
    path = journal_path(settings, kind, job_id)
    if path.exists():
        return load(path)
    job = Job(path, kind, job_id, intent(), started_at=datetime.now(UTC).isoformat(timespec="seconds"))
    job._save()
    return job


def pending(settings: Settings, kind: str | None = None) -> list[Job]:
    """Unfinished jobs (a killed run left them), oldest first."""
    folder = jobs_dir(settings)
    if not folder.exists():
        return []
    found = [load(p) for p in sorted(folder.glob("*.json"))]
    return sorted((j for j in found if kind is None or j.kind == kind), key=lambda j: j.started_at)
