"""One SQL view per dbt metric, so BI tools and the dashboard query the metrics instead of
restating them.

The metrics and their semantic models are written once, in
dbt_project/models/metrics/*.yml. MetricFlow would query them, but `dbt-metricflow` is
not part of the pinned stack and a BI tool cannot call it; so this compiles each metric
into a view `metrics.<name>` with one row per day (and store, where the semantic model
has a store entity): the measures the metric needs, summed for that day, and the metric's
value for the day. Every measure is a sum or a count, so any period is a sum of days: the
`metrics.metric_definitions` table carries, per metric, the expression that rolls the
days up (`rollup_expression`), which `aggregate_sql` uses. The same SQL runs on DuckDB
and PostgreSQL.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from mallcrm.core.dbt import load_manifest
from mallcrm.core.settings import Settings
from semantic.comments import DIALECTS

SCHEMA = "metrics"
DEFINITIONS = "metric_definitions"
ADDITIVE = {"sum": "sum", "count": "count"}  # measures a period can be summed from days
STORE_ENTITY = "store"


class MetricError(ValueError):
    """A metric the views cannot express (a non-additive measure, a filter, two models)."""


@dataclass(frozen=True)
class Metric:
    name: str
    label: str
    description: str
    relation: str  # "schema.table" of the semantic model
    time_expr: str  # the model's column (or expression) of the metric's day
    store_expr: str | None  # the store column, when the model has a store entity
    measures: dict[str, tuple[str, str]]  # measure -> (agg, expression over the model)
    value: str  # the metric over its measures' names
    needs: frozenset[str]  # the model's columns the view reads

    @property
    def dimensions(self) -> list[str]:
        return ["metric_date"] + (["store_id"] if self.store_expr else [])


def _words(expression: str) -> set[str]:
    return set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", expression))


def _wrap(expression: str) -> str:
    """Parenthesized unless it is a name or a call on a name (the formulas stay readable)."""
    return expression if re.fullmatch(r"\w+(\(\w*\))?", expression) else f"({expression})"


def _substitute(expression: str, names: dict[str, str]) -> str:
    """Replace whole-word names by their expressions; a name right after `/` is a divisor
    and becomes nullif(..., 0), so an empty day gives null, not a division error."""

    def repl(match: re.Match) -> str:
        slash, name = match.group(1), match.group(2)
        if name not in names:
            return match.group(0)
        return f"{slash}nullif({names[name]}, 0)" if slash else _wrap(names[name])

    return re.sub(r"(/\s*)?\b([A-Za-z_][A-Za-z0-9_]*)\b", repl, expression)


def _compile(name: str, metrics: dict[str, dict], seen: tuple[str, ...] = ()) -> tuple[str, set[str]]:
    """(expression over measure names, measures used) of one metric."""
    if name in seen:
        raise MetricError(f"metric {name} refers to itself through {' -> '.join(seen)}")
    if name not in metrics:
        raise MetricError(f"metric {seen[-1] if seen else name} refers to an unknown metric {name}")
    spec = metrics[name]
    params = spec.get("type_params") or {}
    if spec.get("filter"):
        raise MetricError(f"metric {name} has a filter, which the views do not apply")
    kind = spec["type"]
    if kind == "simple":
        measure = params["measure"]
        if measure.get("filter"):
            raise MetricError(f"metric {name} filters its measure, which the views do not apply")
        return measure["name"], {measure["name"]}
    if kind == "ratio":
        num, num_measures = _compile(params["numerator"]["name"], metrics, (*seen, name))
        den, den_measures = _compile(params["denominator"]["name"], metrics, (*seen, name))
        return f"{_wrap(num)} * 1.0 / nullif({den}, 0)", num_measures | den_measures
    if kind == "derived":
        parts, used = {}, set()
        for ref in params.get("metrics") or []:
            expression, measures = _compile(ref["name"], metrics, (*seen, name))
            parts[ref.get("alias") or ref["name"]] = expression
            used |= measures
        return _substitute(params["expr"], parts), used
    raise MetricError(f"metric {name} is of type {kind}, which the views do not support")


def metrics_from_manifest(manifest: dict[str, Any]) -> dict[str, Metric]:
    """Every metric of the manifest, compiled (MetricError names the one that cannot be)."""
    specs = {m["name"]: m for m in manifest.get("metrics", {}).values()}
    measure_model: dict[str, dict] = {}
    for model in manifest.get("semantic_models", {}).values():
        for measure in model.get("measures") or []:
            measure_model[measure["name"]] = model
    columns_of = {
        f"{n['schema']}.{n.get('alias') or n['name']}": set(n.get("columns") or {})
        for n in manifest.get("nodes", {}).values()
        if n.get("resource_type") == "model"
    }
    out = {}
    for name, spec in sorted(specs.items()):
        value, used = _compile(name, specs)
        models = {measure_model[m]["name"] for m in used if m in measure_model}
        if len(models) != 1 or any(m not in measure_model for m in used):
            raise MetricError(f"metric {name} needs measures of one semantic model, got {sorted(models) or 'none'}")
        model = measure_model[next(iter(used))]
        measures = {}
        for measure in model["measures"]:
            if measure["name"] not in used:
                continue
            if measure["agg"] not in ADDITIVE or measure.get("non_additive_dimension"):
                raise MetricError(f"measure {measure['name']} of metric {name} is not a sum or a count")
            measures[measure["name"]] = (measure["agg"], measure.get("expr") or measure["name"])
        time_name = (model.get("defaults") or {}).get("agg_time_dimension")
        time_dim = next((d for d in model["dimensions"] if d["name"] == time_name), None)
        if time_dim is None:
            raise MetricError(f"semantic model {model['name']} of metric {name} has no time dimension {time_name!r}")
        store = next((e for e in model.get("entities") or [] if e["name"] == STORE_ENTITY), None)
        relation = f"{model['node_relation']['schema_name']}.{model['node_relation']['alias']}"
        time_expr = time_dim.get("expr") or time_dim["name"]
        store_expr = (store.get("expr") or store["name"]) if store else None
        read = _words(" ".join([time_expr, store_expr or "", *(e for _, e in measures.values())]))
        out[name] = Metric(
            name=name,
            label=spec.get("label") or name,
            description=" ".join((spec.get("description") or "").split()),
            relation=relation,
            time_expr=time_expr,
            store_expr=store_expr,
            measures=measures,
            value=value,
            needs=frozenset(read & columns_of.get(relation, read)),
        )
    return out


def load_metrics(settings: Settings) -> dict[str, Metric]:
    return metrics_from_manifest(load_manifest(settings))


def rollup_expression(metric: Metric) -> str:
    """The metric over any set of its view's rows: each measure summed, then the formula."""
    return _substitute(metric.value, {m: f"sum({m})" for m in metric.measures})


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def view_sql(metric: Metric, catalog: str | None = None) -> str:
    """The `create view` of one metric (DuckDB and PostgreSQL alike). Only the view's own
    name carries `catalog`: the model it reads is named within the file, so the view still
    resolves when the file is opened under another name."""
    prefix = f"{_ident(catalog)}." if catalog else ""
    schema, table = metric.relation.split(".", 1)
    keys = [f"{metric.time_expr} as metric_date"] + ([f"{metric.store_expr} as store_id"] if metric.store_expr else [])
    group = [metric.time_expr] + ([metric.store_expr] if metric.store_expr else [])
    sums = [f"{agg}({expr}) as {_ident(name)}" for name, (agg, expr) in metric.measures.items()]
    outer = ", ".join([*metric.dimensions, *(_ident(m) for m in metric.measures)])
    return (
        f"create view {prefix}{SCHEMA}.{_ident(metric.name)} as\n"
        f"select {outer}, {metric.value} as value\n"
        f"from (\n    select {', '.join(keys + sums)}\n"
        f"    from {_ident(schema)}.{_ident(table)}\n"
        f"    group by {', '.join(group)}\n) as daily"
    )


