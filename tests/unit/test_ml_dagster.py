"""orchestration/ml.py: keys that attach to the dbt sources, blocking gates, promotion;
every model of ml.models.MODELS reaches Dagster and the CLI."""

from __future__ import annotations

import re

import dagster as dg
import pytest
import yaml
from click.testing import CliRunner

from cli import main
from mallcrm.core.settings import DBT_PROJECT_DIR
from ml.models import MODEL_NAMES, MODELS
from ml.registry import Registry
from orchestration.ml import build_ml_definitions
from orchestration.resources import WRITER, warehouse_writer
from tests.conftest import settings_for

FEATURES_KEY = dg.AssetKey(["ml_features", "ml_member_features"])
SPECS = {spec.name: spec for spec in MODELS}


def _scores_key(model: str) -> dg.AssetKey:
    return dg.AssetKey(SPECS[model].score_relation.split("."))


@pytest.fixture
def ml_defs(tmp_path):
    settings = settings_for(tmp_path)
    return build_ml_definitions(settings), Registry(settings.models_dir), settings


def test_definitions_wire_scores_to_the_dbt_source_keys(ml_defs):
    defs, _, _ = ml_defs
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
    assert _scores_key("churn") == dg.AssetKey(["ml_scores", "churn_scores"])
    assert _scores_key("clv") == dg.AssetKey(["ml_scores", "clv_scores"])
    assert FEATURES_KEY in graph.get(_scores_key("churn")).parent_keys
    assert dg.AssetKey(["ml", "clv_model"]) in graph.get(_scores_key("clv")).parent_keys
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


def test_every_model_has_candidate_promoted_and_score_assets(ml_defs):
    defs, _, _ = ml_defs
    graph = defs.resolve_asset_graph()
    keys = set(graph.get_all_asset_keys())
    checks = {c.name for c in graph.asset_check_keys}
    train = set(defs.resolve_job_def("ml_train").asset_layer.selected_asset_keys)
    score = set(defs.resolve_job_def("ml_score").asset_layer.selected_asset_keys)
    assert len(MODELS) == len(MODEL_NAMES) == len(set(MODEL_NAMES)) >= 5
    for spec in MODELS:
        candidate = dg.AssetKey(["ml", f"{spec.name}_model_candidate"])
        promoted = dg.AssetKey(["ml", f"{spec.name}_model"])
        scores = _scores_key(spec.name)
        assert {candidate, promoted, scores} <= keys, spec.name
        assert scores.path == ["ml_scores", spec.score_table]
        assert candidate in graph.get(promoted).parent_keys and promoted in graph.get(scores).parent_keys
        reads = {dg.AssetKey(r.split(".")) for r in spec.reads}
        assert reads and reads <= set(graph.get(candidate).parent_keys) and reads <= set(graph.get(scores).parent_keys)
        assert {f"{spec.name}_beats_baseline", f"{spec.name}_scores_valid"} <= checks
        assert {candidate, promoted} <= train and scores in score
    # nothing else in the jobs: one candidate, one promotion and one score table per model,
    # and the complaint root causes (scored daily with the models, no training)
    assert len(train) == 2 * len(MODELS) and len(score) == len(MODELS) + 1
    assert dg.AssetKey(["ml_scores", "complaint_root_causes"]) in score


def test_every_score_table_is_a_dbt_source_and_every_read_a_dbt_model():
    declared = set()
    for path in (DBT_PROJECT_DIR / "models").rglob("*.yml"):
        for source in (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("sources") or []:
            if source["name"] == "ml_scores":
                declared |= {t["name"] for t in source.get("tables") or []}
    assert {spec.score_table for spec in MODELS} <= declared
    models = {p.stem for p in (DBT_PROJECT_DIR / "models").rglob("*.sql")}
    for spec in MODELS:
        assert {r.split(".")[1] for r in spec.reads} <= models, spec.name


@pytest.mark.parametrize("command", ["train", "score"])
def test_cli_model_choices_are_the_model_names(command):
    result = CliRunner().invoke(main, ["ml", command, "--help"])
    assert result.exit_code == 0, result.output
    (choices,) = re.findall(r"\[((?:[a-z_]+\|)+[a-z_]+)\]", result.output)
    assert tuple(choices.split("|")) == MODEL_NAMES
    option = next(p for p in main.commands["ml"].commands[command].params if p.name == "models")
    assert tuple(option.type.choices) == MODEL_NAMES


def test_gate_checks_are_blocking(ml_defs):
    defs, _, _ = ml_defs
    specs = [spec for checks_def in defs.asset_checks for spec in checks_def.check_specs]
    gates = [s for s in specs if s.name.endswith("_beats_baseline")]
    assert len(gates) == len(MODELS) >= 6 and all(s.blocking for s in gates)


def _promote_asset(defs, model):
    return next(a for a in defs.assets if a.key == dg.AssetKey(["ml", f"{model}_model"]))


def test_promotion_refuses_a_model_worse_than_its_baseline(ml_defs):
    defs, registry, settings = ml_defs
    resources = {WRITER: warehouse_writer(settings)}
    bad = registry.register("churn", metrics={"gate": {"passed": False, "rule": "r"}}, card="#\n")
    result = dg.materialize([_promote_asset(defs, "churn")], resources=resources, raise_on_error=False)
    assert not result.success and registry.current("churn") is None
    (failure,) = result.get_step_failure_events()
    assert "did not pass its gate" in failure.step_failure_data.user_failure_data.description
    good = registry.register("churn", metrics={"gate": {"passed": True, "rule": "r"}}, card="#\n")
    assert dg.materialize([_promote_asset(defs, "churn")], resources=resources).success
    assert registry.current("churn").version == good.version != bad.version
