"""Root causes of complaints (投诉根因) from their scrubbed Chinese descriptions.

Privacy by design: the only text read is `masked.msk_feedback__complaints.complaint_text_scrubbed`
(identifiers and names already replaced by placeholders in dbt), never staging or raw. The
placeholders are dropped before segmentation, the text is scrubbed again with
privacy/patterns.py (should the dbt scrub ever miss something), and a term is kept only when it
is two or more Chinese characters, not a stopword, not tagged a person's name by jieba and not
matched by a personal-data pattern: phone numbers, e-mails and names cannot become terms.

Each complaint is segmented with jieba (its dictionary ships in the package; the mall terms of
complaint_terms.txt are added) and gets the root cause of ml/complaint_root_causes.yml whose
keywords it hits most (ties: the cause listed first; no hit: the fallback). The output,
`ml_scores.complaint_root_causes`, has one row per complaint and term (term_position 0 and no
term for a complaint without any), replaced as a whole on every run.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path

import jieba
import jieba.posseg
import pandas as pd
import yaml

from mallcrm.core.settings import Settings
from mallcrm.core.warehouse import connect
from privacy import patterns

RULES_FILE = Path(__file__).resolve().with_name("complaint_root_causes.yml")
TERMS_FILE = Path(__file__).resolve().with_name("complaint_terms.txt")
SOURCE_RELATION = "masked.msk_feedback__complaints"
STORES_RELATION = "masked.msk_reference__stores"
SCORE_TABLE = "complaint_root_causes"
COLUMNS = [
    "complaint_id",
    "root_cause",
    "root_cause_label",
    "term_position",
    "term",
    "is_cause_keyword",
    "rules_version",
    "scored_at",
]

_CHINESE_TERM = re.compile(r"[\u4e00-\u9fff]{2,}")
# placeholders the scrub writes ([电话], [姓名], ...): not words of the complaint
_PLACEHOLDERS = tuple(sorted({p.placeholder for p in patterns.PATTERNS} | {patterns.NAME_PLACEHOLDER}))
_NAME_FLAGS = ("nr",)  # jieba's part-of-speech tags of person names (nr, nrfg, nrt)

logging.getLogger("jieba").setLevel(logging.WARNING)  # jieba logs its dictionary loading to stderr


class RulesError(ValueError):
    """complaint_root_causes.yml is malformed."""


@dataclass(frozen=True)
class Rules:
    fallback: str
    causes: dict[str, tuple[str, ...]]  # cause -> keywords, in priority order
    labels: dict[str, str]
    stopwords: frozenset[str]
    version: str


def load_rules(path: Path = RULES_FILE, terms_file: Path = TERMS_FILE) -> Rules:
    """The keyword table; its version is a hash of it and of the dictionary, so a changed
    rule shows in the output."""
    raw_bytes = path.read_bytes()
    raw = yaml.safe_load(raw_bytes) or {}
    causes = raw.get("causes")
    if not isinstance(causes, dict) or not causes or not raw.get("fallback"):
        raise RulesError(f"{path.name}: needs `fallback` and a non-empty `causes` mapping")
    keywords: dict[str, tuple[str, ...]] = {}
    seen: dict[str, str] = {}
    for cause, spec in causes.items():
        words = tuple(str(w) for w in (spec or {}).get("keywords") or ())
        if not words:
            raise RulesError(f"{path.name}: cause {cause} has no keywords")
        for w in words:
            if w in seen:
                raise RulesError(f"{path.name}: keyword {w} is listed under both {seen[w]} and {cause}")
            seen[w] = cause
        keywords[str(cause)] = words
    version = hashlib.sha256(raw_bytes + b"\0" + terms_file.read_bytes()).hexdigest()[:12]
    return Rules(
        fallback=str(raw["fallback"]),
        causes=keywords,
        labels={str(raw["fallback"]): str(raw.get("fallback_label", raw["fallback"]))}
        | {str(c): str((s or {}).get("label", c)) for c, s in causes.items()},
        stopwords=frozenset(str(w) for w in raw.get("stopwords") or ()),
        version=version,
    )


@lru_cache(maxsize=1)
def _segmenter(terms_file: Path = TERMS_FILE) -> jieba.posseg.POSTokenizer:
    """jieba with the mall terms; built once per process (loading the dictionary takes ~1 s)."""
    tokenizer = jieba.Tokenizer()
    segmenter = jieba.posseg.POSTokenizer(tokenizer)
    segmenter.load_userdict(str(terms_file))
    return segmenter


def segment(text: str | None, places: Iterable[str] = ()) -> list[tuple[str, str]]:
    """(word, part-of-speech flag) of the text, without the placeholders of scrubbed personal
    data and without `places` (store names say where, not why; zone names such as 地下停车场
    or 美食广场 stay: they often are the why)."""
    if not isinstance(text, str) or not text:  # NULL (NaN or None in a frame) or empty
        return []
    text = patterns.scrub(text)
    for removed in (*_PLACEHOLDERS, *sorted(places, key=len, reverse=True)):
        text = text.replace(removed, " ")
    return [(p.word, p.flag) for p in _segmenter().cut(text)]


def terms(words: Iterable[tuple[str, str]], stopwords: frozenset[str] = frozenset()) -> list[str]:
    """The content terms, first occurrence order: Chinese words of 2+ characters that are no
    stopword, no person's name and no personal-data pattern."""
    out: dict[str, None] = {}
    for word, flag in words:
        if (
            _CHINESE_TERM.fullmatch(word)
            and word not in stopwords
            and not flag.startswith(_NAME_FLAGS)
            and not patterns.contains(word)
        ):
            out.setdefault(word, None)
    return list(out)


