"""Recall of the one identifier normaliser and detector (privacy/patterns.py) on planted
variants, and its false positives on ordinary text.

A planted set is generated systematically: base identifiers of each type (CN mobiles,
e-mail addresses, card numbers, CN ID numbers, landlines) x the forms people type them in
(full-width digits and letters, a full-width ＠, separators space/dot/dash, brackets,
+86 / 0086 / (+86) prefixes, groups of four) x sentences (Chinese and English) around
them. A variant is recalled when `find_identifiers` finds it with the right type and the
normalized value of the base identifier, and `scrub` leaves none of it. The SQL scrubber
(scrub_sql on DuckDB, the SQL the dbt macro renders) must give the same text as Python
on every variant. Names: common surnames + given names in name contexts, and the member
list's own names (exact).

    .venv/bin/python -m pytest tests/unit/test_pii_recall.py -q -s   # prints the figures
"""

from __future__ import annotations

import random

import duckdb
import pytest

from privacy import patterns
from simulator import names as sim

RECALL_THRESHOLD = 0.99  # measured: 1.0 on the planted identifiers (see the printed figures)
NAME_RECALL_THRESHOLD = 0.95

FW = str.maketrans({chr(c): chr(c + 0xFEE0) for c in range(0x21, 0x7F)} | {" ": "\u3000"})


def full_width(text: str) -> str:
    return text.translate(FW)


CONTEXTS = [
    "{}",
    "请联系我，电话{}。",
    "麻烦回电{}，谢谢",
    "我的会员卡号是{}，请帮我查一下积分",
    "邮箱：{}（工作日联系）",
    "Please call me at {} thanks",
    "my contact: {}.",
    "在鲜丰超市买的东西坏了，{}，尽快处理！",
    "（{}）",
    "投诉人信息 {}\n其他：无",
]


def _mobiles(rng: random.Random, n: int) -> list[str]:
    prefixes = ["138", "139", "150", "186", "177", "199", "135", "158", "189", "166"]
    return [rng.choice(prefixes) + f"{rng.randrange(10**8):08d}" for _ in range(n)]


def _mobile_forms(m: str) -> list[str]:
    a, b, c = m[:3], m[3:7], m[7:]
    return [
        m,
        full_width(m),
        f"{a} {b} {c}",
        f"{a}.{b}.{c}",
        f"{a}-{b}-{c}",
        f"({a}){b}-{c}",
        f"({a}) {b} {c}",
        f"+86 {m}",
        f"+86-{a}-{b}-{c}",
        f"(+86){m}",
        f"(+86) {a} {b} {c}",
        f"0086 {m}",
        f"0086-{a}-{b}-{c}",
        f"86 {a} {b} {c}",
        f"+86{m}",
        full_width(f"+86 {a} {b} {c}"),
        full_width(f"({a}){b}-{c}"),
        full_width(f"{a}-{b}-{c}"),
        f"{full_width(a)} {full_width(b)} {full_width(c)}",
        full_width(f"(+86){m}"),
        f"{a} - {b} - {c}",
        f"+86 ({a}) {b}-{c}",
        f"{a} {b[:3]} {b[3:]}{c}",
    ]


def _emails(rng: random.Random, n: int) -> list[str]:
    users = ["zhang.wei", "li_na88", "wang.fang", "chen-jing", "liu.yang2001", "Zhao.Lei", "sun_li", "Zhou.Min"]
    domains = ["qq.com", "163.com", "126.com", "sina.com", "mail.example.com.cn", "gmail.com", "outlook.com"]
    return [f"{rng.choice(users)}{i}@{rng.choice(domains)}" for i in range(n)]


def _email_forms(e: str) -> list[str]:
    user, domain = e.split("@")
    return [
        e,
        e.replace("@", "＠"),
        full_width(e),
        e.upper(),
        f"{user}＠{full_width(domain)}",
        f"{user.title()}@{domain}",
    ]


def _cards(rng: random.Random, n: int) -> list[str]:
    heads = ["8860", "6222", "6228", "6217", "6225"]
    return [rng.choice(heads) + f"{rng.randrange(10**12):012d}" for _ in range(n)]


def _card_forms(c: str) -> list[str]:
    groups = [c[i : i + 4] for i in range(0, 16, 4)]
    return [
        c,
        " ".join(groups),
        "-".join(groups),
        ".".join(groups),
        full_width(c),
        full_width(" ".join(groups)),
        "\u3000".join(groups),
        full_width("-".join(groups)),
        "  ".join(groups),
        " - ".join(groups),
    ]


