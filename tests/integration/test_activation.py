"""Activation on a simulated mall: audiences built, gated, held out, exported, answered,
measured. One mall per module (`activated_mall`): the window's last RESPONSE_DAYS days
are written only after the audiences are exported, with the mall answering them, as
`make demo` does; each gate test then works on its own copy of that warehouse."""

from __future__ import annotations

import hashlib
import json
import shutil
from dataclasses import replace
from datetime import date, timedelta

import duckdb
import psycopg2
import pytest

from activation import gates
from activation.build import build_audiences
from activation.delivery import delivered_exports
from activation.export import ContactsNotAllowed, ExportRefused, export_audiences, srm_p_value
from activation.outbox import purge_expired, retention_days
from activation.spec import load_audiences, load_rules
from activation.status import latest_runs
from orchestration.activation import build_activation_definitions
from pipeline import steps
from postgres import server
from privacy import audit, suppression
from simulator.config import SimulationConfig
from tests.conftest import settings_for

pytestmark = pytest.mark.integration

RESPONSE_DAYS = 21
CONFIG = SimulationConfig(members=3000, stores=20, days=150, start_date=date(2026, 1, 1))


def _sql(settings, query, params=None):
    con = duckdb.connect(str(settings.warehouse))
    try:
        return con.execute(query, params or []).fetchall()
    finally:
        con.close()


@pytest.fixture(scope="module")
def activated_mall(tmp_path_factory):
    """(settings, the export summaries of the first run): the closed loop, once."""
    settings = settings_for(tmp_path_factory.mktemp("activated_mall"))
    steps.generate(settings, CONFIG, days=range(0, CONFIG.days - RESPONSE_DAYS))
    assert not steps.ingest(settings).needs_attention
    assert steps.build(settings, quiet=True).success
    built = steps.audiences_build(settings)
    exported = steps.audiences_export(settings)
    steps.generate(settings, CONFIG, days=range(CONFIG.days - RESPONSE_DAYS, CONFIG.days), respond=True)
    assert not steps.ingest(settings).needs_attention
    assert steps.build(settings, quiet=True).success
    yield settings, built, exported


@pytest.fixture
def mall_copy(activated_mall, tmp_path):
    """A private copy of the activated mall's warehouse (and privacy folder), outbox empty."""
    settings, *_ = activated_mall
    shutil.copytree(settings.warehouse_dir, tmp_path / "warehouse")
    return settings_for(tmp_path)


def _measured(settings, audience):
    rows = _sql(
        settings,
        "select conversion_uplift, conversion_uplift_ci_low, conversion_uplift_ci_high, is_conversion_significant, "
        "treatment_count, control_count, has_sample_ratio_mismatch "
        "from marts.mart_audience_runs where audience = ? and is_measured",
        [audience],
    )
    assert len(rows) == 1, f"{audience} was not measured: {rows}"
    return rows[0]


def test_the_loop_closes_treatment_beats_control_only_where_the_mall_responds(activated_mall):
    settings, _, exported = activated_mall
    assert {s.status for s in exported} == {"exported"}
    # dormant members come back when contacted (simulator.activation.TRUE_EFFECTS)
    uplift, low, high, significant, treated, control, srm = _measured(settings, "dormant_reactivation")
    assert treated > 100 and control > 20 and not srm
    assert low > 0 and significant, (uplift, low, high)
    # birthday greetings change nothing in the simulated mall: the interval holds zero
    uplift, low, high, significant, treated, control, srm = _measured(settings, "birthday_this_month")
    assert treated > 100 and control > 20
    assert low < 0 < high and not significant, (uplift, low, high)


def test_the_marketing_system_reports_the_ledgers_arms_back(activated_mall):
    settings, *_ = activated_mall
    ledger = _sql(settings, "select campaign_id, member_id, arm from activation.assignments order by all")
    echoed = _sql(
        settings,
        "select campaign_id, member_id, arm from raw_marketing.assignments where campaign_id like 'ACT-%' order by all",
    )
    assert ledger and echoed == ledger


def test_the_holdout_is_a_hash_of_audience_and_member_and_balanced(activated_mall, tmp_path):
    settings, *_ = activated_mall
    rows = _sql(settings, "select audience, member_id, arm from activation.assignments")
    shares = dict(_sql(settings, "select audience, holdout_share from activation.runs"))
    for audience, member_id, arm in rows:  # the documented rule, recomputed outside SQL
        fraction = int(hashlib.md5(f"{audience}:{member_id}".encode()).hexdigest()[:12], 16) / 2**48
        assert arm == ("control" if fraction < shares[audience] else "treatment")
    for audience, treatment, control, share in _sql(
        settings, "select audience, treatment, control, holdout_share from activation.runs where eligible > 50"
    ):
        assert srm_p_value(treatment, control, share) > 0.001, (audience, treatment, control)


