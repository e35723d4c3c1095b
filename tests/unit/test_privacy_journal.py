"""The journal of destructive privacy jobs: intent first, steps recorded, resumable."""

from __future__ import annotations

import stat

from mallcrm.core.files import write_atomically
from privacy import journal
from tests.conftest import settings_for


def test_the_intent_is_on_disk_before_the_job_starts_and_a_rerun_resumes_it(tmp_path):
    settings = settings_for(tmp_path)
    calls = []

    def intent():
        calls.append(1)
        return {"person": {"member_ids": ["M0000001"]}}

    job = journal.open_job(settings, "erasure", "R-1", intent)
    assert job.path.exists() and not job.resumed
    assert stat.S_IMODE(job.path.stat().st_mode) == 0o600  # holds identifiers while it runs
    job.mark("suppress", tokens_added=3)

    # a killed run: the next open finds the journal, with its intent and done steps
    again = journal.open_job(settings, "erasure", "R-1", intent)
    assert again.resumed and calls == [1]  # the intent is not computed again from erased data
    assert again.intent == {"person": {"member_ids": ["M0000001"]}}
    assert again.done("suppress") and again.facts("suppress")["tokens_added"] == 3
    assert not again.done("delete")
    assert [j.job_id for j in journal.pending(settings)] == ["R-1"]
    assert journal.pending(settings, "retention_purge") == []

    again.finish()
    assert not again.path.exists() and journal.pending(settings) == []


def test_job_ids_cannot_escape_the_jobs_folder(tmp_path):
    settings = settings_for(tmp_path)
    path = journal.journal_path(settings, "erasure", "../../etc/passwd")
    assert path.parent == journal.jobs_dir(settings)


def test_an_atomic_write_leaves_no_temporary_file(tmp_path):
    target = tmp_path / "sub" / "head.json"
    write_atomically(target, "old")
    write_atomically(target, b"new", mode=0o644)
    assert target.read_text() == "new"
    assert [p.name for p in target.parent.iterdir()] == ["head.json"]