def _ids(rng: random.Random, n: int) -> list[str]:
    out = []
    for _ in range(n):
        area = rng.choice(["110105", "310101", "440305", "330106", "510107"])
        birth = f"{rng.randrange(1950, 2008)}{rng.randrange(1, 13):02d}{rng.randrange(1, 29):02d}"
        out.append(area + birth + f"{rng.randrange(1000):03d}" + rng.choice("0123456789X"))
    return out


def _id_forms(i: str) -> list[str]:
    return [i, i.lower(), f"{i[:6]} {i[6:14]} {i[14:]}", full_width(i), f"{i[:6]}-{i[6:14]}-{i[14:]}"]


def _landlines(rng: random.Random, n: int) -> list[tuple[str, str]]:
    return [
        (
            rng.choice(["010", "021", "0755", "020", "0571"]),
            f"{rng.randrange(2, 10)}{rng.randrange(10**6):06d}{rng.randrange(10)}",
        )
        for _ in range(n)
    ]


def _landline_forms(area: str, number: str) -> list[str]:
    return [
        f"{area}-{number}",
        f"({area}){number}",
        f"({area}) {number[:4]}-{number[4:]}",
        full_width(f"{area}-{number}"),
    ]


def planted() -> list[tuple[str, str, str, str]]:
    """(text, pii_type, normalized value of the base identifier, planted form)."""
    rng = random.Random(16)
    rows = []

    def add(pii_type: str, base: str, forms: list[str]) -> None:
        expected = patterns.normalize(base, pii_type)
        for form in forms:
            context = CONTEXTS[len(rows) % len(CONTEXTS)]
            rows.append((context.format(form), pii_type, expected, form))

    for m in _mobiles(rng, 25):
        add("mobile", m, _mobile_forms(m))
    for e in _emails(rng, 25):
        add("email", e, _email_forms(e))
    for c in _cards(rng, 25):
        add("card_no", c, _card_forms(c))
    for i in _ids(rng, 20):
        add("id_number", i, _id_forms(i))
    for area, number in _landlines(rng, 20):
        add("phone", area + number, _landline_forms(area, number))
    return rows


PLANTED = planted()

CN_DIGITS = str.maketrans("0123456789", "〇一二三四五六七八九")


def hard() -> list[tuple[str, str, str, str]]:
    """Forms the detector does NOT handle (its known limits), measured and reported only:
    digits spaced one by one, Chinese numerals, e-mails with spaces around @ or 'at'/'dot'."""
    rng = random.Random(17)
    rows = []
    for m in _mobiles(rng, 10):
        for form in (" ".join(m), m.translate(CN_DIGITS)):
            rows.append((f"电话{form}谢谢", "mobile", patterns.normalize(m, "mobile"), form))
    for e in _emails(rng, 10):
        user, domain = e.split("@")
        for form in (f"{user} @ {domain}", f"{user} at {domain.replace('.', ' dot ')}"):
            rows.append((f"邮箱 {form} 谢谢", "email", e.lower(), form))
    return rows


HARD = hard()


def recalled(text: str, pii_type: str, expected: str) -> bool:
    found = any(m.pii_type == pii_type and m.normalized == expected for m in patterns.find_identifiers(text))
    scrubbed = patterns.scrub(text)
    digits_left = "".join(ch for ch in patterns.fold(scrubbed) if ch.isdigit())
    core = expected[2:] if pii_type == "mobile" else expected.rstrip("X")
    leaked = core.lower() in (digits_left if pii_type != "email" else patterns.fold(scrubbed).lower())
    return found and not leaked and not patterns.contains(scrubbed)


def recall_by_type() -> dict[str, tuple[int, int]]:
    out: dict[str, tuple[int, int]] = {}
    for text, pii_type, expected, _ in PLANTED:
        hit, n = out.get(pii_type, (0, 0))
        out[pii_type] = (hit + recalled(text, pii_type, expected), n + 1)
    return out


def test_planted_identifier_recall():
    by_type = recall_by_type()
    hits = sum(h for h, _ in by_type.values())
    total = sum(n for _, n in by_type.values())
    assert total >= 200
    print(f"\nidentifier recall: {hits}/{total} = {hits / total:.4f}")
    for pii_type, (h, n) in sorted(by_type.items()):
        print(f"  {pii_type:<10} {h}/{n}")
    missed = [(form, text) for text, t, e, form in PLANTED if not recalled(text, t, e)]
    assert hits / total >= RECALL_THRESHOLD, missed[:20]


