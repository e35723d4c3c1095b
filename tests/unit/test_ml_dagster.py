"""orchestration/ml.py: keys that attach to the dbt sources, blocking gates, promotion."""

from __future__ import annotations

import dagster as dg
import pytest

from mallcrm.settings import load_settings
from ml.registry import Registry
from orchestration.ml import CHURN_SCORES_KEY, CLV_SCORES_KEY, FEATURES_KEY, build_ml_definitions


@pytest.fixture
def ml_defs(tmp_path, monkeypatch):
    monkeypatch.setenv("MALLCRM_MODELS_DIR", str(tmp_path / "models"))
    monkeypatch.setenv("MALLCRM_WAREHOUSE", str(tmp_path / "wh" / "mallcrm.duckdb"))
    return build_ml_definitions(load_settings()), Registry(tmp_path / "models")


def test_definitions_wire_scores_to_the_dbt_source_keys(ml_defs):
    defs, _ = ml_defs
    dg.Definitions.validate_loadable(defs)
    graph = defs.resolve_asset_graph()
    keys = {k.to_user_string() for k in graph.get_all_asset_keys()}
    assert {
        "ml_scores/churn_scores",
        "ml_scores/clv_scores",
        "ml/churn_model",
        "ml/clv_model",
        "ml/churn_model_candidate",
        "ml/clv_model_candidate",
    } <= keys
    assert FEATURES_KEY in graph.get(CHURN_SCORES_KEY).parent_keys
    assert dg.AssetKey(["ml", "clv_model"]) in graph.get(CLV_SCORES_KEY).parent_keys
    checks = {c.name: c for c in graph.asset_check_keys}
    assert {"churn_beats_baseline", "clv_beats_baseline", "churn_scores_valid", "clv_scores_valid"} <= set(checks)
    for model, table in (
        ("segmentation", "member_segments"),
        ("basket_rules", "basket_rules"),
        ("recommendations", "member_recommendations"),
    ):
        assert {f"ml/{model}_model_candidate", f"ml/{model}_model", f"ml_scores/{table}"} <= keys
        assert {f"{model}_beats_baseline", f"{model}_scores_valid"} <= set(checks)
        assert dg.AssetKey(["ml", f"{model}_model"]) in graph.get(dg.AssetKey(["ml_scores", table])).parent_keys
    assert (
        dg.AssetKey(["ml_features", "ml_member_segment_features"])
        in graph.get(dg.AssetKey(["ml", "segmentation_model_candidate"])).parent_keys
    )
    repo = defs.get_repository_def()
    assert {s.name for s in repo.schedule_defs} == {"ml_weekly_training", "ml_daily_scoring"}
    for job in ("ml_train", "ml_score"):
        assert defs.resolve_job_def(job)


def test_gate_checks_are_blocking(ml_defs):
    defs, _ = ml_defs
    specs = [spec for checks_def in defs.asset_checks for spec in checks_def.check_specs]
    gates = [s for s in specs if s.name.endswith("_beats_baseline")]
    assert len(gates) == 5 and all(s.blocking for s in gates)


def _promote_asset(defs, model):
    return next(a for a in defs.assets if a.key == dg.AssetKey(["ml", f"{model}_model"]))


def test_promotion_refuses_a_model_worse_than_its_baseline(ml_defs):
    defs, registry = ml_defs
    bad = registry.register("churn", metrics={"gate": {"passed": False, "rule": "r"}}, card="#\n")
    result = dg.materialize([_promote_asset(defs, "churn")], raise_on_error=False)
    assert not result.success and registry.current("churn") is None
    good = registry.register("churn", metrics={"gate": {"passed": True, "rule": "r"}}, card="#\n")
    assert dg.materialize([_promote_asset(defs, "churn")]).success
    assert registry.current("churn").version == good.version != bad.version
