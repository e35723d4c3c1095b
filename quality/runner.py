"""Verify the Soda v4 contracts of quality/contracts/ against the warehouse.

    from quality.runner import run_checks
    results = run_checks(settings)                  # every layer
    results = run_checks(settings, datasets=["raw_pos.transactions"])

`as_of` (the reference time of freshness, per-store activity and retention) is
MALLCRM_QUALITY_AS_OF when set (an ISO date or timestamp, or `now` for the wall clock),
else the day after the latest business day loaded: the mall's "today" as its exports
show it, so a replayed or simulated history is judged by its own calendar. `mallcrm doctor`
shows the wall-clock age of the last load beside it.

Soda runs every check in SQL inside DuckDB; nothing here loops over rows. On engine spark
the tables the build made on Spark are views in the warehouse file (spark/views.py), so
the same contracts run on them; a contract of a Spark view DuckDB cannot read (the
staging views) is reported `skipped`, with the reason, never dropped silently.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from mallcrm.core.settings import Settings, export_environment
from mallcrm.core.warehouse import connect
from privacy.policy import load_policy
from privacy.publish import consenting_members_sql, role_file_path
from privacy.retention import reference_time
from quality.generate import CATALOG, CONTRACTS_DIR, DATA_SOURCE, LAYERS
from spark.views import not_readable

# The diagnostic of each Soda check type that says how many rows (or how far) it failed.
MEASURES = ("failed_rows_count", "invalid_count", "missing_count", "duplicate_count", "freshness_in_days", "row_count")


@dataclass(frozen=True)
class CheckResult:
    layer: str
    dataset: str  # schema.table
    check: str
    column: str | None
    outcome: str  # passed | failed | warned | error | skipped (cannot run on this engine; detail says why)
    failing: float | None  # failing rows (or days behind, or the metric value)
    measure: str
    detail: dict = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return self.outcome in ("passed", "warned")

    @property
    def reason(self) -> str:
        where = f"{self.dataset}.{self.column}" if self.column else self.dataset
        if self.outcome == "error":
            return f"{where}: {self.check}: could not run ({self.detail.get('error', '')})"
        if self.outcome == "skipped":
            return f"{where}: {self.check}: skipped ({self.detail.get('reason', '')})"
        value = "?" if self.failing is None else f"{self.failing:g}"
        return f"{where}: {self.check}: {self.measure} = {value}"


def contract_paths(layers: list[str] | None = None, datasets: list[str] | None = None) -> list[tuple[str, Path]]:
    out = []
    for layer in layers or LAYERS:
        for path in sorted((CONTRACTS_DIR / layer).glob("*.yml")):
            if datasets is None or path.stem in datasets:
                out.append((layer, path))
    return out


def _existing_tables(con) -> set[str]:
    return {
        f"{s}.{t}" for s, t in con.execute("select table_schema, table_name from information_schema.tables").fetchall()
    }


def _contract_file(path: Path, catalog: str, tmp: Path) -> Path:
    """Contracts name the catalog `mallcrm`; a warehouse file with another name gets a copy."""
    if catalog == CATALOG:
        return path
    text = path.read_text(encoding="utf-8").replace(f"{DATA_SOURCE}/{CATALOG}/", f"{DATA_SOURCE}/{catalog}/")
    copy = tmp / path.name
    copy.write_text(text, encoding="utf-8")
    return copy


def _results(layer: str, dataset: str, verification) -> list[CheckResult]:
    out = []
    for contract_result in verification.contract_verification_results:
        if contract_result.errored_without_results or not contract_result.check_results:
            out.append(
                CheckResult(
                    layer,
                    dataset,
                    "contract",
                    None,
                    "error",
                    None,
                    "error",
                    {"error": contract_result.get_errors_str()[:500]},
                )
            )
            continue
        for r in contract_result.check_results:
            values = dict(r.diagnostic_metric_values or {})
            measure = next((m for m in MEASURES if values.get(m) is not None), None)
            if measure is None:
                measure = next((k for k in values if k not in ("dataset_rows_tested", "check_rows_tested")), "value")
            if r.check.type == "metric":
                measure, failing = "value", r.threshold_value
            else:
                failing = values.get(measure)
            outcome = "failed" if r.is_failed else "warned" if r.is_warned else "passed" if r.is_passed else "error"
            detail = {k: v for k, v in values.items() if isinstance(v, int | float)}
            if outcome == "error":
                detail["error"] = contract_result.get_errors_str()[:500] or "not evaluated"
            out.append(
                CheckResult(
                    layer,
                    dataset,
                    r.check.name,
                    r.check.column_name,
                    outcome,
                    None if failing is None else float(failing),
                    measure,
                    detail,
                )
            )
    return out


def _skipped_on_spark(layer: str, dataset: str, why: str) -> CheckResult:
    """Engine spark: the dataset is a Spark view DuckDB cannot read (spark/views.py). Its
    dbt tests ran on Spark in the build, and the raw tables it reads are checked here."""
    return CheckResult(
        layer, dataset, "contract", None, "skipped", None, "skipped", {"reason": f"on Spark only: {why}"}
    )


def marketing_consent_checks(con, settings: Settings) -> list[CheckResult]:
    """The marketing role file (privacy/publish.py) holds only consenting adult members.

    A SQL check beside the Soda contracts: it spans two DuckDB files, which a Soda contract
    (one dataset of one data source) cannot. Consent is the current state, as the publish
    reads it (`privacy.publish.consenting_members_sql`: the latest event per member and
    marketing scope among all consent events, not cut at the analytics as-of date, minus
    the data-subject opt-outs), so it catches a role file published before a consent was
    withdrawn as well as a publishing bug."""
    path = role_file_path(settings, "marketing")
    if not path.exists():
        return []
    minors = con.execute(
        "select count(*) from information_schema.tables where table_catalog = current_database() "
        "and table_schema = 'marts' and table_name = 'dim_member'"
    ).fetchone()[0]
    allowed = f"select c.member_id from ({consenting_members_sql(con, load_policy())}) as c"
    if minors:
        allowed += (
            " where c.member_id not in "
            "(select m.member_id from marts.dim_member as m where m.is_minor and m.member_id is not null)"
        )
    con.execute(f"attach '{path}' as marketing_role (read_only)")
    try:
        tables = con.execute(
            "select table_schema, table_name from information_schema.columns where table_catalog = 'marketing_role' "
            "and column_name = 'member_id'"
        ).fetchall()
        out = []
        for schema, table in tables:
            bad = con.execute(
                f'select count(*) from marketing_role."{schema}"."{table}" as t '
                f"where t.member_id is not null and t.member_id not in ({allowed})"
            ).fetchone()[0]
            out.append(
                CheckResult(
                    "publish",
                    f"roles/marketing.{table}",
                    "only consenting adult members",
                    "member_id",
                    "failed" if bad else "passed",
                    float(bad),
                    "failed_rows_count",
                )
            )
        return out
    finally:
        con.execute("detach marketing_role")


def marketing_file_checks(settings: Settings) -> list[CheckResult]:
    """`marketing_consent_checks` on its own connection to the warehouse."""
    con = connect(settings)
    try:
        return marketing_consent_checks(con, settings)
    finally:
        con.close()


@dataclass(frozen=True)
class TableHealth:
    passed: bool
    metadata: dict


def score_table_health(settings: Settings, check_sql: str, relation: str) -> TableHealth:
    """Run a score table's check (SQL returning rows, duplicate keys, out-of-range values
    over `{t}`; see ml.models): it passes with rows, no duplicates and nothing out of range."""
    con = connect(settings)
    try:
        rows, dupes, bad = con.sql(check_sql.format(t=relation)).fetchall()[0]
    finally:
        con.close()
    return TableHealth(
        passed=bool(rows > 0 and dupes == 0 and bad == 0),
        metadata={"rows": rows, "duplicate_keys": dupes, "out_of_range": bad},
    )


def run_checks(
    settings: Settings, layers: list[str] | None = None, datasets: list[str] | None = None
) -> list[CheckResult]:
    """Verify the contracts of these layers/datasets; a contract whose table is missing
    is reported as an error (the table should have been built)."""
    export_environment(settings)  # Soda's telemetry off before it loads
    from soda_core.contracts import verify_contract_locally
    from soda_duckdb.common.data_sources.duckdb_data_source import DuckDBDataSourceImpl

    if not settings.warehouse.exists():
        raise FileNotFoundError(f"no warehouse at {settings.warehouse}: run `mallcrm ingest` and `mallcrm build`")
    con = connect(settings)
    results: list[CheckResult] = []
    try:
        as_of = reference_time(con, settings).isoformat()
        catalog = con.execute("select current_database()").fetchone()[0]
        tables = _existing_tables(con)
        on_spark_only = not_readable(con)
        source = DuckDBDataSourceImpl.from_existing_cursor(con, DATA_SOURCE)
        with tempfile.TemporaryDirectory() as tmp:
            for layer, path in contract_paths(layers, datasets):
                dataset = path.stem
                if dataset not in tables and dataset in on_spark_only:
                    results.append(_skipped_on_spark(layer, dataset, on_spark_only[dataset]))
                    continue
                if dataset not in tables:
                    results.append(
                        CheckResult(
                            layer,
                            dataset,
                            "table exists",
                            None,
                            "error",
                            None,
                            "error",
                            {"error": f"table {dataset} not found in {settings.warehouse}"},
                        )
                    )
                    continue
                verification = verify_contract_locally(
                    data_sources=[source],
                    contract_file_path=str(_contract_file(path, catalog, Path(tmp))),
                    variables={"AS_OF": as_of},
                    data_timestamp=as_of,
                )
                results.extend(_results(layer, dataset, verification))
            if layers is None and datasets is None:
                results.extend(marketing_consent_checks(con, settings))
    finally:
        con.close()
    return results