def test_known_limits_are_measured():
    """Reported, not required: the forms outside the detector's scope (see `hard`)."""
    hits = sum(recalled(text, t, e) for text, t, e, _ in HARD)
    print(f"\nrecall on out-of-scope forms (known limits): {hits}/{len(HARD)}")
    assert hits <= len(HARD)


def test_every_form_normalizes_to_the_base_value():
    """normalize() gives one value for every variant of one identifier (so one token)."""
    for _, pii_type, expected, form in PLANTED:
        assert patterns.normalize(form, pii_type) == expected, (form, pii_type)


def test_sql_scrubber_equals_python_on_every_variant():
    con = duckdb.connect()
    texts = [t for t, *_ in PLANTED] + NEGATIVES + [t for t, _ in NAMED]
    rows = con.execute(
        f"select t, {patterns.scrub_sql('t')}, {patterns.contains_sql('t')} from (select unnest(?::varchar[]) as t)",
        [texts],
    ).fetchall()
    assert len(rows) == len(texts)
    for text, scrubbed, found in rows:
        assert scrubbed == patterns.scrub(text), text
        assert found is patterns.contains(text), text


# --------------------------------------------------------------------------- names

GIVEN = ["伟", "小明", "娜", "静怡", "强", "建国", "丽", "子涵", "磊", "秀英", "晓东", "欣", "海峰", "婷"]
NAME_SURNAMES = list("王李张刘陈杨黄赵吴周徐孙马朱胡郭高林罗郑谢宋唐韩") + ["欧阳", "司马", "诸葛", "上官"]
NAME_CONTEXTS = [
    "我叫{}，电话稍后给你",
    "联系人：{}",
    "姓名:{}",
    "感谢{}先生的耐心解答。",
    "{}女士在收银台被多收了钱",
    "请转告{}小姐，退款已到账",
    "顾客{}，反映排队太久",
    "投诉店员{}。态度恶劣",
    "会员{} 的积分没到账",
    "名字是{}，会员卡丢了",
    "投诉人：{}",
]
# Name contexts the heuristic does NOT catch (its known limits), measured and reported only:
# a weak cue with the name running on, and a name without any cue.
HARD_NAME_CONTEXTS = ["店员{}态度恶劣", "{}说东西坏了", "昨天和{}一起来的"]


def _named() -> list[tuple[str, str]]:
    rng = random.Random(5)
    out = []
    for i, surname in enumerate(NAME_SURNAMES):
        for j in range(8):
            name = surname + GIVEN[(i * 3 + j) % len(GIVEN)]
            context = NAME_CONTEXTS[rng.randrange(len(NAME_CONTEXTS))]
            out.append((context.format(name), name))
    return out


NAMED = _named()
HARD_NAMED = [
    (c.format(surname + GIVEN[i % len(GIVEN)]), surname + GIVEN[i % len(GIVEN)])
    for i, surname in enumerate(NAME_SURNAMES[:10])
    for c in HARD_NAME_CONTEXTS
]


def _ordinary_sentences() -> list[str]:
    """Every comment and complaint template of the simulator, filled with every store and
    zone name: the ordinary free text of the warehouse."""
    stores = [s for ss in sim.STORE_NAMES.values() for s in ss] + ["商场"]
    zones = list(sim.ZONES) if isinstance(sim.ZONES, (list, tuple)) else list(sim.ZONES)
    zones = [z if isinstance(z, str) else str(z[1]) for z in zones]
    templates = [*sim.COMMENTS_POSITIVE, *sim.COMMENTS_NEUTRAL, *sim.COMMENTS_NEGATIVE]
    templates += [t for ts in sim.COMPLAINT_TEXT.values() for t in ts]
    out = set()
    for t in templates:
        for s in stores:
            for z in zones:
                out.add(t.format(store=s, zone=z))
    return sorted(out)


