"""orchestration/privacy.py: the privacy_daily job acts on requests and checks the audit chain."""

from __future__ import annotations

import json

import dagster as dg
import duckdb
import pytest

from orchestration.privacy import build_privacy_definitions
from privacy import audit
from tests.conftest import settings_for


@pytest.fixture
def settings(tmp_path):
    s = settings_for(tmp_path)
    assert s.privacy_dir is None and s.requests_dir is None
    s.warehouse.parent.mkdir(parents=True)
    con = duckdb.connect(str(s.warehouse))
    con.execute("create schema raw_membership")
    con.execute(
        "create table raw_membership.members as select 'M0000001' as member_id, '王小明' as name, "
        "'13800001111' as mobile, 'w@x.cn' as email, '6200000000000001' as card_no, "
        "'active' as status, timestamp '2026-01-01' as updated_at"
    )
    con.close()
    return s


def _job(settings):
    defs = build_privacy_definitions(settings)
    dg.Definitions.validate_loadable(defs)
    assert [s.name for s in defs.schedules] == ["privacy_daily_schedule"]
    return defs.resolve_job_def("privacy_daily")


def test_daily_job_answers_requests_and_verifies_the_chain(settings):
    requests = settings.inbox.parent / "requests"
    requests.mkdir(parents=True)
    (requests / "A-1.json").write_text(
        json.dumps(
            {
                "request_id": "A-1",
                "type": "access",
                "identifiers": {"mobile": "+86 138 0000 1111"},
                "received": "2026-11-02",
                "jurisdiction": "PIPL",
            }
        ),
        encoding="utf-8",
    )
    result = _job(settings).execute_in_process()
    assert result.success
    export = json.loads((settings.warehouse_dir / "privacy" / "access" / "A-1.json").read_text(encoding="utf-8"))
    assert export["tables"]["raw_membership.members"][0]["name"] == "王小明"
    actions = [e["action"] for e in audit.read_entries(settings)]
    assert "request_access" in actions and "retention_purge" in actions


def test_daily_job_fails_on_a_tampered_audit_log(settings):
    audit.record(settings, "erasure", "R-1", {"rows_removed": 3})
    audit.record(settings, "erasure", "R-2", {"rows_removed": 4})
    path = audit.log_path(settings)
    path.write_text(
        path.read_text(encoding="utf-8").replace('"rows_removed": 3', '"rows_removed": 0'), encoding="utf-8"
    )
    result = _job(settings).execute_in_process(raise_on_error=False)
    assert not result.success
    failure = result.failure_data_for_node("audit_chain_check")
    assert "entry 2" in failure.user_failure_data.description