def create_metric_views(
    con,
    dialect: str,
    tables: dict[str, list[str]] | set[str],
    metrics: dict[str, Metric],
    catalog: str | None = None,
) -> list[str]:
    """Create schema `metrics` with a view per metric whose model (and the columns it reads,
    when `tables` maps tables to their columns) the target holds, plus the
    `metric_definitions` table; returns the metrics created. Re-running replaces them."""
    if dialect not in DIALECTS:
        raise ValueError(f"unknown SQL dialect {dialect!r}; expected one of {', '.join(DIALECTS)}")
    prefix = f"{_ident(catalog)}." if catalog else ""
    created = []
    con.execute(f"create schema if not exists {prefix}{SCHEMA}")
    for metric in metrics.values():
        con.execute(f"drop view if exists {prefix}{SCHEMA}.{_ident(metric.name)}")
        if metric.relation not in tables:
            continue
        if isinstance(tables, dict) and not metric.needs <= set(tables[metric.relation]):
            continue  # the copy lacks a column the metric reads (the role may not see it)
        con.execute(view_sql(metric, catalog))
        text = metric.label + (f": {metric.description}" if metric.description else "")
        con.execute(f"comment on view {prefix}{SCHEMA}.{_ident(metric.name)} is {_literal(text)}")
        created.append(metric.name)
    _write_definitions(con, prefix, [metrics[name] for name in created])
    return created


def _write_definitions(con, prefix: str, metrics: list[Metric]) -> None:
    table = f"{prefix}{SCHEMA}.{DEFINITIONS}"
    con.execute(f"drop table if exists {table}")
    con.execute(
        f"create table {table} (metric_name varchar(200) primary key, label varchar(200), "
        "description varchar(2000), dimensions varchar(200), measures varchar(2000), rollup_expression varchar(4000))"
    )
    for m in metrics:
        values = [m.name, m.label, m.description, ", ".join(m.dimensions), ", ".join(m.measures), rollup_expression(m)]
        con.execute(f"insert into {table} values ({', '.join(_literal(v) for v in values)})")
    con.execute(
        f"comment on table {table} is "
        + _literal("One row per dbt metric: its view metrics.<metric_name> and the expression that rolls days up.")
    )


def aggregate_sql(con, name: str, where: str = "") -> str:
    """`select <metric> as value from metrics.<name> <where>` with the rollup read from the
    copy's metric_definitions (what the dashboard runs: it never restates a formula)."""
    row = con.execute(
        f"select rollup_expression from {SCHEMA}.{DEFINITIONS} where metric_name = {_literal(name)}"
    ).fetchone()
    if row is None:
        raise MetricError(f"this copy has no metric {name} (metrics.{DEFINITIONS})")
    return f"select {row[0]} as value from {SCHEMA}.{_ident(name)} {where}".rstrip()