ORDINARY = _ordinary_sentences()
NEGATIVES = [
    "订单号202601151381234567890",
    "订单 2026 0520 1234 56",
    "流水号 20260520123456",
    "小票号 M0000123-0045",
    "2026-05-20 10:15:00",
    "2026.05.20",
    "2026年5月20日 13:45",
    "20260520",
    "金额138.50元",
    "¥1,380.00",
    "退款13800元",
    "共计 1380.1234 元",
    "积分 13812 分",
    "9f" * 32,
    "a3f13812345678ffee" * 2,
    "sha1 2fd4e1c67a2d28fced849ee1bb76e7391b93eb12",
    "138****5678",
    "z***@qq.com",
    "张*",
    "王先生",
    "这位女士说东西坏了",
    "于是我去找了经理",
    "会员积分老是不到账",
    "会员周末活动很多",
    "顾客高兴地离开了",
    "店员马上处理了",
    "会员黄金卡权益",
    "本人方便的时候再来",
    "经理林立的商场",
    "客户江苏来的",
    "版本 v1.2.3.4",
    "IP 192.168.100.200",
    "温度 26.5 度，湿度 45%",
    "第 3 层 12 号铺",
    "+12.5%",
    "[电话] [邮箱] [卡号] [身份证] [设备] [姓名]",
    *sorted({s for ss in sim.STORE_NAMES.values() for s in ss}),
    *sim.CAMPAIGN_THEMES.values(),
]


def test_name_recall():
    hits = sum(any(m.value.startswith(name) or name in m.value for m in patterns.find_names(t)) for t, name in NAMED)
    scrubbed_ok = sum(name not in patterns.scrub(t) for t, name in NAMED)
    print(f"\nname recall (surname + cue heuristic): {hits}/{len(NAMED)} = {hits / len(NAMED):.4f}")
    print(f"names gone after scrub: {scrubbed_ok}/{len(NAMED)}")
    assert len(NAMED) >= 200
    assert hits / len(NAMED) >= NAME_RECALL_THRESHOLD


def test_name_known_limits_are_measured():
    hits = sum(any(name in m.value for m in patterns.find_names(t)) for t, name in HARD_NAMED)
    print(f"\nname recall on out-of-scope contexts (known limits): {hits}/{len(HARD_NAMED)}")
    assert hits <= len(HARD_NAMED)


def test_known_names_exact():
    members = ["张伟", "欧阳娜娜", "John Smith", "王"]
    text = "张伟说欧阳娜娜和John Smith都来过，王也来了"
    found = patterns.find_names(text, members)
    assert [m.value for m in found] == ["张伟", "欧阳娜娜", "John Smith"]
    assert patterns.scrub(text, members) == "[姓名]说[姓名]和[姓名]都来过,王也来了"


def test_no_identifier_in_ordinary_text():
    hits = [t for t in ORDINARY + NEGATIVES if patterns.find_identifiers(t)]
    print(f"\nidentifier false positives: {len(hits)}/{len(ORDINARY) + len(NEGATIVES)}")
    assert hits == []


def test_name_false_positives_on_simulator_text():
    texts = ORDINARY + NEGATIVES
    hits = [t for t in texts if patterns.find_names(t)]
    print(f"\nname false positives: {len(hits)}/{len(texts)} ordinary texts {hits[:5]}")
    assert len(hits) / len(texts) <= 0.01


# --------------------------------------------------------------------------- the dbt macro path


@pytest.mark.parametrize(
    "form",
    [
        "１３８００１３８０００",
        "138 1234 5678",
        "138.1234.5678",
        "(138)1234-5678",
        "+86 138 1234 5678",
        "(+86)13812345678",
        "0086 138 1234 5678",
        "+86-138-1234-5678",
        "zhang＠qq.com",
        "ｚｈａｎｇ＠ｑｑ．ｃｏｍ",
        "6222 0000 0000 0001",
        "6222-0000-0000-0001",
        "6222.0000.0000.0001",
        "６２２２　００００　００００　０００１",
        "110105 19491231 002X",
    ],
)
def test_complaint_scrubbed_by_the_macro_sql_holds_no_identifier(form):
    text = f"在鲜丰超市买的牛奶过期了，我叫王小明，联系方式{form}，请尽快处理。"
    con = duckdb.connect()
    (scrubbed,) = con.execute(f"select {patterns.scrub_sql('t')} from (select ?::varchar as t)", [text]).fetchone()
    assert not patterns.contains(scrubbed), scrubbed
    assert patterns.find_identifiers(scrubbed) == []
    assert patterns.find_names(scrubbed) == []
    assert "王小明" not in scrubbed
    digits = "".join(ch for ch in patterns.fold(scrubbed) if ch.isdigit())
    assert digits == "", scrubbed
