"""ML on the small built mall: point-in-time features, train + score, member 360 reads
the scores. Works on a private copy of the session's built warehouse (other tests
compare that warehouse's tables), never on a newly built mall."""

from __future__ import annotations

import dataclasses
import json
import shutil

import duckdb
import numpy as np
import pandas as pd
import pytest

from mallcrm.core.dbt import run_dbt
from mallcrm.core.warehouse import connect
from ml import pipeline
from ml.churn import FEATURES
from ml.models import get as get_model
from ml.registry import Registry
from pipeline import steps

pytestmark = pytest.mark.integration

HORIZON = 10  # the small mall has 45 days: 60-day churn cannot be validated on it


def _private_copy(built_mall, root):
    """(settings, registry) of a copy of the built mall's warehouse with its own registry."""
    settings, _, _ = built_mall  # its own tests judge the dbt build; ML needs the marts it reads
    for suffix in ("", ".wal"):
        src = settings.warehouse.with_name(settings.warehouse.name + suffix)
        if src.exists():
            shutil.copy2(src, root / (settings.warehouse.name + suffix))
    copy = dataclasses.replace(settings, warehouse=root / settings.warehouse.name, models_dir=root / "models")
    return copy, Registry(copy.models_dir)


@pytest.fixture(scope="module")
def ml_mall(built_mall, tmp_path_factory):
    return _private_copy(built_mall, tmp_path_factory.mktemp("ml_mall"))


def _features_at(settings, cutoff) -> pd.DataFrame:
    con = connect(settings)
    try:
        df = con.sql(f"select * from {pipeline.FEATURES_TABLE} where cutoff_date = ?", params=[cutoff]).df()
    finally:
        con.close()
    return df.sort_values("member_id").reset_index(drop=True)


def _build_features(settings, **vars_) -> None:
    assert run_dbt(["build", "--select", "ml_member_features", "--vars", json.dumps(vars_)], settings, quiet=True)


def test_ml_end_to_end(ml_mall):
    settings, registry = ml_mall
    con = connect(settings)
    t0 = con.sql("select max(business_date) from marts.fct_transactions where member_id is not null").fetchall()[0][0]
    con.close()
    earlier = t0 - pd.Timedelta(days=HORIZON).to_pytimedelta()

    # 1. Point in time: the features of `earlier` are the same whether `earlier` is the
    #    latest cutoff (later data ignored) or one of t0's past snapshots.
    _build_features(settings, ml_horizon_days=HORIZON, ml_cutoff_date=str(earlier))
    as_latest = _features_at(settings, earlier)
    _build_features(settings, ml_horizon_days=HORIZON)
    as_past = _features_at(settings, earlier)
    assert len(as_latest) > 50 and as_latest["is_active"].sum() > 20
    cols = ["member_id", "is_active", "first_purchase_date", "last_purchase_date", *FEATURES]
    pd.testing.assert_frame_equal(as_latest[cols], as_past[cols])
    assert pd.Timestamp(as_latest["last_purchase_date"].dropna().max()) <= pd.Timestamp(earlier)

    # 2. Train: versions registered with artifact, metrics and card.
    clv_result, churn_result = steps.train(settings, ["clv", "churn"])
    for result, artifact in ((clv_result, "params.json"), (churn_result, "model.joblib")):
        for name in (artifact, "metrics.json", "card.md"):
            assert (result.version.path / name).exists(), name
        if not result.promoted:  # on 300 members and 10-day windows the gate is noise
            registry.promote(result.model, result.version.version)
    assert "ROC-AUC" in (churn_result.version.path / "card.md").read_text()
    assert churn_result.metrics["split"]["validation_cutoff"] == str(earlier)

    # 3. Score into ml_scores.
    scored = steps.score(settings, ["clv", "churn"])
    assert [(r.table, r.rows > 0) for r in scored] == [("ml_scores.clv_scores", True), ("ml_scores.churn_scores", True)]
    con = connect(settings)
    try:
        churn = con.sql("select * from ml_scores.churn_scores").df()
        clv = con.sql("select * from ml_scores.clv_scores").df()
    finally:
        con.close()
    assert {"member_id", "churn_probability", "model_version", "scored_at"} <= set(churn.columns)
    assert {"member_id", "predicted_clv", "p_alive", "expected_purchases", "model_version", "scored_at"} <= set(
        clv.columns
    )
    assert churn["member_id"].is_unique and churn["churn_probability"].between(0, 1).all()
    assert len(churn) == _features_at(settings, t0)["is_active"].sum() > 0
    assert clv["member_id"].is_unique and (clv["predicted_clv"] >= 0).all() and clv["p_alive"].between(0, 1).all()
    assert set(churn["model_version"]) == {churn_result.version.version}

    # 4. The Dagster scoring job does the same, with its checks.
    import dagster as dg

    from orchestration.ml import build_ml_definitions

    run = (
        build_ml_definitions(settings)
        .resolve_job_def("ml_score")
        .execute_in_process(
            instance=dg.DagsterInstance.ephemeral(),
            asset_selection=[dg.AssetKey(["ml_scores", "churn_scores"]), dg.AssetKey(["ml_scores", "clv_scores"])],
        )
    )
    assert run.success
    evaluations = run.get_asset_check_evaluations()
    assert {e.check_name for e in evaluations} == {"churn_scores_valid", "clv_scores_valid"}
    assert all(e.passed for e in evaluations)

    # 5. Member 360 reads the scores.
    assert run_dbt(["build", "--select", "mart_member_360"], settings, quiet=True)
    con = connect(settings)
    try:
        scored, with_clv = con.sql(
            "select count(churn_probability), count(predicted_clv) from marts.mart_member_360"
        ).fetchall()[0]
    finally:
        con.close()
    assert scored == len(churn) and with_clv > 0


