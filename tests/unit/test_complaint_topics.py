"""Complaint root causes (ml/complaint_topics.py): jieba segmentation of Chinese complaints,
the keyword table, the step that writes ml_scores.complaint_root_causes, and that no
personal data ever becomes a term."""

from __future__ import annotations

from datetime import UTC, datetime

import duckdb
import numpy as np
import pandas as pd
import pytest

from ml import complaint_topics as ct
from pipeline import steps
from privacy import patterns
from simulator import names
from tests.conftest import settings_for

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
RULES = ct.load_rules()


def _terms(text: str, places=()) -> list[str]:
    return ct.terms(ct.segment(text, places), RULES.stopwords)


def test_segments_mall_complaints_into_content_terms():
    assert _terms("排队结账超过半小时，收银台只开了一个。") == ["排队", "结账", "超过", "半小时", "收银台"]
    # mall terms of complaint_terms.txt stay whole words
    assert _terms("美食广场排队太久，取餐混乱。") == ["美食广场", "排队", "太久", "取餐", "混乱"]
    assert _terms("地下车库找不到车位，指示牌混乱。")[:1] == ["地下车库"]
    # stopwords, single characters and punctuation are no terms
    assert "要求" not in _terms("要求赔偿！！") and _terms("。，！") == []


def test_store_names_are_no_terms():
    text = "优衣库店员服务态度恶劣。地下停车场的卫生间没有纸巾"
    assert any("优衣" in t for t in _terms(text))  # without the store names, they would be
    terms = _terms(text, places=["优衣库"])
    assert terms == ["店员", "服务", "态度恶劣", "地下", "停车场", "卫生间", "纸巾"]


@pytest.mark.parametrize(
    ("text", "cause"),
    [
        ("{store}排队结账超过半小时，收银台只开了一个。", "waiting"),
        ("{store}店员服务态度恶劣，说话很不耐烦。", "staff_attitude"),
        ("在{store}申请退款被拒，理由不合理。", "refund"),
        ("退款已经一周还没到账。", "refund"),
        ("地下车库找不到车位，指示牌混乱。", "parking"),
        ("在{store}购买的商品使用不久就出现质量问题，要求退换。", "product_quality"),  # tie: listed first wins
        ("{zone}的卫生间没有纸巾，而且很脏。", "cleanliness"),
        ("{zone}扶梯突然停运，差点摔倒。", "facilities"),
        ("会员积分被莫名扣除，请核实。", "loyalty_points"),  # tie with overcharge (扣除): listed first
        ("停车场收费与公示不符，多收了费用。", "overcharge"),  # 3 overcharge hits beat 1 parking hit
        ("希望增加一些绿植。", "other"),  # no keyword: the fallback
    ],
)
def test_root_cause_of_chinese_complaints(text, cause):
    found = _terms(text.format(store="优衣库", zone="A区"), places=["优衣库", "A区"])
    got, hits = ct.root_cause(found, RULES)
    assert got == cause
    assert (hits == []) == (cause == RULES.fallback)


def test_every_simulated_complaint_text_has_a_cause_other_than_the_fallback_but_other():
    for category, templates in names.COMPLAINT_TEXT.items():
        for template in templates:
            found = _terms(template.format(store="某店", zone="某区"), places=["某店", "某区"])
            cause, _ = ct.root_cause(found, RULES)
            assert cause != RULES.fallback or category == "other", (category, template, found)


def test_every_keyword_is_a_whole_jieba_word():
    """A keyword jieba never produces could never hit: each must segment as itself."""
    for cause, keywords in RULES.causes.items():
        for keyword in keywords:
            assert [w for w, _ in ct.segment(keyword)] == [keyword], (cause, keyword)


def test_rules_refuse_a_keyword_under_two_causes(tmp_path):
    bad = tmp_path / "rules.yml"
    bad.write_text("fallback: other\ncauses:\n  a: {keywords: [排队]}\n  b: {keywords: [等待, 排队]}\n", "utf-8")
    with pytest.raises(ct.RulesError, match="排队 is listed under both a and b"):
        ct.load_rules(bad)
    bad.write_text("fallback: other\ncauses:\n  a: {keywords: []}\n", "utf-8")
    with pytest.raises(ct.RulesError, match="cause a has no keywords"):
        ct.load_rules(bad)


