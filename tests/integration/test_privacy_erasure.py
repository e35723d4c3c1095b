"""Erasure, access, consent withdrawal, suppression, retention and audit on one built mall.

One copy of the session's `built_mall` is taken per module and carried through the story
a compliance reviewer checks: publish -> access request -> consent withdrawal -> erasure
(bytes gone everywhere) -> the old export re-sent (not loaded again) -> retention purge
(nothing older than its policy) -> audit chain (a changed row is named) -> report.
"""

from __future__ import annotations

import csv
import json
import shutil
import time
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pytest
from click.testing import CliRunner

from cli import main
from mallcrm.core.warehouse import connect
from pipeline import steps
from privacy import audit, suppression
from privacy.policy import load_policy
from privacy.publish import role_file_path
from privacy.retention import expired_counts
from privacy.tokens import load_key, token
from quality.runner import run_checks
from tests.conftest import cli_env, mall_environment

pytestmark = pytest.mark.integration

ENCODINGS = ("utf-8", "gbk", "utf-16-le")

PERSON_SQL = """
    with m as (select * from raw_membership.members),
    candidates as (
        select m.member_id, any_value(m.name) as name, any_value(m.mobile) as mobile,
               any_value(m.email) as email, any_value(m.card_no) as card_no
        from m
        where m.name is not null and m.mobile is not null and m.email is not null and m.card_no is not null
          and length(m.name) >= 3
          and regexp_full_match(m.mobile, '1[3-9][0-9]{9}')  -- a CN mobile: the planted variants are CN forms
        group by m.member_id
        having count(distinct m.name) = 1 and count(distinct m.mobile) = 1
    )
    select c.*, (select count(*) from raw_pos.transactions t where t.member_card_no = c.card_no) as receipts
    from candidates c
    where not exists (select 1 from m o where o.member_id <> c.member_id and contains(o.name, c.name))
      and not exists (select 1 from marts.dim_member x where x.member_id = c.member_id and x.is_minor)
    -- someone online too (WeChat and the app), so the erasure must follow their online ids
    order by exists (
            select 1 from raw_digital.wechat_identities w
            join raw_digital.app_events e on e.member_id = w.member_id
            where w.member_id = c.member_id and w.unionid is not null
        ) desc, receipts desc, c.member_id
    limit 1
"""


ONLINE_SQL = """
    with bound as (select openid, unionid from raw_digital.wechat_identities where member_id = $member),
    wechat as (
        select openid as id from raw_digital.wechat_identities
        where unionid in (select unionid from bound) or openid in (select openid from bound)
        union select unionid from bound where unionid is not null
    )
    select 'wechat_id', id from wechat
    union
    select 'device_id', device_id from raw_digital.app_events
    where member_id = $member or openid in (select id from wechat)
"""


def _online_ids(settings, member_id: str) -> dict[str, set[str]]:
    """The member's WeChat ids and app devices, found independently of privacy/erasure.py."""
    con = connect(settings)
    try:
        rows = con.execute(ONLINE_SQL, {"member": member_id}).fetchall()
    finally:
        con.close()
    return {kind: {v for k, v in rows if k == kind and v} for kind in ("wechat_id", "device_id")}


def _write_request(settings, body: dict) -> None:
    folder = settings.requests_path
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{body['request_id']}.json").write_text(json.dumps(body, ensure_ascii=False), encoding="utf-8")


def _patterns(values) -> list[bytes]:
    out = set()
    for value in values:
        for enc in ENCODINGS:
            try:
                out.add(value.encode(enc))
            except UnicodeEncodeError:
                pass
    return sorted(out)


def files_holding(root: Path, values, skip: tuple[str, ...] = ()) -> dict[str, list[str]]:
    """{file: [values found]} over every file under root (not following `skip` folders)."""
    found: dict[str, list[str]] = {}
    pats = {p: v for v in values for p in _patterns([v])}
    for path in root.rglob("*"):
        if path.is_file() and not any(part in skip for part in path.relative_to(root).parts):
            data = path.read_bytes()
            hits = sorted({v for p, v in pats.items() if p in data})
            if hits:
                found[str(path.relative_to(root))] = hits
    return found


