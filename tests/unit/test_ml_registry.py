"""The trained-model registry layout (ml/registry.py)."""

from __future__ import annotations

import json

import pytest

from mallcrm.core.settings import PROJECT_ROOT, load_settings
from ml.registry import Registry


def test_registry_root_is_the_models_dir_setting(tmp_path):
    settings = load_settings({"MALLCRM_MODELS_DIR": str(tmp_path / "reg")})
    assert settings.models_dir == tmp_path / "reg"
    assert Registry(settings.models_dir).root == tmp_path / "reg"
    assert load_settings({}).models_dir == PROJECT_ROOT / "models"
    assert Registry(str(tmp_path / "reg")).root == tmp_path / "reg"
    with pytest.raises(TypeError):
        Registry()  # no implicit default: the caller says which registry


def test_register_promote_and_load(tmp_path):
    reg = Registry(tmp_path)
    assert reg.current("churn") is None and reg.versions("churn") == []
    v1 = reg.register(
        "churn", artifact={"w": [1, 2]}, metrics={"auc": 0.8}, card="# card\n", version="20260101T000000Z"
    )
    v2 = reg.register("churn", params={"r": 0.2}, metrics={"auc": 0.9}, card="# card 2\n", version="20260101T000000Z")
    assert v2.version == "20260101T000000Z-1"  # never overwrites a version
    for v in (v1, v2):
        assert (v.path / "metrics.json").exists() and (v.path / "card.md").exists()
    assert (v1.path / "model.joblib").exists() and (v2.path / "params.json").exists()
    assert reg.versions("churn") == ["20260101T000000Z", "20260101T000000Z-1"]
    assert reg.current("churn") is None  # registering does not promote
    reg.promote("churn", v1.version)
    assert (tmp_path / "churn" / "CURRENT").read_text().strip() == v1.version
    current = reg.current("churn")
    assert current.load_artifact() == {"w": [1, 2]} and current.metrics == {"auc": 0.8}
    assert json.loads((v2.path / "params.json").read_text()) == {"r": 0.2}
    with pytest.raises(FileNotFoundError):
        reg.promote("churn", "20990101T000000Z")