def test_a_rebuild_gives_the_same_members_and_arms(mall_copy):
    settings = mall_copy
    run_date = _sql(settings, "select max(as_of_date) from marts.mart_member_360")[0][0]
    build_audiences(settings, run_date)
    first = _sql(
        settings,
        "select run_id, member_id, arm from activation.assignments where run_date = ? order by all",
        [run_date],
    )
    build_audiences(settings, run_date)
    again = _sql(
        settings,
        "select run_id, member_id, arm from activation.assignments where run_date = ? order by all",
        [run_date],
    )
    assert first and first == again


def test_exports_carry_only_the_channels_fields_and_a_manifest_that_checks(activated_mall):
    settings, _, exported = activated_mall
    folder = next((settings.outbox / "audiences").iterdir())
    manifest = json.loads((folder / "manifest.json").read_text())
    assert {e["run_id"] for e in manifest["exports"]} == {s.run_id for s in exported}
    for entry in manifest["exports"]:
        for kind, name in entry["files"].items():
            assert hashlib.sha256((folder / name).read_bytes()).hexdigest() == entry["sha256"][kind]
        header = (folder / entry["files"]["csv"]).read_text().splitlines()[0].split(",")
        assert header == entry["fields"]
        assert not {"mobile", "email", "full_name", "card_no"} & set(header)
        assert entry["gates"] and not any(entry["gates"].values())
    recorded = {e["subject"]: e["details"] for e in audit.read_entries(settings) if e["action"] == "audience_export"}
    for entry in manifest["exports"]:  # each export is in the audit chain, with its checksum
        assert recorded[entry["run_id"]]["sha256"] == entry["sha256"]["jsonl"]


# --- each gate: the build excludes its violators, and the export refuses one that slipped in


def _latest_run(settings, audience):
    return _sql(
        settings,
        "select run_id, run_date from activation.runs where audience = ? order by run_date desc limit 1",
        [audience],
    )[0]


def _treated_member(settings, audience):
    run_id, run_date = _latest_run(settings, audience)
    member = _sql(
        settings,
        "select member_id from activation.assignments where run_id = ? and arm = 'treatment' "
        "order by member_id limit 1",
        [run_id],
    )[0][0]
    return member, run_date


def _rebuild_and_refuse(settings, audience, gate, break_rule):
    """Build `audience`, break `gate`'s rule for one member it would contact: the export is
    refused naming the gate; a rebuild then leaves the member out, counted under the gate."""
    run_date = _sql(settings, "select max(as_of_date) from marts.mart_member_360")[0][0]
    build_audiences(settings, run_date, [audience])
    member, _ = _treated_member(settings, audience)
    before = _sql(
        settings,
        "select excluded from activation.gate_results where run_id = ? and gate = ?",
        [f"{audience}@{run_date}", gate],
    )[0][0]
    break_rule(member, run_date)
    with pytest.raises(ExportRefused, match=f"{gate} 1"):
        export_audiences(settings, run_date, names=[audience])
    run_id = f"{audience}@{run_date}"
    assert not (settings.outbox / "audiences" / run_date.isoformat() / f"{audience}__holdout.csv").exists()
    assert _sql(settings, "select status from activation.runs where run_id = ?", [run_id])[0][0] == "refused"
    build_audiences(settings, run_date, [audience])
    members = "select 1 from activation.assignments where run_id = ? and member_id = ?"
    assert not _sql(settings, members, [run_id, member])
    excluded = "select excluded from activation.gate_results where run_id = ? and gate = ?"
    after = _sql(settings, excluded, [run_id, gate])[0][0]
    assert after == before + 1
    assert all(s.status == "exported" for s in export_audiences(settings, run_date, names=[audience]))


def _request(settings, request_id, kind, member):
    settings.requests_path.mkdir(parents=True, exist_ok=True)
    body = {
        "request_id": request_id,
        "type": kind,
        "identifiers": {"member_id": member},
        "received": date.today().isoformat(),
        "jurisdiction": "PIPL",
    }
    (settings.requests_path / f"{request_id}.json").write_text(json.dumps(body))
    processed, problems = steps.process_requests(settings)
    assert not problems and processed