def plant_mentions(settings, person: dict) -> dict:
    """Other people's complaint and survey text naming the person, in the forms people
    write (spaced and +86 mobiles, full-width digits and @, card numbers in groups, the
    name), flowed through every layer with a rebuild. Returns the planted forms and rows."""
    mobile, card = person["mobile"], person["card_no"]
    full_width = str.maketrans("0123456789@", "０１２３４５６７８９＠")
    variants = [
        f"+86 {mobile[:3]} {mobile[3:7]} {mobile[7:]}",
        f"{mobile[:3]}-{mobile[3:7]}-{mobile[7:]}",
        mobile.translate(full_width),
        person["email"].replace("@", "＠"),
        " ".join(card[i : i + 4] for i in range(0, len(card), 4)),
    ]
    texts = [
        f"顾客{person['name']}先生的电话是{variants[0]}，请联系",
        f"my friend {person['name']} (tel {variants[1]}) lost her card {variants[4]}",
        f"联系人：{person['name']}，手机{variants[2]}，邮箱{variants[3]}",
    ]
    con = connect(settings)
    try:
        complaints = [
            r[0]
            for r in con.execute(
                "select distinct complaint_id from raw_feedback.complaints where member_id is distinct from ? "
                "and description is not null order by complaint_id limit 3",
                [person["member_id"]],
            ).fetchall()
        ]
        assert complaints, "the mall has no complaint of another member to plant text in"
        complaints = complaints[: len(texts)]
        for complaint_id, text in zip(complaints, texts, strict=False):
            con.execute(
                "update raw_feedback.complaints set description = description || ' ' || ? where complaint_id = ?",
                [text, complaint_id],
            )
        surveys = [
            r[0]
            for r in con.execute(
                "select distinct response_id from raw_feedback.surveys where member_id is distinct from ? "
                "order by response_id limit 2",
                [person["member_id"]],
            ).fetchall()
        ]
        assert surveys, "the mall has no survey of another member to plant text in"
        for response_id, text in zip(surveys, texts[1:], strict=False):
            con.execute("update raw_feedback.surveys set comment = ? where response_id = ?", [text, response_id])
    finally:
        con.close()
    selection = ["--full-refresh", "--select", "source:raw_feedback.complaints+", "source:raw_feedback.surveys+"]
    assert steps.build(settings, selection, quiet=True)
    return {"variants": variants + [person["name"]], "complaints": complaints, "surveys": surveys}


@pytest.fixture(scope="module")
def story(tmp_path_factory, built_mall):
    settings0, _, ok = built_mall
    assert ok
    root = tmp_path_factory.mktemp("privacy_story")
    shutil.copytree(settings0.inbox, root / "inbox")
    shutil.copytree(settings0.warehouse.parent, root / "warehouse")
    evidence: dict = {"root": root}
    with mall_environment(root) as settings:
        evidence["settings"] = settings
        steps.publish(settings)
        con = connect(settings)
        try:
            cols = [d for d in ("member_id", "name", "mobile", "email", "card_no", "receipts")]
            person = dict(zip(cols, con.execute(PERSON_SQL).fetchall()[0], strict=True))
            consenting = con.execute(
                "select member_id from marts.mart_member_360 c where (has_consent_marketing_sms "
                "or has_consent_marketing_wechat or has_consent_marketing_email) and member_id <> ? and not exists "
                "(select 1 from marts.dim_member d where d.member_id = c.member_id and d.is_minor) "
                "order by member_id limit 1",
                [person["member_id"]],
            ).fetchall()[0][0]
        finally:
            con.close()
        evidence["person"] = person
        evidence["online"] = _online_ids(settings, person["member_id"])
        evidence["consenting"] = consenting
        evidence["planted"] = plant_mentions(settings, person)
        values = [person[k] for k in ("name", "mobile", "email", "card_no")] + evidence["planted"]["variants"]
        evidence["before"] = files_holding(root, values, skip=("inbox",))

        # access, then consent withdrawal of another member
        _write_request(
            settings,
            {
                "request_id": "ACC-1",
                "type": "access",
                "identifiers": {"card_no": person["card_no"]},
                "received": "2026-11-02",
                "jurisdiction": "GDPR",
            },
        )
        _write_request(
            settings,
            {
                "request_id": "CW-1",
                "type": "consent_withdrawal",
                "identifiers": {"member_id": consenting},
                "received": "2026-11-02",
                "jurisdiction": "PIPL",
            },
        )
        evidence["processed_1"], evidence["problems_1"] = steps.process_requests(settings)
        access = settings.privacy_path / "access" / "ACC-1.json"
        evidence["access"] = json.loads(access.read_text(encoding="utf-8"))

        # erasure by the mobile as the person writes it
        mobile = person["mobile"]
        written = f"+86 {mobile[:3]} {mobile[3:7]} {mobile[7:]}" if len(mobile) == 11 else mobile
        _write_request(
            settings,
            {
                "request_id": "ER-1",
                "type": "erasure",
                "identifiers": {"mobile": written},
                "received": "2026-11-03",
                "jurisdiction": "CCPA",
            },
        )
        started = time.perf_counter()
        evidence["processed_2"], evidence["problems_2"] = steps.process_requests(settings)
        evidence["erasure_seconds"] = time.perf_counter() - started
        evidence["after"] = files_holding(root, values, skip=("inbox",))
        yield evidence


