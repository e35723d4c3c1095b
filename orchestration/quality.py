"""Soda data contracts as blocking Dagster asset checks: one check per contract, on the
asset that builds the contract's table (raw tables: the dlt assets [raw_<system>, <entity>];
dbt models: [<schema>, <model>]).

A failed check (ERROR severity) stops every asset downstream of its table in the same run
(`blocking=True`); its metadata names each failing rule with its failing-row count. Retention
overruns are WARN (the privacy purge job fixes them) and do not block; they are counted as of
privacy.retention.as_of_date, the day the compliance report and the purge count at.
Wire in with `dg.Definitions.merge(..., build_quality_definitions(settings))`.
"""

from __future__ import annotations

import dagster as dg

from mallcrm.core.settings import Settings
from orchestration.publish import ROLE_FILES_KEY
from quality.runner import CheckResult, contract_paths, marketing_file_checks, run_checks

PREFIX = "soda_contract"


def check_metadata(results: list[CheckResult]) -> dict:
    failing = [r for r in results if r.outcome != "passed"]
    table = "\n".join(
        f"| {r.outcome} | {r.column or ''} | {r.check} | {r.measure} | "
        f"{'' if r.failing is None else f'{r.failing:g}'} |"
        for r in failing
    )
    return {
        "checks": len(results),
        "failed": sum(r.outcome in ("failed", "error") for r in results),
        "warned": sum(r.outcome == "warned" for r in results),
        "failing_rows": int(sum(r.failing or 0 for r in failing if r.measure.endswith("_count"))),
        "failures": dg.MetadataValue.md(
            "| outcome | column | check | measure | value |\n|---|---|---|---|---|\n" + table if table else "none"
        ),
    }


def _contract_check(settings: Settings, layer: str, dataset: str) -> dg.AssetChecksDefinition:
    schema, table = dataset.split(".")

    @dg.asset_check(
        asset=dg.AssetKey([schema, table]),
        name=f"{PREFIX}_{layer}",
        blocking=True,
        description=f"Soda data contract quality/contracts/{layer}/{dataset}.yml (docs/operations.md).",
    )
    def _check() -> dg.AssetCheckResult:
        results = run_checks(settings, datasets=[dataset])
        hard = [r for r in results if r.outcome in ("failed", "error")]
        warned = [r for r in results if r.outcome == "warned"]
        return dg.AssetCheckResult(
            passed=not hard and not warned,
            severity=dg.AssetCheckSeverity.ERROR if hard else dg.AssetCheckSeverity.WARN,
            description="; ".join(r.reason for r in hard or warned) or f"{len(results)} checks passed",
            metadata=check_metadata(results),
        )

    return _check


def _marketing_consent_check(settings: Settings) -> dg.AssetChecksDefinition:
    @dg.asset_check(
        asset=ROLE_FILES_KEY,
        name="marketing_file_only_consenting_adults",
        blocking=True,
        description="The marketing role file holds only members with an active marketing consent, "
        "not minors and not opted out (quality.runner.marketing_consent_checks; docs/operations.md).",
    )
    def _check() -> dg.AssetCheckResult:
        results = marketing_file_checks(settings)
        failed = [r for r in results if r.outcome != "passed"]
        return dg.AssetCheckResult(
            passed=bool(results) and not failed,
            description="; ".join(r.reason for r in failed)
            or (f"{len(results)} tables checked" if results else "no marketing role file found"),
            metadata=check_metadata(results),
        )

    return _check


def build_quality_definitions(settings: Settings, asset_keys: set[dg.AssetKey] | None = None) -> dg.Definitions:
    """One blocking check per contract whose table is an asset (all, unless `asset_keys` narrows)."""
    checks = []
    for layer, path in contract_paths():
        key = dg.AssetKey(path.stem.split("."))
        if asset_keys is None or key in asset_keys:
            checks.append(_contract_check(settings, layer, path.stem))
    if asset_keys is None or ROLE_FILES_KEY in asset_keys:
        checks.append(_marketing_consent_check(settings))
    return dg.Definitions(asset_checks=checks)
