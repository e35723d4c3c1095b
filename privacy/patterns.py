"""The one identifier normaliser and detector: the personal-data patterns, name cues and
normalisation rules of privacy/policy.yml, for Python and SQL.

privacy/policy.yml (`pii_patterns`, `pii_names`, `pii_normalization`) is the one table of
these rules; this module reads it at import and is the only code that interprets it:

- Python: `fold(text)` (full-width forms -> ASCII, one character for one),
  `normalize(value, pii_type)` (the canonical form a token is computed from,
  privacy/tokens.py), `find(text)` / `contains(text)` (identifiers or names in clear),
  `find_identifiers(text)` / `find_names(text, known_names)` (the spans, as `Match`),
  `scrub(text, known_names)` (identifiers and names replaced by placeholders) and
  `redact(text, values, names)` (only one person's identifiers and names replaced:
  erasure, in other people's free text);
- SQL: `fold_sql`, `normalize_sql`, `contains_sql`, `pattern_sql`, `names_sql`,
  `known_name_sql`, `scrub_sql` and `prefilter_sql` write the same rules as SQL expressions, for DuckDB
  (`dialect="duckdb"`: erasure, the leak scanner, the Soda checks), for Spark
  (`dialect="spark"`: Java regexes in string literals that unescape backslashes, `$1`
  back-references, no chr() above 255) or for other engines (`dialect="default"`:
  regexp_like, regexp_replace without flags, translate).
  `python -m privacy.render` writes them into the dbt macros (macros/privacy/pii_rules.sql),
  with `{{ column }}` as the expression.

Every detection folds the text first (`fold`), so the regexes only know ASCII; a span of
the folded text is the same span of the original text. A pattern matches as a whole
token: the characters around it are `boundary` (not an ASCII letter or digit) or the
start/end of the text. Without look-around (RE2 has none) the boundaries are matched as
groups 1 and 2 around the pattern, which is why patterns may only use non-capturing
groups. Name patterns use the same two groups for their context: a cue before the name
(我叫, 联系人 ...) or after it (先生, 女士 ...), which stays in the text.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

POLICY_FILE = Path(__file__).resolve().with_name("policy.yml")
DIALECTS = ("duckdb", "default", "spark")
STEPS = ("fold", "trim", "lower", "upper", "digits", "alnum", "strip_prefix", "national_prefix")
IDENTIFIER_TYPES = ("mobile", "email", "card_no", "id_number", "phone", "device_id")
# Constructs whose meaning differs between Python `re` and RE2, or that RE2 lacks.
_NOT_PORTABLE = re.compile(r"\(\?[=!<]|\\[bBdDwWsS0-9]|\(\?P")


@dataclass(frozen=True)
class Pattern:
    name: str
    pii_type: str
    description: str
    regex: str  # the identifier itself, without boundaries
    placeholder: str
    examples: tuple[str, ...]
    not_examples: tuple[str, ...]
    before: str | None = None  # group 1: the context before (None: `boundary` or start)
    after: str | None = None  # group 2: the context after (None: `boundary` or end)

    @property
    def bounded(self) -> str:
        if self.before is None and self.after is None:
            return bounded(self.regex)
        return f"({self.before})(?:{self.regex})({self.after})"


@dataclass(frozen=True)
class Match:
    """One identifier or name found in a text; `start`/`end` index the ORIGINAL text."""

    start: int
    end: int
    pattern: str  # the pattern's name (person_name for names)
    pii_type: str
    value: str  # the original substring
    normalized: str | None  # normalize(value, pii_type); None for names


def _load() -> dict[str, Any]:
    with open(POLICY_FILE, encoding="utf-8") as fh:
        policy = yaml.safe_load(fh)
    return {
        "patterns": policy["pii_patterns"],
        "normalization": policy["pii_normalization"],
        "names": policy["pii_names"],
    }


_TABLE = _load()
BOUNDARY: str = _TABLE["patterns"]["boundary"]
PATTERNS: tuple[Pattern, ...] = tuple(
    Pattern(
        name=p["name"],
        pii_type=p["pii_type"],
        description=" ".join(str(p.get("description", "")).split()),
        regex=p["regex"],
        placeholder=p["placeholder"],
        examples=tuple(p.get("examples") or ()),
        not_examples=tuple(p.get("not_examples") or ()),
    )
    for p in _TABLE["patterns"]["patterns"]
)
WHITESPACE: str = _TABLE["normalization"]["whitespace"]
RULES: dict[str, list] = _TABLE["normalization"]["rules"]
NORMALIZATION_EXAMPLES: list[tuple[str | None, str, str | None]] = [
    tuple(e) for e in _TABLE["normalization"].get("examples") or []
]

# --------------------------------------------------------------------------- folding

FOLD_RANGES: list[dict[str, int]] = _TABLE["normalization"]["fold"]
FOLD_FROM = "".join(chr(c) for r in FOLD_RANGES for c in range(r["first"], r["last"] + 1))
FOLD_TO = "".join(chr(r["to"] + c - r["first"]) for r in FOLD_RANGES for c in range(r["first"], r["last"] + 1))
_FOLD_TABLE = str.maketrans(FOLD_FROM, FOLD_TO)

# --------------------------------------------------------------------------- names

NAMES: dict[str, Any] = _TABLE["names"]
NAME_PATTERN: str = NAMES["name"]
NAME_TYPE: str = NAMES["pii_type"]
NAME_PLACEHOLDER: str = NAMES["placeholder"]
MIN_KNOWN_LENGTH: int = int(NAMES["min_known_length"])
SURNAMES: tuple[str, ...] = tuple(
    dict.fromkeys([*NAMES["compound_surnames"], *"".join(str(NAMES["surnames"]).split())])
)
SURNAME_REGEX = "(?:" + "|".join(sorted(SURNAMES, key=len, reverse=True)) + ")" + NAMES["given"]
NAME_EXAMPLES: tuple[str, ...] = tuple(NAMES.get("examples") or ())
NAME_NOT_EXAMPLES: tuple[str, ...] = tuple(NAMES.get("not_examples") or ())
NAME_PATTERNS: tuple[Pattern, ...] = (
    Pattern(
        name=NAME_PATTERN,
        pii_type=NAME_TYPE,
        description="Chinese name (common surname + 1-2 characters) after a cue: " + " ".join(NAMES["cues_before"]),
        regex=SURNAME_REGEX,
        placeholder=NAME_PLACEHOLDER,
        examples=(),
        not_examples=(),
        before="(?:" + "|".join(NAMES["cues_before"]) + ") ?",
        after="",
    ),
    Pattern(
        name=NAME_PATTERN,
        pii_type=NAME_TYPE,
        description="Chinese name (common surname + 1-2 characters) after a weak cue, ending at punctuation: "
        + " ".join(NAMES["cues_before_delimited"]),
        regex=SURNAME_REGEX,
        placeholder=NAME_PLACEHOLDER,
        examples=(),
        not_examples=(),
        before="(?:" + "|".join(NAMES["cues_before_delimited"]) + ") ?",
        after=NAMES["name_end"],
    ),
    Pattern(
        name=NAME_PATTERN,
        pii_type=NAME_TYPE,
        description="Chinese name (common surname + 1-2 characters) before a cue: " + " ".join(NAMES["cues_after"]),
        regex=SURNAME_REGEX,
        placeholder=NAME_PLACEHOLDER,
        examples=(),
        not_examples=(),
        before="|".join([*NAMES.get("absorb_before", []), ""]),
        after="(?:" + "|".join(NAMES["cues_after"]) + ")",
    ),
)
# Identifiers first (in table order), then the name heuristic: the scrubbing order.
ALL_PATTERNS: tuple[Pattern, ...] = PATTERNS + NAME_PATTERNS


def bounded(regex: str) -> str:
    """`regex` as a whole token: group 1 is the character before (or ''), group 2 after."""
    return f"(^|{BOUNDARY})(?:{regex})({BOUNDARY}|$)"


# Any identifier or name of the table, as one regex over FOLDED text (the clear-text checks).
IDENTIFIER_REGEX = "|".join([bounded("|".join(p.regex for p in PATTERNS)), *(p.bounded for p in NAME_PATTERNS)])


def check_table() -> list[str]:
    """Problems of the table, as sentences; [] when every rule is usable in Python and RE2."""
    problems = []
    names = [p.name for p in PATTERNS]
    if len(names) != len(set(names)) or NAME_PATTERN in names:
        problems.append(f"pii_patterns: duplicate names in {names + [NAME_PATTERN]}")
    for p in ALL_PATTERNS:
        parts = [("regex", p.regex), ("boundary", BOUNDARY)]
        parts += [(what, rx) for what, rx in (("before", p.before), ("after", p.after)) if rx is not None]
        for what, regex in parts:
            if _NOT_PORTABLE.search(regex):
                problems.append(f"pii_patterns {p.name}: {what} {regex!r} uses look-around, \\b, \\d, \\w or \\s")
            try:
                compiled = re.compile(regex)
            except re.error as exc:
                problems.append(f"pii_patterns {p.name}: {what} does not compile: {exc}")
                continue
            if compiled.groups:
                problems.append(f"pii_patterns {p.name}: {what} has capturing groups; use (?:...)")
        if contains(p.placeholder):
            problems.append(f"pii_patterns {p.name}: placeholder {p.placeholder!r} is itself an identifier")
        for text in (p.regex, p.placeholder, BOUNDARY, p.before or "", p.after or ""):
            if any(tag in text for tag in ("{{", "}}", "{%", "%}", "{#", "#}", "'")):
                problems.append(f"pii_patterns {p.name}: {text!r} holds a quote or Jinja delimiter")
    if len(FOLD_FROM) != len(FOLD_TO) or len(set(FOLD_FROM)) != len(FOLD_FROM) or "\\" in FOLD_TO:
        problems.append("pii_normalization fold: ranges overlap or map to a backslash")
    if "default" not in RULES:
        problems.append("pii_normalization: no `default` rule")
    for pii_type, steps in RULES.items():
        for step in steps:
            name = step if isinstance(step, str) else next(iter(step))
            if name not in STEPS:
                problems.append(f"pii_normalization {pii_type}: unknown step {name!r} (known: {', '.join(STEPS)})")
            if name == "national_prefix":
                spec = step[name]
                if not re.fullmatch(r"[0-9]+", str(spec.get("prefix", ""))) or not spec.get("national"):
                    problems.append(
                        f"pii_normalization {pii_type}: national_prefix needs `national` and a digit `prefix`"
                    )
                elif _NOT_PORTABLE.search(spec["national"]) or "'" in spec["national"]:
                    problems.append(f"pii_normalization {pii_type}: `national` {spec['national']!r} is not portable")
            if name == "strip_prefix" and not re.fullmatch(r"[0-9A-Za-z+]+", str(step[name].get("prefix", ""))):
                problems.append(f"pii_normalization {pii_type}: strip_prefix needs a plain `prefix`")
    return problems


# --------------------------------------------------------------------------- Python


_COMPILED = [(p, re.compile(p.bounded)) for p in ALL_PATTERNS]
_IDENTIFIER = re.compile(IDENTIFIER_REGEX)
_NON_DIGITS = re.compile(r"[^0-9]")
_NON_ALNUM = re.compile(r"[^0-9A-Za-z]")
_CLAIMED = "\u25a0"  # stands for a found span while the next patterns search (a boundary char)


def fold(text: str | None) -> str | None:
    """`text` with full-width ASCII (U+FF01..U+FF5E) and the ideographic space folded to
    ASCII, one character for one (the policy's `pii_normalization.fold`)."""
    if text is None:
        return None
    return str(text).translate(_FOLD_TABLE)


def find(text: str | None) -> list[str]:
    """Names of the patterns found in the folded `text` (in table order, names last)."""
    if text is None:
        return []
    folded = fold(text)
    return list(dict.fromkeys(p.name for p, rx in _COMPILED if rx.search(folded)))


def contains(text: str | None) -> bool:
    return text is not None and _IDENTIFIER.search(fold(text)) is not None


def _spans(work: str, rx: re.Pattern) -> list[tuple[int, int]]:
    """Spans of the pattern itself (without its context groups), non-overlapping, in order."""
    out, pos = [], 0
    while pos <= len(work):
        m = rx.search(work, pos)
        if m is None:
            break
        start, end = m.end(1), m.start(2)
        out.append((start, end))
        pos = max(end, m.start() + 1)
    return out


def _claim(work: str, start: int, end: int) -> str:
    return work[:start] + _CLAIMED * (end - start) + work[end:]


def _scan(text: str, known_names: Iterable[str] = (), heuristic: bool = True) -> list[Match]:
    """The identifiers, then the known names, then the name heuristic, as `scrub` applies
    them: each pattern in order claims its spans of what the earlier ones left."""
    work = fold(text)
    found: list[Match] = []
    for p, rx in _COMPILED[: len(PATTERNS)]:
        for start, end in _spans(work, rx):
            value = text[start:end]
            found.append(Match(start, end, p.name, p.pii_type, value, normalize(value, p.pii_type)))
            work = _claim(work, start, end)
    for name in sorted({fold(n) for n in known_names if n and len(n) >= MIN_KNOWN_LENGTH}, key=len, reverse=True):
        pos = work.find(name)
        while pos >= 0:
            found.append(Match(pos, pos + len(name), NAME_PATTERN, NAME_TYPE, text[pos : pos + len(name)], None))
            work = _claim(work, pos, pos + len(name))
            pos = work.find(name, pos + len(name))
    if heuristic:
        for p, rx in _COMPILED[len(PATTERNS) :]:
            for start, end in _spans(work, rx):
                found.append(Match(start, end, p.name, p.pii_type, text[start:end], None))
                work = _claim(work, start, end)
    return sorted(found, key=lambda m: m.start)


def find_identifiers(text: str | None) -> list[Match]:
    """The identifiers of `pii_patterns` in `text` (folded first): non-overlapping, in text
    order, an earlier pattern of the table winning a span as in `scrub`."""
    if not text:
        return []
    return _scan(text, heuristic=False)


def find_names(text: str | None, known_names: Iterable[str] = ()) -> list[Match]:
    """Personal names in `text`: exact occurrences of `known_names` (at least
    `min_known_length` characters; longer first) and the surname + cue heuristic of
    `pii_names`. Non-overlapping, in text order; pii_type `name`, pattern `person_name`.
    As in `scrub`, spans taken by identifiers are not names."""
    if not text:
        return []
    return [m for m in _scan(text, known_names) if m.pii_type == NAME_TYPE]


def _placeholder(m: Match) -> str:
    if m.pii_type == NAME_TYPE:
        return NAME_PLACEHOLDER
    return next(p.placeholder for p in PATTERNS if p.name == m.pattern)


def _replace(text: str, matches: list[Match]) -> str:
    out, pos = [], 0
    for m in sorted(matches, key=lambda m: m.start):
        out += [text[pos : m.start], _placeholder(m)]
        pos = m.end
    return "".join(out) + text[pos:]


def scrub(text: str | None, known_names: Iterable[str] = ()) -> str | None:
    """`text` with every identifier and name replaced by its placeholder (twin of
    `scrub_sql` when `known_names` is empty). A text holding one is returned FOLDED
    (full-width punctuation becomes ASCII, as in SQL); a text without any unchanged."""
    if text is None:
        return None
    matches = _scan(text, known_names)
    return _replace(fold(text), matches) if matches else text


def _wanted(values: Mapping[str, Iterable[str]]) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for pii_type, vs in values.items():
        out[pii_type] = {n for v in vs or () if (n := normalize(v, pii_type))}
    return out


def redact(text: str | None, values: Mapping[str, Iterable[str]], names: Iterable[str] = frozenset()) -> str | None:
    """`text` with only one person's identifiers and names replaced by placeholders: the
    identifier matches whose `normalized` value is in `values[pii_type]` (the values are
    normalized again, so raw or normalized forms both work) and exact occurrences of
    `names`. Everything else is left as it was (not folded)."""
    if not text:
        return text
    wanted = _wanted(values)
    hits = [m for m in find_identifiers(text) if m.normalized and m.normalized in wanted.get(m.pii_type, ())]
    names = [n for n in names if n and len(n) >= MIN_KNOWN_LENGTH]
    if names:
        taken = [(m.start, m.end) for m in hits]
        for m in _scan(text, names, heuristic=False):
            if m.pii_type == NAME_TYPE and not any(m.start < e and s < m.end for s, e in taken):
                hits.append(m)
    return _replace(text, hits) if hits else text


def normalize(value: str | None, pii_type: str) -> str | None:
    """The canonical form a token is computed from (`pii_normalization` of the policy)."""
    if value is None:
        return None
    text = str(value)
    trimmed = fold(text).strip(WHITESPACE)
    for step in RULES.get(pii_type, RULES["default"]):
        name = step if isinstance(step, str) else next(iter(step))
        if name == "fold":
            text = fold(text)
        elif name == "trim":
            text = text.strip(WHITESPACE)
        elif name == "lower":
            text = text.lower()
        elif name == "upper":
            text = text.upper()
        elif name == "digits":
            text = _NON_DIGITS.sub("", text)
        elif name == "alnum":
            text = _NON_ALNUM.sub("", text)
        elif name == "strip_prefix":
            prefix = str(step[name]["prefix"])
            if text.startswith(prefix):
                text = text[len(prefix) :]
        elif name == "national_prefix":
            spec = step[name]
            if not trimmed.startswith("+") and re.fullmatch(spec["national"], text):
                text = str(spec["prefix"]) + text
    return text or None


# --------------------------------------------------------------------------- SQL


def sql_literal(text: str, dialect: str = "default") -> str:
    """A SQL string literal of `text`. Spark unescapes backslashes in literals (`'\\.'` is
    `.`), so there each backslash is doubled."""
    if dialect == "spark":
        text = text.replace("\\", "\\\\")
    return "'" + text.replace("'", "''") + "'"


def _backreference(group: int, dialect: str) -> str:
    """Group `group` in a regexp_replace replacement: `$1` in Java (Spark), `\\1` in RE2."""
    return f"${group}" if dialect == "spark" else chr(92) + str(group)


def _matches(expr: str, regex: str, dialect: str) -> str:
    if dialect == "duckdb":
        return f"regexp_matches({expr}, {sql_literal(regex)})"
    return f"regexp_like({expr}, {sql_literal(regex, dialect)})"


def _full_match(expr: str, regex: str, dialect: str) -> str:
    if dialect == "duckdb":
        return f"regexp_full_match({expr}, {sql_literal(regex)})"
    return f"regexp_like({expr}, {sql_literal('^(?:' + regex + ')$', dialect)})"


def _replace_all(expr: str, regex: str, replacement: str, dialect: str) -> str:
    flags = ", 'g'" if dialect == "duckdb" else ""
    return f"regexp_replace({expr}, {sql_literal(regex, dialect)}, {sql_literal(replacement, dialect)}{flags})"


def whitespace_sql(dialect: str = "default") -> str:
    """The whitespace characters as a SQL expression (chr() keeps tabs etc. visible).
    Spark's chr() takes the code modulo 256, so there they are `\\uXXXX` escapes of one
    literal."""
    if dialect == "spark":
        return "'" + "".join(ch if ch == " " else f"\\u{ord(ch):04x}" for ch in WHITESPACE) + "'"
    parts, plain = [], ""
    for ch in WHITESPACE:
        if ch == " " or (ch.isprintable() and not ch.isspace()):
            plain += ch
        else:
            if plain:
                parts.append(sql_literal(plain))
                plain = ""
            parts.append(f"chr({ord(ch)})")
    if plain:
        parts.append(sql_literal(plain))
    return " || ".join(parts)


def _check_dialect(dialect: str) -> None:
    if dialect not in DIALECTS:
        raise ValueError(f"unknown SQL dialect {dialect!r} (known: {', '.join(DIALECTS)})")


def fold_sql(expr: str, dialect: str = "duckdb") -> str:
    """SQL twin of `fold`: translate() with the full-width characters and their ASCII
    forms (translate exists in DuckDB, Spark, Postgres, Snowflake ...)."""
    _check_dialect(dialect)
    return f"translate({expr}, {sql_literal(FOLD_FROM, dialect)}, {sql_literal(FOLD_TO, dialect)})"


def normalize_sql(
    expr: str, pii_type: str, dialect: str = "duckdb", whitespace: str | None = None, folded: str | None = None
) -> str:
    """SQL twin of `normalize`: a text expression of `expr` (a VARCHAR expression).

    `whitespace` replaces the SQL expression of the whitespace characters and `folded`
    the one of the folded expression (the dbt macro passes macro calls)."""
    _check_dialect(dialect)
    chars = whitespace or whitespace_sql(dialect)
    fold_expr = folded or fold_sql(expr, dialect)
    trimmed = f"trim(both {chars} from {fold_expr})"
    out = expr
    for step in RULES.get(pii_type, RULES["default"]):
        name = step if isinstance(step, str) else next(iter(step))
        if name == "fold":
            out = fold_expr if out == expr else fold_sql(out, dialect)
        elif name == "trim":
            out = f"trim(both {chars} from {out})"
        elif name == "lower":
            out = f"lower({out})"
        elif name == "upper":
            out = f"upper({out})"
        elif name == "digits":
            out = _replace_all(out, "[^0-9]", "", dialect)
        elif name == "alnum":
            out = _replace_all(out, "[^0-9A-Za-z]", "", dialect)
        elif name == "strip_prefix":
            prefix = str(step[name]["prefix"])
            out = _replace_all(out, "^" + re.escape(prefix), "", dialect)
        elif name == "national_prefix":
            spec = step[name]
            out = (
                f"case when {trimmed} not like '+%' and {_full_match(out, spec['national'], dialect)} "
                f"then {sql_literal(str(spec['prefix']))} || {out} else {out} end"
            )
    return f"nullif({out}, '')"


def contains_sql(expr: str, dialect: str = "duckdb", folded: str | None = None) -> str:
    """SQL twin of `contains`: true when the (folded) text expression holds an identifier
    or a name. `folded` replaces the SQL of the folded expression (the dbt macro)."""
    _check_dialect(dialect)
    return _matches(folded or fold_sql(expr, dialect), IDENTIFIER_REGEX, dialect)


def pattern_sql(expr: str, pattern: Pattern, dialect: str = "duckdb") -> str:
    """True when the (folded) text expression holds this pattern's identifier."""
    _check_dialect(dialect)
    return _matches(fold_sql(expr, dialect), pattern.bounded, dialect)


def names_sql(expr: str, dialect: str = "duckdb") -> str:
    """True when the (folded) text expression holds a name by the surname + cue heuristic."""
    _check_dialect(dialect)
    return _matches(fold_sql(expr, dialect), "|".join(p.bounded for p in NAME_PATTERNS), dialect)


def known_name_sql(expr: str, name_expr: str) -> str:
    """`expr` with every occurrence of the name `name_expr` (a known name, e.g. the member's
    own, at least `min_known_length` characters) replaced by the name placeholder:
    portable SQL (replace, length), applied before `scrub_sql`."""
    return (
        f"case when length({name_expr}) >= {MIN_KNOWN_LENGTH} "
        f"then replace({expr}, {name_expr}, {sql_literal(NAME_PLACEHOLDER)}) else {expr} end"
    )


def scrub_sql(
    expr: str, dialect: str = "duckdb", pretty: bool = False, indent: str = "", folded: str | None = None
) -> str:
    """SQL twin of `scrub`: the text unchanged when it holds nothing (`contains_sql`), else
    nested regexp_replace of the folded text, each pattern twice, in table order (names
    last).

    `pretty` lays it out one call per line (the dbt macro): the calls outermost first,
    then the folded expression, then the arguments of each call in the order they apply.
    `folded` replaces the SQL of the folded expression (the dbt macro passes a macro call)."""
    _check_dialect(dialect)
    fold_expr = folded or fold_sql(expr, dialect)
    flags = ", 'g'" if dialect == "duckdb" else ""
    args = [
        f"{sql_literal(p.bounded, dialect)}, "
        f"{sql_literal(_backreference(1, dialect) + p.placeholder + _backreference(2, dialect), dialect)}{flags})"
        for p in ALL_PATTERNS
        for _ in range(2)
    ]
    test = contains_sql(expr, dialect, folded=fold_expr)
    if not pretty:
        out = fold_expr
        for arg in args:
            out = f"regexp_replace({out}, {arg}"
        return f"case when {test} then {out} else {expr} end"
    calls = [f"{indent}    regexp_replace(regexp_replace(  /* {p.name} */" for p in reversed(ALL_PATTERNS)]
    return "\n".join(
        [
            f"{indent}case when {test} then",
            *calls,
            f"{indent}        {fold_expr},",
            ",\n".join(f"{indent}        {a}" for a in args),
            f"{indent}else {expr} end",
        ]
    )


def _core_digits(value: str, pii_type: str) -> str:
    digits = _NON_DIGITS.sub("", value)
    if pii_type == "mobile" and len(digits) == 13 and digits.startswith("86"):
        return digits[2:]  # the national number: how it is usually written
    return digits


def prefilter_sql(
    expr: str,
    values: Mapping[str, Iterable[str]],
    names: Iterable[str] = (),
    dialect: str = "duckdb",
) -> str:
    """A cheap SQL condition TRUE for every text `redact(text, values, names)` would change
    (a superset): the digits of the folded text contain the digits of a number, or the
    lower-cased folded text contains an e-mail address, a device id or a name."""
    _check_dialect(dialect)
    folded = fold_sql(f"coalesce({expr}, '')", dialect)
    digits = _replace_all(folded, "[^0-9]", "", dialect)
    lowered = f"lower({folded})"
    conds = []
    for pii_type, vs in sorted(_wanted(values).items()):
        for v in sorted(vs):
            if pii_type in ("mobile", "phone", "card_no", "id_number"):
                core = _core_digits(v, pii_type)
                if pii_type == "id_number" and v[-1:].upper() == "X":
                    core = _core_digits(v[:-1], pii_type)
                if core:
                    conds.append(f"position({sql_literal(core)} in {digits}) > 0")
            elif v:
                conds.append(f"position({sql_literal(v.lower())} in {lowered}) > 0")
    for n in sorted({fold(n) for n in names if n and len(n) >= MIN_KNOWN_LENGTH}):
        conds.append(f"position({sql_literal(n.lower())} in {lowered}) > 0")
    return "(" + " or ".join(conds) + ")" if conds else "false"


problems = check_table()
if problems:
    raise ValueError(f"{POLICY_FILE}: " + "; ".join(problems))