def test_access_export_holds_the_person_from_every_layer(story):
    processed = {d["request_id"]: d for d in story["processed_1"]}
    assert processed["ACC-1"]["status"] == "done" and processed["CW-1"]["status"] == "done", story["problems_1"]
    export = story["access"]
    person = story["person"]
    assert export["member_ids"] == [person["member_id"]]
    tables = export["tables"]
    assert tables["raw_membership.members"][0]["mobile"] == person["mobile"]
    for table in ("masked.msk_membership__members", "marts.mart_member_360", "marts.dim_member"):
        assert table in tables and all(r["member_id"] == person["member_id"] for r in tables[table])
    if person["receipts"]:
        assert len(tables["raw_pos.transactions"]) >= person["receipts"]


def test_consent_withdrawal_removes_the_member_from_the_marketing_file(story):
    settings = story["settings"]
    con = duckdb.connect(str(role_file_path(settings, "marketing")), read_only=True)
    try:
        assert not con.execute(
            "select count(*) from marts.mart_member_360 where member_id = ?", [story["consenting"]]
        ).fetchall()[0][0]
        assert con.execute("select count(*) from marts.mart_member_360").fetchall()[0][0] > 0
    finally:
        con.close()
    con = duckdb.connect(str(role_file_path(settings, "compliance")), read_only=True)
    try:  # still a member, just not for marketing
        assert (
            con.execute(
                "select count(*) from marts.mart_member_360 where member_id = ?", [story["consenting"]]
            ).fetchall()[0][0]
            == 1
        )
    finally:
        con.close()


def test_erased_values_are_in_zero_bytes_of_every_artifact(story):
    assert [d["status"] for d in story["processed_2"]] == ["done"], story["problems_2"]
    before = story["before"]
    # positive control: the scan finds the person where they were (raw tables in the file)
    assert any(name.endswith("mallcrm.duckdb") for name in before), before
    assert story["after"] == {}, story["after"]
    root = story["root"]
    # the scan covered the warehouse, BI copy, role files, dlt dir, privacy dir and request inbox
    written = {p.relative_to(root).parts[0:2] for p in root.rglob("*") if p.is_file()}
    assert ("warehouse", "mallcrm.duckdb") in written
    assert any(top == "warehouse" and sub.startswith("roles") for top, sub in written)  # role files' generation
    assert ("warehouse", "bi") in written and ("warehouse", ".dlt") in written
    assert ("warehouse", "privacy") in written
    assert not (root / "warehouse" / "privacy" / "access" / "ACC-1.json").exists()
    assert not list(story["settings"].requests_path.glob("*.json"))  # processed request files are gone