def test_gate_consent_a_withdrawal_recorded_today_is_honoured_today(mall_copy):
    settings = mall_copy
    _rebuild_and_refuse(
        settings,
        "dormant_reactivation",
        "consent",
        lambda member, _: _request(settings, "REQ-T1", "consent_withdrawal", member),
    )


def test_gate_minor_no_member_under_14(mall_copy):
    settings = mall_copy
    _rebuild_and_refuse(
        settings,
        "dormant_reactivation",
        "minor",
        lambda member, _: _sql(settings, "update marts.dim_member set is_minor = true where member_id = ?", [member]),
    )


def test_gate_erased_no_erased_person(mall_copy):
    settings = mall_copy
    _rebuild_and_refuse(
        settings,
        "dormant_reactivation",
        "erased",
        lambda member, _: suppression.add(settings, {"member_id": {member}}, "REQ-T2"),
    )


def test_gate_open_complaint_for_marketing_messages_only(mall_copy):
    settings = mall_copy

    def complain(member, _):
        _sql(settings, "update marts.mart_member_360 set open_complaint_count = 1 where member_id = ?", [member])

    _rebuild_and_refuse(settings, "dormant_reactivation", "open_complaint", complain)
    # a service message (points expiry) is not held back by a complaint
    service = next(a for a in load_audiences() if a.purpose == "service")
    ctx = gates.GateContext(settings, service, date.today(), load_rules())
    con = duckdb.connect(str(settings.warehouse))
    try:
        con.execute("create temp table c as select member_id from marts.mart_member_360 where open_complaint_count > 0")
        assert con.execute(f"select count(*) from ({gates.open_complaint_violators(con, 'c', ctx)})").fetchone()[0] == 0
    finally:
        con.close()


def test_gate_frequency_cap_across_audiences_per_member_and_channel(mall_copy):
    settings = mall_copy

    def two_earlier_messages(member, run_date):
        for n in (1, 2):  # exported on the two days before, on the same channel
            run_id, day = f"earlier_{n}@{run_date}", run_date - timedelta(days=n)
            _sql(
                settings,
                "insert into activation.runs values (?, 'earlier', 'x', 'app_push', 'marketing', ?, ?, 'v', 0.2, ?, "
                "1, 1, 1, 0, 'exported', now(), now(), null)",
                [run_id, day, f"ACT-X{n}", -n],
            )
            _sql(
                settings,
                "insert into activation.assignments values (?, ?, 'earlier', 'app_push', ?, ?, 'treatment')",
                [run_id, f"ACT-X{n}", day, member],
            )

    _rebuild_and_refuse(settings, "dormant_reactivation", "frequency_cap", two_earlier_messages)


def test_contacts_in_clear_are_refused_unless_the_policy_grants_them(mall_copy):
    settings = mall_copy
    run_date = _sql(settings, "select max(as_of_date) from marts.mart_member_360")[0][0]
    build_audiences(settings, run_date, ["points_expiring_30d"])
    with pytest.raises(ContactsNotAllowed, match="grants the marketing role .* not clear"):
        export_audiences(settings, run_date, contacts=True, names=["points_expiring_30d"])
    assert not (settings.outbox / "audiences").exists()


def test_an_erasure_removes_the_member_from_the_ledger_and_the_outbox(mall_copy):
    settings = mall_copy
    run_date = _sql(settings, "select max(as_of_date) from marts.mart_member_360")[0][0]
    build_audiences(settings, run_date, ["dormant_reactivation"])
    export_audiences(settings, run_date, names=["dormant_reactivation"])
    member, _ = _treated_member(settings, "dormant_reactivation")
    folder = settings.outbox / "audiences" / run_date.isoformat()
    assert member in (folder / "dormant_reactivation__app_push.jsonl").read_text()
    _request(settings, "REQ-T3", "erasure", member)
    assert not _sql(settings, "select 1 from activation.assignments where member_id = ?", [member])
    manifest = json.loads((folder / "manifest.json").read_text())
    (entry,) = [e for e in manifest["exports"] if e["audience"] == "dormant_reactivation"]
    for kind, name in entry["files"].items():
        text = (folder / name).read_text()
        assert member not in text
        assert hashlib.sha256(text.encode()).hexdigest() == entry["sha256"][kind]
    assert len((folder / entry["files"]["jsonl"]).read_text().splitlines()) == entry["rows"]


