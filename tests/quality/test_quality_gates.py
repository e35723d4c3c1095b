"""Integration: the contracts pass on the clean small mall; on dirty exports they fail in
`mallcrm check` (naming dataset, check and count) and, in the real Dagster refresh job,
the failing blocking checks hold back the dbt assets downstream."""

from __future__ import annotations

import dagster as dg
import pytest
from click.testing import CliRunner

from tests.conftest import generate_mall, mall_environment


@pytest.mark.integration
def test_contracts_pass_on_the_clean_mall(built_mall):
    from quality.runner import run_checks

    settings, _, ok = built_mall
    assert ok
    results = run_checks(settings)
    assert len({r.dataset for r in results}) > 60
    bad = [r.reason for r in results if r.outcome in ("failed", "error")]
    assert not bad, bad


@pytest.mark.integration
def test_dirty_exports_fail_checks_in_cli_and_hold_back_dagster(tmp_path):
    from cli import main
    from orchestration.definitions import build_definitions

    generate_mall(tmp_path / "inbox", dirty=True)
    with mall_environment(tmp_path) as settings:
        defs = build_definitions(settings)
        job = defs.resolve_job_def("refresh_warehouse")
        result = job.execute_in_process(instance=dg.DagsterInstance.ephemeral(), raise_on_error=False)

        evaluations = {
            (
                e.asset_check_evaluation_data.asset_key.to_user_string(),
                e.asset_check_evaluation_data.check_name,
            ): e.asset_check_evaluation_data
            for e in result.all_events
            if e.event_type == dg.DagsterEventType.ASSET_CHECK_EVALUATION
        }
        gate = evaluations[("raw_pos/transactions", "soda_contract_raw")]
        assert not gate.passed and gate.severity == dg.AssetCheckSeverity.ERROR
        assert "card number belongs to a known member" in gate.description
        assert gate.metadata["failing_rows"].value > 0
        materialized = {
            e.asset_key.to_user_string()
            for e in result.all_events
            if e.event_type == dg.DagsterEventType.ASSET_MATERIALIZATION
        }
        assert "raw_pos/transactions" in materialized  # ingestion ran ...
        assert "marts/fct_transactions" not in materialized  # ... dbt was held back
        assert not any(k.startswith(("staging/", "masked/", "marts/")) for k in materialized)
        started = {e.step_key for e in result.all_events if e.event_type == dg.DagsterEventType.STEP_START}
        assert any(s.startswith("ingest_") for s in started)
        assert "mallcrm_dbt_assets" not in started, started
        # the run says why: the failed steps are the blocking contract checks
        assert not result.success
        failure = next(e for e in result.all_events if e.event_type == dg.DagsterEventType.RUN_FAILURE)
        assert "raw_pos__transactions_soda_contract_raw" in failure.message

        cli = CliRunner().invoke(main, ["check", "--layer", "raw"])
        assert cli.exit_code == 1, cli.output
        assert (
            "FAILED raw_pos.transactions: key (transaction_id) unique within each file: duplicate_count = 3"
            in cli.output
        )
        assert "raw_pos.transactions.member_card_no: card number belongs to a known member: invalid_count" in cli.output