def test_other_peoples_text_naming_the_person_stays_redacted_in_every_layer(story):
    """Free text of other people that named the erased person (in any written form) is
    kept, with the person redacted out of it: raw, staging, masked and marts."""
    settings, planted = story["settings"], story["planted"]
    con = connect(settings)
    try:
        for relation, key, column in (
            ("raw_feedback.complaints", "complaint_id", "description"),
            ("staging.stg_feedback__complaints", "complaint_id", "complaint_text"),
            ("masked.msk_feedback__complaints", "complaint_id", "complaint_text_scrubbed"),
            ("marts.fct_complaints", "complaint_id", "complaint_text_scrubbed"),
            ("raw_feedback.surveys", "response_id", "comment"),
        ):
            ids = planted["complaints"] if key == "complaint_id" else planted["surveys"]
            texts = [
                r[0]
                for r in con.execute(
                    f"select {column} from {relation} where {key} in (select unnest(?::varchar[]))", [ids]
                ).fetchall()
            ]
            assert len(texts) >= len(ids), (relation, texts)  # the rows are kept
            for text in texts:
                assert not [v for v in planted["variants"] if v in text], (relation, text)
    finally:
        con.close()
    erasure = [e for e in audit.read_entries(settings) if e["action"] == "erasure"][-1]["details"]
    assert erasure["answer"] == "erased" and erasure["free_text_redacted"], erasure


def test_the_pipeline_checks_pass_after_an_erasure(story):
    """Receipt lines go with their receipts: the blocking check that every line belongs to
    a loaded receipt (and the other referential checks) still pass after an erasure."""
    results = run_checks(story["settings"], ["raw"])
    failed = [r.reason for r in results if r.outcome in ("failed", "error")]
    assert not failed, failed
    assert [r.outcome for r in results if r.check == "line belongs to a loaded receipt"] == ["passed"]


def test_an_erasure_of_an_unknown_identifier_answers_no_data_held(story):
    """Nothing suppressed unless asked: a later, genuinely new member with that mobile loads."""
    settings = story["settings"]
    before = suppression.load_entries(settings)
    _write_request(
        settings,
        {
            "request_id": "ER-UNKNOWN",
            "type": "erasure",
            "identifiers": {"mobile": "13900000017"},
            "received": "2026-11-04",
            "jurisdiction": "PIPL",
        },
    )
    processed, problems = steps.process_requests(settings)
    assert [(d["request_id"], d["status"], d["answer"]) for d in processed] == [
        ("ER-UNKNOWN", "done", "no data held")
    ], problems
    assert suppression.load_entries(settings) == before
    entry = [e for e in audit.read_entries(settings) if e["action"] == "erasure"][-1]
    assert entry["subject"] == "ER-UNKNOWN" and entry["details"]["answer"] == "no data held"
    assert entry["details"]["suppressed"] is False


def test_erased_member_is_gone_from_every_table_and_tracked_by_token(story):
    settings, person = story["settings"], story["person"]
    card_token = token(person["card_no"], "card_no", load_key(settings))
    con = connect(settings)
    try:
        for relation in ("staging.stg_membership__members", "marts.mart_member_360", "marts.dim_member"):
            assert not con.execute(
                f"select count(*) from {relation} where member_id = ?", [person["member_id"]]
            ).fetchall()[0][0], relation
        assert not con.execute(
            "select count(*) from masked.msk_pos__transactions where member_card_no_token = ?", [card_token]
        ).fetchall()[0][0]
        row = con.execute(
            "select status, request_type, identifier_tokens from privacy.requests where request_id = 'ER-1'"
        ).fetchall()[0]
        assert row[0] == "done" and row[1] == "erasure"
        assert row[2] == [token(person["mobile"], "mobile", load_key(settings))]
    finally:
        con.close()


