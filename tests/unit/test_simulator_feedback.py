"""Follow-up satisfaction (回访满意度) in the simulated complaints: when it is given, what
drives it, that its own random stream shifts no other draw, and that the contract loads it
(older files without the column included)."""

from __future__ import annotations

import numpy as np
import pytest

from ingestion.parsing import parse_batch
from mallcrm.core.contract import load_contract, match_file
from simulator import SimulationConfig, generate, world
from simulator.feedback import follow_up_satisfaction
from tests.unit.test_parsing import LOADED_AT, TIMEZONE, parse, write_csv
from tests.unit.test_simulator import files_of, load

CONFIG = dict(seed=5, members=4000, stores=10, days=120)
COMPLAINTS = ("feedback", "complaints")


@pytest.fixture(scope="module")
def mall(tmp_path_factory):
    inbox = tmp_path_factory.mktemp("feedback") / "inbox"
    report = generate(SimulationConfig(**CONFIG), inbox, progress=False)
    return inbox, report, load(inbox, report, ("feedback",))


def test_scores_are_given_only_at_a_follow_up_and_mostly_so(mall):
    _, _, con = mall
    rows = con.execute(
        """
        select status, follow_up_at is not null, count(*), count(follow_up_satisfaction),
            min(follow_up_satisfaction), max(follow_up_satisfaction)
        from feedback_complaints group by all
        """
    ).fetchall()
    by = {(status, followed): (n, scored, lo, hi) for status, followed, n, scored, lo, hi in rows}
    # opened versions and complaints closed without a follow-up carry no score
    assert by[("open", False)][1] == 0
    assert by[("resolved", False)][1] == 0
    n, scored, lo, hi = by[("closed", True)]
    assert n > 100 and 0.75 < scored / n < 0.95  # ~85% answer at the follow-up visit
    assert 1 <= lo and hi <= 5


def test_late_handling_lowers_and_compensation_raises_satisfaction():
    rng = np.random.default_rng(0)
    n = 20_000
    on_time = np.zeros(n, bool)
    late = np.ones(n, bool)
    yes = np.ones(n, bool)

    def mean(**over):
        args = dict(
            first_late=on_time,
            resolution_late=on_time,
            follow_up_late=on_time,
            major=on_time,
            compensated=on_time,
            has_follow=yes,
        )
        scores = follow_up_satisfaction(rng, **{**args, **over})
        return np.mean([s for s in scores if s is not None])

    baseline = mean()
    assert baseline > 4.0
    assert mean(resolution_late=late) < baseline - 0.5
    assert mean(first_late=late) < baseline - 0.25
    assert mean(follow_up_late=late) < baseline - 0.25
    assert mean(major=late) < baseline - 0.4
    assert mean(resolution_late=late, compensated=yes) > mean(resolution_late=late) + 0.3
    none = follow_up_satisfaction(rng, on_time, on_time, on_time, on_time, on_time, has_follow=on_time)
    assert all(s is None for s in none)


def test_satisfied_share_falls_with_breached_service(mall):
    _, _, con = mall
    late, on_time = con.execute(
        """
        select
            avg(case when follow_up_satisfaction >= 4 then 1.0 else 0.0 end)
                filter (where resolved_at > opened_at + interval 2 hour and severity = 'normal'),
            avg(case when follow_up_satisfaction >= 4 then 1.0 else 0.0 end)
                filter (where resolved_at <= opened_at + interval 2 hour and severity = 'normal'
                        and first_response_at <= opened_at + interval 30 minute)
        from feedback_complaints where follow_up_satisfaction is not null
        """
    ).fetchone()
    assert on_time > late + 0.2


def test_own_stream_shifts_no_other_draw(mall, tmp_path, monkeypatch):
    """Another follow-up stream changes the scores and nothing else, in any file."""
    inbox, report, _ = mall
    real = world.stream

    def other_follow_up(seed, *names):
        return real(seed + 1, *names) if names == ("follow-up-satisfaction",) else real(seed, *names)

    monkeypatch.setattr(world, "stream", other_follow_up)
    other_inbox = tmp_path / "inbox"
    other = generate(SimulationConfig(**CONFIG), other_inbox, progress=False)
    assert other.files == report.files
    for relpath in report.files:
        if relpath in files_of(report, COMPLAINTS):
            continue
        assert (other_inbox / relpath).read_bytes() == (inbox / relpath).read_bytes(), relpath
    con = load(other_inbox, other, ("feedback",))
    mine = load(inbox, report, ("feedback",))
    columns = "* exclude (follow_up_satisfaction)"
    assert (
        con.sql(f"select {columns} from feedback_complaints order by all").fetchall()
        == mine.sql(f"select {columns} from feedback_complaints order by all").fetchall()
    )
    scores = "select follow_up_satisfaction from feedback_complaints order by complaint_id, updated_at"
    assert con.sql(scores).fetchall() != mine.sql(scores).fetchall()


COMPLAINT_ROW = {
    "complaint_id": "C1",
    "member_id": "",
    "store_id": "S001",
    "category": "queueing",
    "severity": "normal",
    "channel": "hotline",
    "opened_at": "2026-01-01 10:00:00",
    "first_response_at": "2026-01-01 10:10:00",
    "resolved_at": "2026-01-01 11:00:00",
    "follow_up_at": "2026-01-02 11:00:00",
    "escalated": "false",
    "compensation_amount": "0.00",
    "status": "closed",
    "description": "排队太久",
    "updated_at": "2026-01-02 11:00:00",
}


def test_an_older_complaints_file_without_the_column_loads(tmp_path):
    path = write_csv(tmp_path, "feedback/complaints_20260102.csv", [COMPLAINT_ROW])
    parsed = parse(tmp_path, path)
    assert parsed.status == "loaded", parsed.reason
    assert parsed.rows.column("follow_up_satisfaction").to_pylist() == [None]


def test_scores_outside_1_to_5_are_quarantined(tmp_path):
    rows = [
        {**COMPLAINT_ROW, "complaint_id": "C1", "follow_up_satisfaction": "5"},
        {**COMPLAINT_ROW, "complaint_id": "C2", "follow_up_satisfaction": "6"},
        {**COMPLAINT_ROW, "complaint_id": "C3", "follow_up_satisfaction": ""},
    ]
    parsed = parse(tmp_path, write_csv(tmp_path, "feedback/complaints_20260102.csv", rows))
    assert parsed.rows.column("complaint_id").to_pylist() == ["C1", "C3"]
    assert parsed.rows.column("follow_up_satisfaction").to_pylist() == [5, None]
    (bad,) = parsed.quarantine.to_pylist()
    assert bad["source_line"] == 3 and bad["rule"] == "rule:follow_up_satisfaction_1_to_5"


def test_older_and_newer_complaints_files_load_together(tmp_path):
    old = write_csv(tmp_path, "feedback/complaints_20260102.csv", [COMPLAINT_ROW])
    new_row = {**COMPLAINT_ROW, "complaint_id": "C2", "follow_up_satisfaction": "4"}
    header = ["follow_up_satisfaction", *COMPLAINT_ROW]  # in any column order
    new = write_csv(tmp_path, "feedback/complaints_20260103.csv", [new_row], header=header)
    files = [match_file(tmp_path, p, load_contract()) for p in (old, new)]
    batch = parse_batch(files, LOADED_AT, TIMEZONE)
    assert [o.status for o in batch.outcomes] == ["loaded", "loaded"]
    ids, scores = (batch.rows.column(c).to_pylist() for c in ("complaint_id", "follow_up_satisfaction"))
    assert dict(zip(ids, scores, strict=True)) == {"C1": None, "C2": 4}
