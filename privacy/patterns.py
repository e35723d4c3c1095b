"""The personal-data patterns and normalisation rules of privacy/policy.yml, for Python and SQL.

privacy/policy.yml (`pii_patterns`, `pii_normalization`) is the one table of these rules;
this module reads it at import and is the only code that interprets it:

- Python: `normalize(value, pii_type)` (the canonical form a token is computed from,
  privacy/tokens.py), `find(text)` / `contains(text)` (identifiers in clear) and
  `scrub(text)` (identifiers replaced by placeholders);
- SQL: `normalize_sql`, `contains_sql` and `scrub_sql` write the same rules as SQL
  expressions, for DuckDB (`dialect="duckdb"`: erasure, the leak scanner, the Soda checks)
  or for other engines (`dialect="default"`: regexp_like, regexp_replace without flags).
  `python -m privacy.render` writes them into the dbt macros (macros/privacy/pii_rules.sql),
  with `{{ column }}` as the expression.

A pattern matches as a whole token: the characters around it are `boundary` (not an ASCII
letter or digit) or the start/end of the text. Without look-around (RE2 has none) the
boundaries are matched as groups 1 and 2 around the pattern, which is why patterns may
only use non-capturing groups.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

POLICY_FILE = Path(__file__).resolve().with_name("policy.yml")
DIALECTS = ("duckdb", "default")
STEPS = ("trim", "lower", "digits", "national_prefix")
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

    @property
    def bounded(self) -> str:
        return bounded(self.regex)


def _load() -> dict[str, Any]:
    with open(POLICY_FILE, encoding="utf-8") as fh:
        policy = yaml.safe_load(fh)
    return {"patterns": policy["pii_patterns"], "normalization": policy["pii_normalization"]}


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


def bounded(regex: str) -> str:
    """`regex` as a whole token: group 1 is the character before (or ''), group 2 after."""
    return f"(^|{BOUNDARY})(?:{regex})({BOUNDARY}|$)"


# Any identifier of the table, as one regex (the clear-text checks).
IDENTIFIER_REGEX = bounded("|".join(p.regex for p in PATTERNS))


def check_table() -> list[str]:
    """Problems of the table, as sentences; [] when every rule is usable in Python and RE2."""
    problems = []
    names = [p.name for p in PATTERNS]
    if len(names) != len(set(names)):
        problems.append(f"pii_patterns: duplicate names in {names}")
    for p in PATTERNS:
        for what, regex in (("regex", p.regex), ("boundary", BOUNDARY)):
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
        for text in (p.regex, p.placeholder, BOUNDARY):
            if any(tag in text for tag in ("{{", "}}", "{%", "%}", "{#", "#}", "'")):
                problems.append(f"pii_patterns {p.name}: {text!r} holds a quote or Jinja delimiter")
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
    return problems


# --------------------------------------------------------------------------- Python


_COMPILED = [(p, re.compile(p.bounded)) for p in PATTERNS]
_IDENTIFIER = re.compile(IDENTIFIER_REGEX)
_NON_DIGITS = re.compile(r"[^0-9]")


def find(text: str | None) -> list[str]:
    """Names of the patterns found in `text` (in table order)."""
    if text is None:
        return []
    return [p.name for p, rx in _COMPILED if rx.search(text)]


def contains(text: str | None) -> bool:
    return text is not None and _IDENTIFIER.search(text) is not None


def scrub(text: str | None) -> str | None:
    """`text` with every identifier replaced by its placeholder (twin of `scrub_sql`).

    Each pattern is applied twice: a match consumes the character after it, so an
    identifier right behind another one (`13812345678 13912345678`) is found only by the
    second pass."""
    if text is None:
        return None
    for p, rx in _COMPILED:
        for _ in range(2):
            text = rx.sub(lambda m, p=p: m.group(1) + p.placeholder + m.group(2), text)
    return text


def normalize(value: str | None, pii_type: str) -> str | None:
    """The canonical form a token is computed from (`pii_normalization` of the policy)."""
    if value is None:
        return None
    text = str(value)
    trimmed = text.strip(WHITESPACE)
    for step in RULES.get(pii_type, RULES["default"]):
        name = step if isinstance(step, str) else next(iter(step))
        if name == "trim":
            text = text.strip(WHITESPACE)
        elif name == "lower":
            text = text.lower()
        elif name == "digits":
            text = _NON_DIGITS.sub("", text)
        elif name == "national_prefix":
            spec = step[name]
            if not trimmed.startswith("+") and re.fullmatch(spec["national"], text):
                text = str(spec["prefix"]) + text
    return text or None


# --------------------------------------------------------------------------- SQL


def sql_literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _matches(expr: str, regex: str, dialect: str) -> str:
    if dialect == "duckdb":
        return f"regexp_matches({expr}, {sql_literal(regex)})"
    return f"regexp_like({expr}, {sql_literal(regex)})"


def _full_match(expr: str, regex: str, dialect: str) -> str:
    if dialect == "duckdb":
        return f"regexp_full_match({expr}, {sql_literal(regex)})"
    return f"regexp_like({expr}, {sql_literal('^(?:' + regex + ')$')})"


def _replace_all(expr: str, regex: str, replacement: str, dialect: str) -> str:
    flags = ", 'g'" if dialect == "duckdb" else ""
    return f"regexp_replace({expr}, {sql_literal(regex)}, {sql_literal(replacement)}{flags})"


def whitespace_sql() -> str:
    """The whitespace characters as a SQL expression (chr() keeps tabs etc. visible)."""
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


def normalize_sql(expr: str, pii_type: str, dialect: str = "duckdb", whitespace: str | None = None) -> str:
    """SQL twin of `normalize`: a text expression of `expr` (a VARCHAR expression).

    `whitespace` replaces the SQL expression of the whitespace characters (the dbt macro
    passes a macro call)."""
    _check_dialect(dialect)
    chars = whitespace or whitespace_sql()
    trimmed = f"trim(both {chars} from {expr})"
    out = expr
    for step in RULES.get(pii_type, RULES["default"]):
        name = step if isinstance(step, str) else next(iter(step))
        if name == "trim":
            out = f"trim(both {chars} from {out})"
        elif name == "lower":
            out = f"lower({out})"
        elif name == "digits":
            out = _replace_all(out, "[^0-9]", "", dialect)
        elif name == "national_prefix":
            spec = step[name]
            out = (
                f"case when {trimmed} not like '+%' and {_full_match(out, spec['national'], dialect)} "
                f"then {sql_literal(str(spec['prefix']))} || {out} else {out} end"
            )
    return f"nullif({out}, '')"


def contains_sql(expr: str, dialect: str = "duckdb") -> str:
    """SQL twin of `contains`: true when the text expression holds an identifier."""
    _check_dialect(dialect)
    return _matches(expr, IDENTIFIER_REGEX, dialect)


def pattern_sql(expr: str, pattern: Pattern, dialect: str = "duckdb") -> str:
    """True when the text expression holds this pattern's identifier."""
    _check_dialect(dialect)
    return _matches(expr, pattern.bounded, dialect)


def scrub_sql(expr: str, dialect: str = "duckdb", pretty: bool = False, indent: str = "") -> str:
    """SQL twin of `scrub`: nested regexp_replace, each pattern twice, in table order.

    `pretty` lays it out one call per line (the dbt macro): the calls outermost first,
    then `expr`, then the arguments of each call in the order they apply."""
    _check_dialect(dialect)
    flags = ", 'g'" if dialect == "duckdb" else ""
    args = [
        f"{sql_literal(p.bounded)}, {sql_literal(chr(92) + '1' + p.placeholder + chr(92) + '2')}{flags})"
        for p in PATTERNS
        for _ in range(2)
    ]
    if not pretty:
        out = expr
        for arg in args:
            out = f"regexp_replace({out}, {arg}"
        return out
    calls = [f"{indent}regexp_replace(regexp_replace(  /* {p.name} */" for p in reversed(PATTERNS)]
    return "\n".join([*calls, f"{indent}    {expr},", ",\n".join(f"{indent}    {a}" for a in args)])


problems = check_table()
if problems:
    raise ValueError(f"{POLICY_FILE}: " + "; ".join(problems))