def test_erasure_takes_the_persons_online_ids_and_anonymous_app_events(story):
    """Their official-account openid (linked only by the unionid) and the events their
    phones sent before logging in hold no member id, and still go."""
    settings, online = story["settings"], story["online"]
    assert online["wechat_id"] and online["device_id"], "the chosen member uses the app or mini-program"
    key = load_key(settings)
    con = connect(settings)
    try:
        for relation, column, kind in (
            ("raw_digital.wechat_identities", "openid", "wechat_id"),
            ("raw_digital.wechat_identities", "unionid", "wechat_id"),
            ("raw_digital.app_events", "device_id", "device_id"),
        ):
            held = con.execute(
                f"select count(*) from {relation} where {column} in (select unnest(?::varchar[]))",
                [sorted(online[kind])],
            ).fetchall()[0][0]
            assert held == 0, (relation, column)
        tokens = sorted(t for v in online["device_id"] if (t := token(v, "device_id", key)))
        assert not con.execute(
            "select count(*) from masked.msk_digital__app_events "
            "where device_id_token in (select unnest(?::varchar[]))",
            [tokens],
        ).fetchall()[0][0]
    finally:
        con.close()


def test_resending_an_old_export_does_not_bring_the_member_back(story):
    settings, person = story["settings"], story["person"]
    source = next(
        p
        for p in sorted((settings.inbox / "membership").glob("members_*.csv"))
        if person["mobile"] in p.read_text(encoding="utf-8")
    )
    lines = source.read_text(encoding="utf-8").splitlines()
    header, mine = lines[0], next(line for line in lines[1:] if person["mobile"] in line)
    other = next(line for line in lines[1:] if person["mobile"] not in line)
    fields = next(csv.reader([mine]))
    columns = next(csv.reader([header]))
    fields[columns.index("birthday")] = "not-a-date"  # a broken copy of the person's row
    broken = ",".join(f'"{f}"' for f in fields)
    resent = source.with_name(source.stem + "_v9.csv")
    resent.write_text("\n".join([header, mine, broken, other]) + "\n", encoding="utf-8")
    report = steps.ingest(settings, systems=["membership"])
    record = next(f for f in report.files if f["source_file"].endswith(resent.name))
    assert record["rows_loaded"] == 1 and record["rows_quarantined"] == 0
    con = connect(settings)
    try:
        assert not con.execute(
            "select count(*) from raw_membership.members where member_id = ?", [person["member_id"]]
        ).fetchall()[0][0]
        assert not con.execute(
            "select count(*) from raw_membership.quarantined_rows where contains(raw_record, ?)", [person["mobile"]]
        ).fetchall()[0][0]
        suppressed = con.execute(
            "select rows_suppressed from raw_membership.suppressed_rows where source_file = ?", [record["source_file"]]
        ).fetchall()[0][0]
    finally:
        con.close()
    assert record["rows_suppressed"] == suppressed == 2  # the person's line and its broken copy
    # every line is accounted for: loaded + quarantined + suppressed
    assert record["rows_in_file"] == record["rows_loaded"] + record["rows_quarantined"] + suppressed == 3
    assert files_holding(story["root"], [person["mobile"], person["email"]], skip=("inbox",)) == {}


def test_a_masking_key_rotation_does_not_bring_the_member_back(story):
    """The suppression list has its own key: after the masking key rotates (new key, new
    version), the old export re-sent once more still keeps the erased member out."""
    settings, person = story["settings"], story["person"]
    card_token_before = token(person["card_no"], "card_no", load_key(settings))
    settings = replace(settings, hmac_key="rotated-masking-key-for-the-erasure-test-42", hmac_key_version="it-rotated")
    assert token(person["card_no"], "card_no", load_key(settings)) != card_token_before
    source = next(
        p
        for p in sorted((settings.inbox / "membership").glob("members_*.csv"))
        if person["mobile"] in p.read_text(encoding="utf-8") and "_v" not in p.stem
    )
    # re-exported in another order (the same bytes under a new name would be skipped as a duplicate)
    header, *rows = source.read_text(encoding="utf-8").splitlines()
    resent = source.with_name(source.stem + "_v10.csv")
    resent.write_text("\n".join([header, *reversed(rows)]) + "\n", encoding="utf-8")
    lines = len(rows)
    report = steps.ingest(settings, systems=["membership"])
    record = next(f for f in report.files if f["source_file"].endswith(resent.name))
    assert record["rows_suppressed"] >= 1
    assert record["rows_loaded"] + record["rows_quarantined"] + record["rows_suppressed"] == lines
    con = connect(settings)
    try:
        assert not con.execute(
            "select count(*) from raw_membership.members where member_id = ?", [person["member_id"]]
        ).fetchall()[0][0]
        assert (
            con.execute(
                "select count(*) from raw_membership.members where _source_file = ?", [record["source_file"]]
            ).fetchall()[0][0]
            == record["rows_loaded"]
            > 0
        )
    finally:
        con.close()
    assert files_holding(story["root"], [person["mobile"], person["email"]], skip=("inbox",)) == {}