def test_export_folders_past_their_retention_are_purged(mall_copy):
    settings = mall_copy
    run_date = _sql(settings, "select max(as_of_date) from marts.mart_member_360")[0][0]
    build_audiences(settings, run_date, ["dormant_reactivation"])
    export_audiences(settings, run_date, names=["dormant_reactivation"])
    folder = settings.outbox / "audiences" / run_date.isoformat()
    assert purge_expired(settings, run_date + timedelta(days=retention_days())) == []
    assert folder.exists()
    assert purge_expired(settings, run_date + timedelta(days=retention_days() + 1)) == [run_date.isoformat()]
    assert not folder.exists()


def test_the_dagster_job_builds_gates_exports_and_delivers(mall_copy, postgres_server):
    settings = replace(
        mall_copy, postgres_port=postgres_server.postgres_port, postgres_dir=postgres_server.postgres_dir
    )
    _sql(settings, "delete from activation.runs where status <> 'exported'")  # only the job's own runs
    defs = build_activation_definitions(settings)
    try:
        _the_job_delivers_every_exported_run(settings, defs)
    finally:  # the session's server is shared: leave its delivery schema as the other tests expect it
        with psycopg2.connect(server.dsn(settings)) as conn, conn.cursor() as cur:
            cur.execute("drop schema if exists mallcrm_activation cascade")
            cur.execute("drop schema if exists mallcrm_activation_staging cascade")


def _the_job_delivers_every_exported_run(settings, defs):
    result = defs.resolve_job_def("activation_daily").execute_in_process()
    assert result.success
    checks = [e for e in result.all_events if e.event_type_value == "ASSET_CHECK_EVALUATION"]
    assert {c.event_specific_data.check_name for c in checks} == {f"audience_gate_{g}" for g in gates.GATES}
    assert all(c.event_specific_data.passed for c in checks)
    exported = _sql(
        settings,
        "select run_id, treatment from activation.runs "
        "where status = 'exported' and run_date = (select max(run_date) from activation.runs)",
    )
    assert exported
    delivered = {e["run_id"]: e["rows"] for e in delivered_exports(settings)}
    for run_id, treatment in exported:
        assert delivered[run_id] == treatment


def test_a_run_built_from_an_older_definition_is_not_exported(mall_copy):
    settings = mall_copy
    run_date = _sql(settings, "select max(as_of_date) from marts.mart_member_360")[0][0]
    build_audiences(settings, run_date, ["dormant_reactivation"])
    _sql(settings, "update activation.runs set definition_version = 'older' where status = 'built'")
    with pytest.raises(ExportRefused, match="definition version older"):
        export_audiences(settings, run_date, names=["dormant_reactivation"])
    assert not (settings.outbox / "audiences").exists()


def test_status_never_creates_a_warehouse(tmp_path):
    settings = settings_for(tmp_path)
    assert latest_runs(settings) == [] and not settings.warehouse.exists()


def test_the_holdout_balance_is_tested_on_the_members_new_to_the_audience(mall_copy):
    """A persistent holdout keeps a member's arm, so a re-run's returning members are
    selected by their earlier arm (contacted members who came back leave a reactivation
    audience, held-out ones stay): their split drifts by design. The check guards the
    hash on the new members, and refuses a split that is off there."""
    settings = mall_copy
    run_date = _sql(settings, "select max(as_of_date) from marts.mart_member_360")[0][0]
    run_id = f"dormant_reactivation@{run_date}"
    returning = (
        "member_id in (select member_id from activation.assignments "
        "where audience = 'dormant_reactivation' and run_date < ?)"
    )
    build_audiences(settings, run_date, ["dormant_reactivation"])
    _sql(
        settings,
        f"update activation.assignments set arm = 'treatment' where run_id = ? and not {returning}",
        [run_id, run_date],
    )
    with pytest.raises(ExportRefused, match="holdout_balance 1"):
        export_audiences(settings, run_date, names=["dormant_reactivation"])
    build_audiences(settings, run_date, ["dormant_reactivation"])
    moved = _sql(
        settings, f"select count(*) from activation.assignments where run_id = ? and {returning}", [run_id, run_date]
    )
    assert moved[0][0] > 20
    _sql(
        settings,
        f"update activation.assignments set arm = 'control' where run_id = ? and {returning}",
        [run_id, run_date],
    )
    assert [s.status for s in export_audiences(settings, run_date, names=["dormant_reactivation"])] == ["exported"]
