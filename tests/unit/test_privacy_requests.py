"""Data-subject request files: parsing, validation messages, deadlines; suppression filter."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from types import SimpleNamespace

import pyarrow as pa
import pytest
from click.testing import CliRunner

from cli import exit_codes, main
from privacy import suppression
from privacy.requests import RequestError, deadline, parse_request, read_inbox
from tests.conftest import cli_env, settings_for


def _write(folder, name, body):
    path = folder / name
    path.write_text(body if isinstance(body, str) else json.dumps(body), encoding="utf-8")
    return path


GOOD = {
    "request_id": "R-1",
    "type": "erasure",
    "identifiers": {"mobile": "13812345678", "email": ["a@b.cn"]},
    "received": "2026-11-20",
    "jurisdiction": "PIPL",
}


def test_parse_a_valid_request(tmp_path):
    r = parse_request(_write(tmp_path, "r1.json", GOOD))
    assert r.request_id == "R-1" and r.type == "erasure"
    assert r.identifiers == {"mobile": {"13812345678"}, "email": {"a@b.cn"}}
    assert r.deadline == date(2026, 12, 11)  # Friday + 15 working days


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"type": "delete"}, "type 'delete' is not one of"),
        ({"jurisdiction": "LGPD"}, "jurisdiction 'LGPD'"),
        ({"received": "20.11.2026"}, "received '20.11.2026' is not a date"),
        ({"identifiers": {"passport": "X1"}}, "identifier 'passport'"),
        ({"identifiers": {}}, "identifiers must be an object"),
        ({"request_id": "R 1/.."}, "request_id"),
    ],
)
def test_bad_requests_name_file_and_field(tmp_path, change, message):
    path = _write(tmp_path, "bad.json", {**GOOD, **change})
    with pytest.raises(RequestError, match="bad.json") as err:
        parse_request(path)
    assert message in str(err.value)


def test_inbox_reports_bad_files_and_duplicate_ids(tmp_path):
    _write(tmp_path, "a.json", GOOD)
    _write(tmp_path, "b.json", GOOD)
    _write(tmp_path, "c.json", "{not json")
    found, problems = read_inbox(tmp_path)
    assert len(found) == 2
    assert any("c.json" in p and "JSON" in p for p in problems)
    assert any("R-1 appears in more than one file" in p for p in problems)


@pytest.mark.parametrize(
    ("identifiers", "message"),
    [
        ({"card_no": "n/a"}, "identifier card_no 'n/a' is not a valid card no"),
        ({"mobile": "call me"}, "identifier mobile 'call me' is not a valid mobile"),
        ({"email": "nobody"}, "identifier email 'nobody' is not a valid email"),
        ({"member_id": "M 1/2"}, "identifier member_id 'M 1/2' is not a member id"),
        ({"mobile": {"nested": 1}}, "must be text"),
    ],
)
def test_an_identifier_that_is_not_one_is_refused_not_crashed(tmp_path, identifiers, message):
    with pytest.raises(RequestError, match="bad.json") as err:
        parse_request(_write(tmp_path, "bad.json", {**GOOD, "identifiers": identifiers}))
    assert message in str(err.value)


def test_identifiers_are_accepted_in_the_forms_people_write_them(tmp_path):
    written = {
        "mobile": ["+86 138-1234-5678", "１３８１２３４５６７８"],
        "email": "a＠b.cn",
        "card_no": "8860 0123 4567 8901",
    }
    request = parse_request(_write(tmp_path, "ok.json", {**GOOD, "identifiers": written}))
    assert request.identifiers["card_no"] == {"8860 0123 4567 8901"}


def test_every_problem_of_a_file_is_listed_not_only_the_first(tmp_path):
    body = {**GOOD, "type": "delete", "received": "yesterday", "identifiers": {"card_no": "n/a"}}
    with pytest.raises(RequestError) as err:
        parse_request(_write(tmp_path, "three.json", body))
    assert len(err.value.problems) == 3, err.value.problems
    for part in ("type 'delete'", "received 'yesterday'", "card_no 'n/a'"):
        assert part in str(err.value)


def test_suppress_must_be_a_flag(tmp_path):
    assert parse_request(_write(tmp_path, "s.json", {**GOOD, "suppress": True})).suppress is True
    with pytest.raises(RequestError, match="suppress 'yes' must be true or false"):
        parse_request(_write(tmp_path, "t.json", {**GOOD, "suppress": "yes"}))


def test_deadlines_per_jurisdiction():
    assert deadline(date(2026, 11, 20), "PIPL") == date(2026, 12, 11)
    assert deadline(date(2026, 11, 21), "PIPL") == date(2026, 12, 11)  # received on a Saturday
    assert deadline(date(2026, 1, 31), "GDPR") == date(2026, 2, 28)
    assert deadline(date(2026, 12, 15), "GDPR") == date(2027, 1, 15)
    assert deadline(date(2026, 11, 21), "CCPA") == date(2027, 1, 5)
    with pytest.raises(RequestError):
        deadline(date(2026, 1, 1), "XX")


def test_suppression_drops_rows_and_quarantined_lines_and_counts_them(tmp_path):
    settings = settings_for(tmp_path)
    suppression.add(settings, {"mobile": {"+86 138 1234 5678"}, "member_id": {"M0000009"}}, "R-9")
    rows = pa.table(
        {
            "member_id": ["M0000001", "M0000009", "M0000002", "M0000003"],
            "mobile": ["13900000000", "13999999999", "13812345678", None],
            "_source_file": ["m/a.csv", "m/a.csv", "m/b.csv", "m/b.csv"],
        }
    )
    quarantine = pa.table(
        {
            "source_file": ["m/a.csv", "m/b.csv"],
            "raw_record": ['"M0000004","13812345678","bad-date"', '"M0000005","13700000000","bad"'],
        }
    )
    outcomes = [
        SimpleNamespace(file=SimpleNamespace(relpath=f), status="loaded", rows_loaded=n, rows_quarantined=1)
        for f, n in (("m/a.csv", 2), ("m/b.csv", 2))
    ]
    parsed = SimpleNamespace(rows=rows, quarantine=quarantine, outcomes=outcomes)
    export = SimpleNamespace(system="membership", entity="members")
    parsed, counts = suppression.suppress_erased(parsed, export, datetime.now(UTC), settings)
    assert parsed.rows.column("member_id").to_pylist() == ["M0000001", "M0000003"]
    assert parsed.quarantine.column("source_file").to_pylist() == ["m/b.csv"]
    a, b = outcomes
    assert (a.rows_loaded, a.rows_quarantined, a.rows_suppressed) == (1, 0, 2)
    assert (b.rows_loaded, b.rows_quarantined, b.rows_suppressed) == (1, 1, 1)
    assert dict(zip(*counts.select(["source_file", "rows_suppressed"]).to_pydict().values(), strict=True)) == {
        "m/a.csv": 2,
        "m/b.csv": 1,
    }
    # the list holds tokens only
    assert "13812345678" not in suppression.list_path(settings).read_text()


def test_the_requests_command_lists_every_problem_and_exits_non_zero(tmp_path):
    settings = settings_for(tmp_path)
    settings.requests_path.mkdir(parents=True)
    body = {**GOOD, "jurisdiction": "LGPD", "received": "soon", "identifiers": {"card_no": "n/a"}}
    _write(settings.requests_path, "three.json", body)
    result = CliRunner().invoke(main, ["privacy", "requests"], env=cli_env(settings))
    assert result.exit_code == exit_codes.REFUSED_INPUT, result.output
    for part in ("jurisdiction 'LGPD'", "received 'soon'", "card_no 'n/a'"):
        assert part in result.output