def test_behavioural_models_train_score_and_write_back(ml_mall):
    """Segmentation, basket rules and recommendations on the built mall: versions with
    card, metrics and plots; score tables in ml_scores that the dbt source declares."""
    settings, registry = ml_mall
    for model, files in (
        ("segmentation", ["model.joblib", "silhouette.png", "profile.png"]),
        ("basket_rules", ["model.joblib", "rules.csv"]),
        ("recommendations", ["model.joblib", "hit_rate.png"]),
    ):
        (result,) = steps.train(settings, [model])
        for name in ("metrics.json", "card.md", *files):
            assert (result.version.path / name).exists(), (model, name)
        assert result.metrics["gate"]["passed"] == result.promoted, model
        if not result.promoted:  # 300 members, 45 days: the gate may be noise; wiring is tested here
            registry.promote(model, result.version.version)

    import dagster as dg

    from orchestration.ml import build_ml_definitions

    keys = [
        dg.AssetKey(get_model(m).score_relation.split(".")) for m in ("segmentation", "basket_rules", "recommendations")
    ]

    run = (
        build_ml_definitions(settings)
        .resolve_job_def("ml_score")
        .execute_in_process(
            instance=dg.DagsterInstance.ephemeral(),
            asset_selection=keys,
        )
    )
    assert run.success
    evaluations = run.get_asset_check_evaluations()
    assert {e.check_name for e in evaluations} == {
        "segmentation_scores_valid",
        "basket_rules_scores_valid",
        "recommendations_scores_valid",
    }
    assert all(e.passed for e in evaluations), [(e.check_name, e.metadata) for e in evaluations]

    con = connect(settings)
    try:
        segments = con.sql("select * from ml_scores.member_segments").df()
        rules = con.sql("select * from ml_scores.basket_rules").df()
        recs = con.sql("select * from ml_scores.member_recommendations").df()
        bought = con.sql(
            "select distinct member_id, sku from marts.fct_sales_lines where member_id is not null and not is_refund"
        ).df()
        active = con.sql("select count(*) from ml_features.ml_member_segment_features").fetchall()[0][0]
    finally:
        con.close()
    assert segments["member_id"].is_unique and len(segments) == active > 0
    assert (
        segments["segment_name"].notna().all()
        and segments["segment_name"].nunique() == segments["segment_id"].nunique()
    )
    assert set(rules["level"]) <= {"category", "sku"} and (rules["lift"] > 1).all()
    assert recs.groupby("member_id")["rank"].max().le(10).all() and not recs.duplicated(["member_id", "sku"]).any()
    # already-bought products are never recommended
    assert recs.merge(bought, on=["member_id", "sku"]).empty

    # The activation marts read the score tables back (built empty before any ML run):
    # every rule and recommendation reaches marts.mart_basket_rules and
    # marts.mart_member_recommendations, and the role files per the policy.
    assert run_dbt(["build", "--select", "source:ml_scores+"], settings, quiet=True)
    con = connect(settings)
    try:
        mart_rules = con.sql("select * from marts.mart_basket_rules").df()
        mart_recs = con.sql("select * from marts.mart_member_recommendations").df()
    finally:
        con.close()
    assert len(mart_rules) == len(rules) > 0 and len(mart_recs) == len(recs) > 0
    assert mart_rules["support"].between(0, 1).all() and mart_rules["confidence"].between(0, 1).all()
    assert (mart_rules["lift"] > 1).all()
    assert (mart_rules["total_basket_count"] >= mart_rules["rule_basket_count"]).all()
    assert set(mart_rules["model_version"]) == set(rules["model_version"])
    assert mart_recs["product_name"].notna().all() and set(mart_recs["sku"]) == set(recs["sku"])

    from privacy.publish import publish_role_files

    files = publish_role_files(settings)
    assert files["management_bi"].tables["marts.mart_basket_rules"] == len(rules)
    for role in ("management_bi", "marketing", "data_science", "compliance"):
        con = duckdb.connect(str(files[role].path), read_only=True)
        try:
            query = "select column_name from information_schema.columns where table_name = ?"
            columns = {r[0] for r in con.execute(query, ["mart_member_recommendations"]).fetchall()}
        finally:
            con.close()
        assert columns and ("member_id" in columns) == (role != "management_bi"), role