def test_retention_purge_leaves_no_record_older_than_its_policy(story):
    settings = story["settings"]
    as_of = date(2026, 11, 1)  # the small mall's wifi dwell (90 days) has expired by then
    con = connect(settings)
    try:
        expired = {k: v["expired"] for k, v in expired_counts(con, load_policy(), as_of).items() if v["expired"]}
        wifi_before = con.execute("select count(*) from marts.mart_zone_dwell_daily").fetchall()[0][0]
    finally:
        con.close()
    assert expired.get("raw_sensors.wifi_dwell") and wifi_before
    result = steps.purge(settings, as_of=as_of)
    assert result.rebuilt and result.affected == sum(expired.values())
    con = connect(settings)
    try:
        left = {k: v["expired"] for k, v in expired_counts(con, load_policy(), as_of).items() if v["expired"]}
        assert left == {}
        cutoff = as_of - timedelta(days=90)
        assert not con.execute(
            "select count(*) from marts.mart_zone_dwell_daily where business_date < ?", [cutoff]
        ).fetchall()[0][0]
        aggregated = con.execute(
            "select sum(rows) from privacy.retention_aggregates where table_name = 'raw_sensors.wifi_dwell'"
        ).fetchall()[0][0]
        assert aggregated == expired["raw_sensors.wifi_dwell"]
    finally:
        con.close()
    entry = [e for e in audit.read_entries(settings) if e["action"] == "retention_purge"][-1]
    wifi = entry["details"]["tables"]["raw_sensors.wifi_dwell"]
    assert wifi["rows_before"] == expired["raw_sensors.wifi_dwell"] and wifi["rows_after"] == 0


def test_compliance_report_and_tampering_with_one_audit_row(story):
    settings = story["settings"]
    runner = CliRunner()
    _write_request(
        settings,
        {
            "request_id": "LATE-1",
            "type": "access",
            "identifiers": {"member_id": "M9999999"},
            "received": "2026-01-05",
            "jurisdiction": "PIPL",
        },
    )
    result = runner.invoke(main, ["compliance-report"], env=cli_env(settings))
    assert result.exit_code == 0, result.output
    md = Path(result.output.split()[-1]).read_text(encoding="utf-8")
    assert "| ER-1 | erasure | CCPA |" in md and "LATE-1" in md and "OVERDUE" in md
    assert "retention_purge" in md and "raw_sensors.wifi_dwell" in md
    assert story["person"]["mobile"] not in md
    html_file = Path(result.output.split()[-3])
    assert html_file.suffix == ".html" and "<table>" in html_file.read_text(encoding="utf-8")

    ok = runner.invoke(main, ["privacy", "audit-verify"], env=cli_env(settings))
    assert ok.exit_code == 0 and "intact" in ok.output, ok.output
    log = audit.log_path(settings)
    original = log.read_text(encoding="utf-8")
    lines = original.splitlines()
    target = next(i for i, line in enumerate(lines) if '"action": "erasure"' in line)
    entry = json.loads(lines[target])
    entry["details"]["rows_removed"] += 1
    lines[target] = json.dumps(entry, sort_keys=True, ensure_ascii=False)
    log.write_text("\n".join(lines) + "\n", encoding="utf-8")
    try:
        bad = runner.invoke(main, ["privacy", "audit-verify"], env=cli_env(settings))
        assert bad.exit_code == 1
        assert f"entry {entry['seq']} " in bad.output and "altered" in bad.output
    finally:
        log.write_text(original, encoding="utf-8")