def _complaints_with_personal_data(n: int = 300, seed: int = 7) -> tuple[pd.DataFrame, list[str]]:
    """Complaint texts as the simulator writes them, with phone numbers, e-mails, ID and card
    numbers (the policy's own examples) and names after the policy's cues."""
    rng = np.random.default_rng(seed)
    identifiers = [e for p in patterns.PATTERNS for e in p.examples]
    person_names = ["张伟", "王芳", "李娜", "刘洋", "陈静", "欧阳明", "司马光"]
    cues = ["我叫{name}，", "联系人{name}。", "{name}女士说", "{name}先生反映"]
    templates = [t for ts in names.COMPLAINT_TEXT.values() for t in ts]
    texts = []
    for i in range(n):
        text = templates[i % len(templates)].format(store="优衣库", zone="A区")
        text = cues[int(rng.integers(len(cues)))].format(name=person_names[i % len(person_names)]) + text
        text += names.COMPLAINT_PHONE[i % len(names.COMPLAINT_PHONE)].format(mobile=f"13{rng.integers(10**8, 10**9)}")
        text += f"备用：{identifiers[i % len(identifiers)]}"
        texts.append(text)
    frame = pd.DataFrame({"complaint_id": [f"C{i:04d}" for i in range(n)], "complaint_text_scrubbed": texts})
    return frame, person_names


@pytest.mark.parametrize("scrubbed_first", [True, False], ids=["scrubbed", "even_unscrubbed"])
def test_no_personal_data_reaches_the_terms(scrubbed_first):
    """The step reads scrubbed text; even handed text in clear, no identifier, digit run or
    name comes out as a term (it scrubs again and keeps only Chinese words, never a name)."""
    frame, person_names = _complaints_with_personal_data()
    if scrubbed_first:
        frame["complaint_text_scrubbed"] = [patterns.scrub(t) for t in frame["complaint_text_scrubbed"]]
    out = ct.classify(frame, RULES, NOW, places=["优衣库", "A区"])
    found = out["term"].dropna()
    assert len(found) > len(frame)  # terms were found at all
    assert not any(patterns.contains(t) for t in found)
    assert not found.str.contains(r"[0-9A-Za-z@]").any()
    leaked = {t for t in found if any(name in t or t in name for name in person_names)}
    assert leaked == set()
    assert set(out["complaint_id"]) == set(frame["complaint_id"])


def test_classify_writes_one_row_per_complaint_and_term():
    frame = pd.DataFrame(
        {
            "complaint_id": ["A", "B", "C"],
            "complaint_text_scrubbed": ["排队结账太久，收银台排队", None, "[电话]"],
        }
    )
    out = ct.classify(frame, RULES, NOW)
    assert list(out.columns) == ct.COLUMNS
    a = out[out["complaint_id"] == "A"]
    assert list(a["term"]) == ["排队", "结账", "太久", "收银台"]  # distinct, first-occurrence order
    assert list(a["term_position"]) == [1, 2, 3, 4]
    assert set(a["root_cause"]) == {"waiting"} and set(a["root_cause_label"]) == {"排队等待"}
    assert a["is_cause_keyword"].all()
    # no text, or only a placeholder: one row, position 0, no term, the fallback
    for cid in ("B", "C"):
        row = out[out["complaint_id"] == cid]
        assert len(row) == 1 and row["term_position"].iloc[0] == 0 and row["term"].isna().all()
        assert row["root_cause"].iloc[0] == RULES.fallback
    assert out["rules_version"].nunique() == 1 and len(out["rules_version"].iloc[0]) == 12


def _masked_warehouse(settings, texts: dict[str, str]) -> None:
    settings.warehouse.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(settings.warehouse))
    con.execute("create schema masked")
    con.execute("create table masked.msk_feedback__complaints (complaint_id varchar, complaint_text_scrubbed varchar)")
    con.executemany("insert into masked.msk_feedback__complaints values (?, ?)", list(texts.items()))
    con.execute("create table masked.msk_reference__stores (store_name varchar)")
    con.execute("insert into masked.msk_reference__stores values ('优衣库')")
    con.close()


def test_step_replaces_the_score_table_idempotently(tmp_path):
    settings = settings_for(tmp_path)
    _masked_warehouse(settings, {"C1": "优衣库排队结账太久", "C2": "A区卫生间很脏，联系电话[电话]"})
    assert steps.complaint_root_causes(settings) == 5
    assert steps.complaint_root_causes(settings) == 5  # a re-run replaces, never appends
    con = duckdb.connect(str(settings.warehouse), read_only=True)
    rows = con.execute(
        "select complaint_id, root_cause, term from ml_scores.complaint_root_causes order by 1, term_position"
    ).fetchall()
    con.close()
    assert rows == [
        ("C1", "waiting", "排队"),
        ("C1", "waiting", "结账"),
        ("C1", "waiting", "太久"),
        ("C2", "cleanliness", "卫生间"),
        ("C2", "cleanliness", "很脏"),
    ]