def test_same_data_same_models_and_no_retraining_without_new_data(built_mall, tmp_path):
    """Issue 21: two trainings on the same warehouse make the same model (same k, same
    centroids, same scores); a re-run that finds no new data (the features rebuilt from
    the same marts) retrains nothing; new data retrains the models that read it only."""
    settings, registry = _private_copy(built_mall, tmp_path)
    models = ["segmentation", "basket_rules"]
    first = steps.train(settings, models)
    assert all(r.retrained for r in first)
    for result in first:
        assert (result.version.path / "fingerprint.json").exists()
        if not result.promoted:  # 300 members, 45 days: the gate may be noise (see above)
            registry.promote(result.model, result.version.version)
    segments = first[0]
    score_columns = ["member_id", "segment_id", "segment_name", "segment_profile", "cutoff_date"]
    scores_first = steps.score(settings, ["segmentation"])[0].frame[score_columns]

    # 1. Same data, training forced: a new version, the same model.
    (again,) = steps.train(settings, ["segmentation"], force=True)
    assert again.retrained and again.version.version != segments.version.version
    for key in ("k", "silhouette_by_k", "baseline", "segments"):
        assert again.metrics[key] == segments.metrics[key], key
    np.testing.assert_array_equal(
        again.version.load_artifact().kmeans.cluster_centers_, segments.version.load_artifact().kmeans.cluster_centers_
    )
    registry.promote("segmentation", again.version.version)
    pd.testing.assert_frame_equal(steps.score(settings, ["segmentation"])[0].frame[score_columns], scores_first)

    # 2. No new data: the features rebuilt by dbt from the same marts; nothing retrains,
    #    nothing is registered or promoted.
    assert run_dbt(["build", "--select", "ml_member_segment_features"], settings, quiet=True)
    before = {m: (registry.versions(m), registry.current(m).version) for m in models}
    rerun = steps.train(settings, models)
    assert [r.retrained for r in rerun] == [False, False]
    assert rerun[0].reason.startswith("unchanged, not retrained") and rerun[0].version.version == again.version.version
    assert {m: (registry.versions(m), registry.current(m).version) for m in models} == before

    # 3. New data for segmentation (one member's features change): it retrains, the
    #    basket rules (which read the sales lines only) do not.
    con = connect(settings)
    try:
        con.execute(
            "update ml_features.ml_member_segment_features set discount_share = discount_share + 0.25 "
            "where member_id = (select min(member_id) from ml_features.ml_member_segment_features)"
        )
    finally:
        con.close()
    segments_new, basket_new = steps.train(settings, models)
    assert segments_new.retrained and segments_new.version.version not in before["segmentation"][0]
    assert not basket_new.retrained and registry.versions("basket_rules") == before["basket_rules"][0]
