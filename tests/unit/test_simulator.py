"""The source-system simulator writes exactly what the export contract declares.

Tiny configurations keep every test fast; one medium run (module-scoped) checks the
behavioural signals (churn, campaign uplift) that analytics will rely on.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest
import yaml

from mallcrm.core.settings import EXPORT_FORMATS_FILE
from simulator import SimulationConfig, generate
from simulator import names as vocabulary

TINY = dict(seed=7, members=200, stores=8, days=31)  # Nov 1 .. Dec 1
MEDIUM = dict(seed=11, members=2500, stores=8, days=135)  # Nov 1 .. Mar 15


def contract() -> dict[tuple[str, str], dict]:
    raw = yaml.safe_load(EXPORT_FORMATS_FILE.read_text(encoding="utf-8"))
    return {(s, e): spec for s, sd in raw["systems"].items() for e, spec in sd["entities"].items()}


CONTRACT = contract()


def entity_of(relpath: str) -> tuple[str, str]:
    system, name = relpath.split("/")[-2:]
    entity = re.sub(r"_\d{8}(_resend)?\.\w+$", "", name)
    return system, entity


def files_of(report, key) -> list[str]:
    return [f for f in report.files if entity_of(f) == key and not f.startswith("..") and "_resend" not in f]


def sql_list(paths) -> str:
    return "[" + ", ".join(f"'{p}'" for p in paths) + "]"


def read_sql(inbox: Path, report, key) -> str:
    """SQL reading all files of an entity with the declared column types."""
    spec = CONTRACT[key]
    paths = [str(inbox / f) for f in files_of(report, key)]
    cols = "{" + ", ".join(f"'{c}': '{d['type']}'" for c, d in spec["columns"].items()) + "}"
    if spec["format"] == "csv":
        return (
            f"select * from read_csv({sql_list(paths)}, header=true, columns={cols}, "
            "auto_detect=false, delim=',', quote='\"', escape='\"', nullstr='')"
        )
    if spec["format"] == "jsonl":
        paths = [p for p in paths if Path(p).stat().st_size > 0]
        return f"select * from read_json({sql_list(paths)}, columns={cols}, format='newline_delimited')"
    return f"select * from read_parquet({sql_list(paths)})"


def load(inbox: Path, report, systems=None) -> duckdb.DuckDBPyConnection:
    """One table per entity (named system_entity), parsed with the contract types."""
    con = duckdb.connect()
    for key in CONTRACT:
        if files_of(report, key) and (systems is None or key[0] in systems):
            con.execute(f"create table {key[0]}_{key[1]} as {read_sql(inbox, report, key)}")
    return con


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    inbox = tmp_path_factory.mktemp("tiny") / "inbox"
    return inbox, generate(SimulationConfig(**TINY), inbox, progress=False)


@pytest.fixture(scope="module")
def tiny_dirty(tmp_path_factory):
    inbox = tmp_path_factory.mktemp("dirty") / "inbox"
    return inbox, generate(SimulationConfig(**TINY, dirty=True), inbox, progress=False)


@pytest.fixture(scope="module")
def medium(tmp_path_factory):
    inbox = tmp_path_factory.mktemp("medium") / "inbox"
    report = generate(SimulationConfig(**MEDIUM), inbox, progress=False)
    return inbox, report, load(inbox, report, ("pos", "membership", "feedback", "marketing", "digital"))


@pytest.fixture(scope="module")
def tiny_db(tiny):
    inbox, report = tiny
    return load(inbox, report)


# files and formats --------------------------------------------------------------------


def test_same_seed_gives_byte_identical_files(tiny, tmp_path):
    """Same seed and config => same bytes, even in another process (other hash seed)."""
    inbox, report = tiny
    script = (
        "import sys; from pathlib import Path; from simulator import SimulationConfig, "
        f"generate; generate(SimulationConfig(**{TINY!r}), Path(sys.argv[1]), "
        "progress=False)"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    subprocess.run(
        [sys.executable, "-c", script, str(tmp_path / "inbox")],
        check=True,
        env=env,
        cwd=Path(__file__).resolve().parents[2],
    )
    again = sorted(str(p.relative_to(tmp_path / "inbox")) for p in (tmp_path / "inbox").rglob("*") if p.is_file())
    assert again == sorted(report.files)
    for rel in report.files:
        assert (inbox / rel).read_bytes() == (tmp_path / "inbox" / rel).read_bytes(), rel
    generate(SimulationConfig(**{**TINY, "seed": 8, "days": 3}), tmp_path / "o", progress=False)
    rel = "pos/transactions_20251101.csv"
    assert (tmp_path / "o" / rel).read_bytes() != (inbox / rel).read_bytes()


def test_file_names_and_schedule(tiny):
    inbox, report = tiny
    for rel in report.files:
        assert re.fullmatch(r"[a-z]+/[a-z_]+_\d{8}\.(csv|jsonl|parquet)", rel), rel
        key = entity_of(rel)
        assert key in CONTRACT, rel
        assert rel.endswith("." + CONTRACT[key]["format"])
        assert (inbox / rel).is_file()
    daily = [k for k in CONTRACT if k[0] != "reference" and k[1] not in ("campaigns", "assignments")]
    for key in daily:
        assert len(files_of(report, key)) == TINY["days"], key
    # reference snapshots on the first day and on the 1st of each month
    assert sorted(f[-12:-4] for f in files_of(report, ("reference", "stores"))) == ["20251101", "20251201"]
    campaigns = files_of(report, ("marketing", "campaigns"))
    assert campaigns == ["marketing/campaigns_20251103.csv"]
    assert report.rows["marketing/campaigns_20251103.csv"] == 1
    assert sum(report.totals.values()) == sum(report.rows.values())
    json.loads(report.to_json())


def test_every_file_has_the_contract_columns_in_order(tiny):
    inbox, report = tiny
    for rel in report.files:
        key = entity_of(rel)
        expected = list(CONTRACT[key]["columns"])
        path = inbox / rel
        fmt = CONTRACT[key]["format"]
        if fmt == "csv":
            with path.open(encoding="utf-8", newline="") as fh:
                header = next(csv.reader(fh))
            assert header == expected, rel
        elif fmt == "jsonl":
            for line in path.read_text(encoding="utf-8").splitlines():
                assert list(json.loads(line)) == expected, rel
        else:
            assert pq.read_schema(path).names == expected, rel


def test_files_parse_with_declared_types_and_rules_hold(tiny, tiny_db):
    inbox, report = tiny
    con = tiny_db
    for key, spec in CONTRACT.items():
        view = f"{key[0]}_{key[1]}"
        n = con.sql(f"select count(*) from {view}").fetchall()[0][0]
        assert n == report.totals[key], key
        if key[1] not in ("campaigns",):
            assert n > 0, f"no rows at all for {key}"
        for name, predicate in (spec.get("rules") or {}).items():
            bad = con.sql(f"select count(*) from {view} where not coalesce(({predicate}), false)").fetchall()[0][0]
            assert bad == 0, f"{key} rule {name} fails on {bad} rows"
        for col, cdef in spec["columns"].items():
            if cdef.get("required"):
                nulls = con.sql(f"select count(*) from {view} where {col} is null").fetchall()[0][0]
                assert nulls == 0, f"{key}.{col} is required but has {nulls} NULLs"
        pk = ", ".join(spec["primary_key"])
        dup = con.sql(f"select count(*) from (select {pk} from {view} group by all having count(*) > 1)").fetchall()[0][
            0
        ]
        assert dup == 0, f"{key}: duplicate primary keys"


def test_parquet_and_jsonl_types(tiny):
    inbox, report = tiny
    rel = files_of(report, ("sensors", "wifi_dwell"))[0]
    schema = pq.read_schema(inbox / rel)
    types = {f.name: str(f.type) for f in schema}
    assert types == {
        "device_hash": "string",
        "zone_id": "string",
        "visit_date": "date32[day]",
        "first_seen_at": "timestamp[us]",
        "last_seen_at": "timestamp[us]",
        "dwell_minutes": "int32",
        "visits": "int32",
    }
    hashes = pq.read_table(inbox / rel).column("device_hash").to_pylist()
    assert all(re.fullmatch(r"[0-9a-f]{64}", h) for h in hashes)
    text = b"".join((inbox / f).read_bytes() for f in report.files if f.endswith(".csv"))
    assert not re.search(rb"\b[0-9a-f]{2}(:[0-9a-f]{2}){5}\b", text), "a MAC in clear"
    for rel in files_of(report, ("feedback", "surveys")):
        for line in (inbox / rel).read_text(encoding="utf-8").splitlines():
            ts = json.loads(line)["submitted_at"]
            assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", ts), ts


def test_csv_conventions(tiny):
    inbox, report = tiny
    txn = (inbox / "pos/transactions_20251105.csv").read_text(encoding="utf-8").splitlines()
    assert re.fullmatch(
        r'"T\d{14}","sale",,"S\d{3}",.*,\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,'
        r"-?\d+\.\d\d,\d+\.\d\d,.*",
        txn[1],
    )
    complaints = "".join((inbox / f).read_text(encoding="utf-8") for f in files_of(report, ("feedback", "complaints")))
    assert re.search(r",(true|false),", complaints)
    assert "\r" not in complaints


# content ------------------------------------------------------------------------------


def test_amount_arithmetic(tiny_db):
    con = tiny_db
    assert (
        con.sql("""select count(*) from pos_transactions
        where net_amount <> gross_amount - discount_amount - points_redeemed / 100.0
           or (payment_method = 'points') <> (net_amount = 0)""").fetchall()[0][0]
        == 0
    )
    bad = con.sql("""
        with l as (select transaction_id, sum(quantity * unit_price) v, sum(discount_amount) d,
                          sum(line_amount) a,
                          sum(case when line_amount <> quantity * unit_price - discount_amount
                              then 1 else 0 end) wrong
                   from pos_transaction_lines group by 1)
        select count(*) from pos_transactions t left join l using (transaction_id)
        where l.v is null or l.v <> t.gross_amount or l.d <> t.discount_amount
           or l.a <> t.gross_amount - t.discount_amount or l.wrong > 0""").fetchall()[0][0]
    assert bad == 0
    # every line belongs to a receipt; line numbers are 1..n
    assert (
        con.sql("""select count(*) from pos_transaction_lines l
        anti join pos_transactions using (transaction_id)""").fetchall()[0][0]
        == 0
    )
    assert (
        con.sql("""select count(*) from (select transaction_id, max(line_no) m, count(*) c
        from pos_transaction_lines group by 1) where m <> c""").fetchall()[0][0]
        == 0
    )


def test_refunds_reference_existing_sales(tiny_db):
    con = tiny_db
    refunds = con.sql("""select r.transaction_id, s.transaction_id s_id, r.transaction_at,
            s.transaction_at s_at, r.net_amount, s.net_amount s_net, r.store_id, s.store_id s_store
        from pos_transactions r left join pos_transactions s
          on s.transaction_id = r.original_transaction_id and s.transaction_type = 'sale'
        where r.transaction_type = 'refund'""").fetchall()
    assert refunds, "no refunds in 30 days"
    for rid, sid, r_at, s_at, r_net, s_net, r_store, s_store in refunds:
        assert sid is not None, rid
        assert r_at > s_at and r_store == s_store
        assert r_net < 0 and -r_net <= s_net
    # refunded lines repeat lines of the original receipt with negative quantities
    assert (
        con.sql("""select count(*) from pos_transactions r
        join pos_transaction_lines rl using (transaction_id)
        where r.transaction_type = 'refund' and (rl.quantity >= 0 or not exists (
            select 1 from pos_transaction_lines sl
            where sl.transaction_id = r.original_transaction_id and sl.sku = rl.sku
              and sl.quantity = -rl.quantity and sl.unit_price = rl.unit_price))""").fetchall()[0][0]
        == 0
    )
    share = con.sql("""select -sum(net_amount) filter (where transaction_type = 'refund')
        / sum(net_amount) filter (where transaction_type = 'sale') from pos_transactions""").fetchall()[0][0]
    assert 0.002 < share < 0.08


def test_references_resolve(tiny_db):
    con = tiny_db
    checks = {
        "card": """select count(*) from pos_transactions t where member_card_no is not null
                   and member_card_no not in (select card_no from membership_members)""",
        "mobile": """select count(*) from pos_transactions t where member_mobile is not null
                   and member_mobile not in (select mobile from membership_members)""",
        "store": """select count(*) from pos_transactions anti join reference_stores
                   using (store_id)""",
        "sku": """select count(*) from pos_transaction_lines anti join reference_products
                  using (sku)""",
        "coupon": """select count(*) from pos_transactions t where coupon_code is not null and
                  coupon_code not in (select coupon_code from marketing_coupon_events
                                      where event_type = 'redeemed')""",
        "redeemed": """select count(*) from marketing_coupon_events e where event_type =
                  'redeemed' and not exists (select 1 from pos_transactions t where
                  t.transaction_id = e.transaction_id and t.coupon_code = e.coupon_code
                  and t.store_id = e.store_id)""",
        "earn": """select count(*) from membership_points_ledger where transaction_id is not
                  null and transaction_id not in (select transaction_id from pos_transactions)""",
        "ledger_member": """select count(*) from membership_points_ledger anti join
                  membership_members using (member_id)""",
        "zone": """select count(*) from reference_stores anti join reference_zones
                  using (zone_id)""",
    }
    for name, query in checks.items():
        assert con.sql(query).fetchall()[0][0] == 0, name
    assert con.sql(
        "select count(distinct sku) = count(*) from reference_products where snapshot_date = date '2025-11-01'"
    ).fetchall()[0][0]


def test_points_balances_never_negative(tiny_db):
    con = tiny_db
    assert (
        con.sql("""select count(*) from (select member_id, sum(points) over (
        partition by member_id order by entry_at, entry_id) bal from membership_points_ledger)
        where bal < 0""").fetchall()[0][0]
        == 0
    )
    earn = con.sql("""select count(*) from membership_points_ledger l join pos_transactions t
        using (transaction_id) where l.entry_type = 'earn'
        and l.points - l.bonus_points <> floor(t.net_amount)""").fetchall()[0][0]
    assert earn == 0


def test_people_and_population(tiny_db):
    con = tiny_db
    row = con.sql("""select count(*), count(distinct member_id), count(distinct card_no),
        sum(case when country_code = 'CN' and regexp_full_match(mobile, '1[3589]\\d{9}')
            then 1 else 0 end) cn_ok, sum(case when country_code = 'CN' then 1 else 0 end) cn,
        sum(case when country_code <> 'CN' and mobile like '+%' then 1 else 0 end) fx_ok,
        sum(case when country_code <> 'CN' then 1 else 0 end) fx,
        min(length(card_no)), max(length(card_no))
        from (select * from membership_members qualify row_number() over (
              partition by member_id order by updated_at desc) = 1)""").fetchall()[0]
    n, ids, cards, cn_ok, cn, fx_ok, fx, lmin, lmax = row
    assert n == ids == cards == TINY["members"]
    assert cn_ok == cn and fx_ok == fx and 0 < fx < 0.25 * n
    assert lmin == lmax == 16
    visitors, receipts = con.sql("""select (select sum(count_in) from sensors_people_counts
        where location_type = 'entrance'), (select count(*) from pos_transactions)""").fetchall()[0]
    assert receipts < visitors < 3 * receipts  # conversion in the tens of percent (docs/simulator.md)


def test_text_encodes_in_gbk():
    texts = [n for pool in vocabulary.STORE_NAMES.values() for n in pool]
    texts += [p[0] for pool in vocabulary.PRODUCTS.values() for p in pool]
    texts += [z[1] for z in vocabulary.ZONES] + list(vocabulary.TENANT_CITIES)
    texts += [m for pool in vocabulary.PRODUCT_MODIFIERS.values() for m in pool]
    texts += list(vocabulary.COLORS) + list(vocabulary.TENANT_WORDS)
    texts += [b for pool in vocabulary.MULTI_BRAND.values() for b in pool]
    for text in texts:
        text.encode("gbk")


def test_gbk_files_decode_as_gbk_not_utf8(tmp_path):
    small = {**TINY, "days": 3}
    inbox, gbk_inbox = tmp_path / "utf8", tmp_path / "gbk"
    generate(SimulationConfig(**small), inbox, progress=False)
    gbk = generate(SimulationConfig(**small, pos_encoding="gbk"), gbk_inbox, progress=False)
    for rel in gbk.files:
        raw = (gbk_inbox / rel).read_bytes()
        key = entity_of(rel)
        if "gbk" in CONTRACT[key]["encodings"]:
            text = raw.decode("gbk")
            assert text == (inbox / rel).read_bytes().decode("utf-8"), rel
            if key[0] == "reference":
                with pytest.raises(UnicodeDecodeError):
                    raw.decode("utf-8")
        else:
            assert raw == (inbox / rel).read_bytes(), rel


# dirty data ---------------------------------------------------------------------------


def _csv_row(line: str) -> list[str]:
    return next(csv.reader(io.StringIO(line)))


def test_dirty_report_points_at_real_defects(tiny, tiny_dirty):
    clean_inbox, clean = tiny
    inbox, report = tiny_dirty
    kinds = {d["kind"] for d in report.injected}
    assert kinds == {
        "too_many_columns",
        "too_few_columns",
        "non_numeric_amount",
        "negative_sale_amount",
        "unknown_member",
        "duplicate_row",
        "duplicate_file",
        "late_file",
        "extra_column",
        "missing_column",
    }
    member_cards = set()
    for rel in files_of(clean, ("membership", "members")):
        with (clean_inbox / rel).open(encoding="utf-8") as fh:
            member_cards |= {r["card_no"] for r in csv.DictReader(fh)}
    touched = defaultdict(set)
    for d in report.injected:
        path = inbox / d["file"]
        assert path.is_file(), d
        assert d["expected"] in ("quarantine", "refused_file", "duplicate_file", "late_file", "loaded")
        kind = d["kind"]
        if d["line"] is None:
            if kind == "duplicate_file":
                original = d["file"].replace("_resend", "")
                assert path.read_bytes() == (inbox / original).read_bytes()
            else:
                assert kind == "late_file" and d["file"].startswith("../late/pos/")
                assert not (inbox / d["file"].removeprefix("../late/")).exists()
            continue
        lines = path.read_text(encoding="utf-8").split("\n")
        line = lines[d["line"] - 1]
        touched[d["file"]].add(d["line"])
        key = entity_of(d["file"])
        cols = list(CONTRACT[key]["columns"])
        if kind == "extra_column":
            assert d["line"] == 1 and _csv_row(line) == cols + ["id_card_no"]
        elif kind == "missing_column":
            assert d["line"] == 1 and _csv_row(line) == [c for c in cols if c != "severity"]
        elif kind == "duplicate_row":
            assert line == lines[d["line"] - 2]
        else:
            fields = _csv_row(line)
            if kind == "too_many_columns":
                assert len(fields) > len(cols)
                continue
            if kind == "too_few_columns":
                assert len(fields) < len(cols)
                continue
            row = dict(zip(cols, fields, strict=True))
            if kind == "non_numeric_amount":
                with pytest.raises(ValueError):
                    float(row["net_amount"])
            elif kind == "negative_sale_amount":
                assert row["transaction_type"] == "sale" and float(row["net_amount"]) < 0
            elif kind == "unknown_member":
                assert row["member_card_no"] and row["member_card_no"] not in member_cards
    # apart from the reported lines, the dirty files are the clean files
    for rel in clean.files:
        dirty_path = inbox / rel
        if not dirty_path.exists():
            assert any(d["file"] == "../late/" + rel for d in report.injected)
            continue
        column_defect = [
            d["kind"] for d in report.injected if d["file"] == rel and d["kind"] in ("extra_column", "missing_column")
        ]
        if column_defect:
            with dirty_path.open(encoding="utf-8", newline="") as fh:
                dirty_rows = list(csv.reader(fh))
            with (clean_inbox / rel).open(encoding="utf-8", newline="") as fh:
                clean_rows = list(csv.reader(fh))
            if column_defect == ["extra_column"]:
                assert [r[:-1] for r in dirty_rows] == clean_rows
            else:
                at = clean_rows[0].index("severity")
                assert dirty_rows == [r[:at] + r[at + 1 :] for r in clean_rows]
            continue
        if rel not in touched:
            assert dirty_path.read_bytes() == (clean_inbox / rel).read_bytes(), rel
            continue
        dirty_lines = dirty_path.read_text(encoding="utf-8").split("\n")
        kept = [ln for i, ln in enumerate(dirty_lines, 1) if i not in touched[rel]]
        clean_lines = (clean_inbox / rel).read_text(encoding="utf-8").split("\n")
        assert set(kept) <= set(clean_lines), rel
    # exactly the reported rows of the transaction files are malformed
    malformed = 0
    for rel in files_of(report, ("pos", "transactions")):
        with (inbox / rel).open(encoding="utf-8", newline="") as fh:
            malformed += sum(1 for r in csv.reader(fh) if len(r) != 15)
    assert malformed == sum(1 for d in report.injected if d["kind"] in ("too_many_columns", "too_few_columns"))


# behavioural signal (medium run) ------------------------------------------------------


def test_medium_run_is_plausible(medium):
    inbox, report, con = medium
    member_share, weekend_lift = con.sql("""select
        avg(case when member_card_no is not null or member_mobile is not null then 1 else 0 end),
        (count(*) filter (where dayofweek(transaction_at) in (0, 6)) / 2.0) /
        (count(*) filter (where dayofweek(transaction_at) in (1, 2, 3)) / 3.0)
        from pos_transactions where transaction_type = 'sale'""").fetchall()[0]
    assert 0.5 < member_share < 0.7
    assert weekend_lift > 1.2
    double11 = con.sql("""select count(*) filter (where cast(transaction_at as date) =
        date '2025-11-11') / (count(*) filter (where cast(transaction_at as date) in
        (date '2025-11-04', date '2025-11-18')) / 2) from pos_transactions""").fetchall()[0][0]
    assert double11 > 1.4  # against the Tuesdays before and after
    pays = dict(
        con.sql("""select payment_method, count(*) / sum(count(*)) over ()
        from pos_transactions group by 1""").fetchall()
    )
    assert 0.38 < pays["wechat_pay"] < 0.52 and 0.28 < pays["alipay"] < 0.42
    phones = con.sql("""select avg(case when regexp_matches(comment, '1[3-9]\\d{9}')
        then 1 else 0 end) from feedback_surveys""").fetchall()[0][0]
    assert 0.01 < phones < 0.08
    sla = con.sql("""select avg(case when resolved_at <= opened_at + interval 2 hour then 1
        else 0 end) from feedback_complaints where status <> 'open' and severity = 'normal'""").fetchall()[0][0]
    assert 0.7 < sla < 0.95


def test_low_scores_announce_churn(medium):
    """Detractors (NPS <= 6) have mostly stopped buying two months later; promoters not."""
    inbox, report, con = medium
    rows = con.sql("""
        with ids as (select distinct member_id, card_no key from membership_members
                     union select distinct member_id, mobile from membership_members),
        buys as (select i.member_id, t.transaction_at from pos_transactions t
                 join ids i on i.key = coalesce(t.member_card_no, t.member_mobile)
                 where t.transaction_type = 'sale'),
        first_survey as (select member_id, arg_min(nps_score, submitted_at) nps
                         from feedback_surveys where member_id is not null
                         and nps_score is not null group by 1
                         having min(submitted_at) < timestamp '2026-01-10')
        select case when nps <= 6 then 'detractor' when nps >= 9 then 'promoter' end grp,
               avg(case when exists (select 1 from buys b where b.member_id = s.member_id
                   and b.transaction_at >= timestamp '2026-02-14') then 0 else 1 end) churned,
               count(*) n
        from first_survey s where nps <= 6 or nps >= 9 group by 1""").fetchall()
    stats = {g: (churned, n) for g, churned, n in rows}
    assert stats["detractor"][1] >= 10 and stats["promoter"][1] >= 40
    assert stats["detractor"][0] > stats["promoter"][0] + 0.15, stats


def test_campaign_treatment_converts_better_than_control(medium):
    inbox, report, con = medium
    rows = con.sql("""
        with ids as (select distinct member_id, card_no key from membership_members
                     union select distinct member_id, mobile from membership_members),
        buys as (select distinct i.member_id, cast(t.transaction_at as date) d
                 from pos_transactions t
                 join ids i on i.key = coalesce(t.member_card_no, t.member_mobile)
                 where t.transaction_type = 'sale')
        select case when a.arm = 'control' then 'control' else 'treatment' end as arm, count(*) n,
            avg(case when exists (select 1 from buys b
                 where b.member_id = a.member_id and b.d between c.start_date and c.end_date)
                 then 1 else 0 end) conversion
        from marketing_assignments a join marketing_campaigns c using (campaign_id)
        where c.end_date <= date '2026-03-15'
        group by 1""").fetchall()
    stats = {arm: (n, conv) for arm, n, conv in rows}
    assert stats["control"][0] >= 100
    assert 0.12 < stats["control"][0] / (stats["control"][0] + stats["treatment"][0]) < 0.3
    assert stats["treatment"][1] > stats["control"][1] + 0.03, stats
    issued = con.sql("""select count(*) from marketing_coupon_events e join
        marketing_assignments a using (campaign_id, member_id)
        where event_type = 'issued' and arm = 'control'""").fetchall()[0][0]
    assert issued == 0
    redeemed = con.sql("select count(*) from marketing_coupon_events where event_type = 'redeemed'").fetchall()[0][0]
    assert redeemed > 20


def test_medium_rules_hold(medium):
    inbox, report, con = medium
    for key, spec in CONTRACT.items():
        if key[0] in ("sensors", "reference"):
            continue
        view = f"{key[0]}_{key[1]}"
        for name, predicate in (spec.get("rules") or {}).items():
            bad = con.sql(f"select count(*) from {view} where not coalesce(({predicate}), false)").fetchall()[0][0]
            assert bad == 0, f"{key} rule {name} fails on {bad} rows"