def root_cause(words: Iterable[str], rules: Rules) -> tuple[str, list[str]]:
    """(cause, the keywords that decided it): most keyword hits, ties to the earlier cause."""
    found = set(words)
    best, best_hits = rules.fallback, []
    for cause, keywords in rules.causes.items():
        hits = [k for k in keywords if k in found]
        if len(hits) > len(best_hits):
            best, best_hits = cause, hits
    return best, best_hits


def classify(complaints: pd.DataFrame, rules: Rules, scored_at: datetime, places: Iterable[str] = ()) -> pd.DataFrame:
    """One row per complaint and term (term_position 0, term NULL: a complaint without terms)."""
    places = tuple(p for p in places if p)
    rows = []
    for complaint_id, text in zip(complaints["complaint_id"], complaints["complaint_text_scrubbed"], strict=True):
        found = terms(segment(text, places), rules.stopwords)
        cause, hits = root_cause(found, rules)
        if not found:
            rows.append((complaint_id, cause, rules.labels[cause], 0, None, False))
        label = rules.labels[cause]
        rows += [(complaint_id, cause, label, i, term, term in hits) for i, term in enumerate(found, start=1)]
    # typed even when empty or without any term, so the table's column types never vary
    frame = pd.DataFrame(rows, columns=COLUMNS[:6]).astype(
        {"complaint_id": "string", "root_cause": "string", "root_cause_label": "string", "term": "string"}
        | {"term_position": "int32", "is_cause_keyword": bool}
    )
    frame["rules_version"] = rules.version
    frame["scored_at"] = pd.Timestamp(scored_at.replace(tzinfo=None))
    return frame[COLUMNS]


def read_complaints(settings: Settings) -> tuple[pd.DataFrame, list[str]]:
    """The masked complaints' ids and scrubbed descriptions (the only text this step reads),
    and the store names to leave out of the terms."""
    con = connect(settings)
    try:
        complaints = con.sql(
            f"select complaint_id, complaint_text_scrubbed from {SOURCE_RELATION} order by complaint_id"
        ).df()
        places = [row[0] for row in con.execute(f"select distinct store_name from {STORES_RELATION}").fetchall()]
    finally:
        con.close()
    return complaints, places


def score_root_causes(settings: Settings, now: datetime | None = None) -> pd.DataFrame:
    """Root causes and terms of every masked complaint, ready for ml_scores."""
    complaints, places = read_complaints(settings)
    return classify(complaints, load_rules(), now or datetime.now(UTC), places)
