"""The trained-model registry: `<root>/<model>/<version>/` + `<root>/<model>/CURRENT`.

A version folder holds the artifact (`model.joblib` or `params.json`), `metrics.json`
and `card.md`. `CURRENT` holds the version the scorers use; only a model that passed
its promotion gate (beats its baseline) is written there. The root is
`settings.models_dir` (MALLCRM_MODELS_DIR, default `<project>/models`).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import joblib

_VERSION = re.compile(r"^\d{8}T\d{6}Z(-\d+)?$")


def new_version(now: datetime | None = None) -> str:
    return (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")


@dataclass(frozen=True)
class ModelVersion:
    model: str
    version: str
    path: Path

    @property
    def metrics(self) -> dict:
        return json.loads((self.path / "metrics.json").read_text())

    def load_artifact(self) -> Any:
        if (self.path / "model.joblib").exists():
            return joblib.load(self.path / "model.joblib")
        return json.loads((self.path / "params.json").read_text())


class Registry:
    def __init__(self, root: Path):
        self.root = Path(root)

    def register(
        self,
        model: str,
        *,
        metrics: dict,
        card: str,
        artifact: Any = None,
        params: dict | None = None,
        extra_files: dict[str, str | bytes] | None = None,
        version: str | None = None,
    ) -> ModelVersion:
        """Write a new version folder (never overwrites one); does not promote it."""
        base = version or new_version()
        folder = self.root / model / base
        n = 1
        while folder.exists():
            folder = self.root / model / f"{base}-{n}"
            n += 1
        folder.mkdir(parents=True)
        if artifact is not None:
            joblib.dump(artifact, folder / "model.joblib")
        if params is not None:
            (folder / "params.json").write_text(json.dumps(params, indent=2, default=str) + "\n")
        (folder / "metrics.json").write_text(json.dumps(metrics, indent=2, default=str) + "\n")
        (folder / "card.md").write_text(card)
        for name, content in (extra_files or {}).items():
            target = folder / name
            if isinstance(content, bytes):
                target.write_bytes(content)
            else:
                target.write_text(content)
        return ModelVersion(model, folder.name, folder)

    def versions(self, model: str) -> list[str]:
        folder = self.root / model
        if not folder.is_dir():
            return []
        return sorted(p.name for p in folder.iterdir() if p.is_dir() and _VERSION.match(p.name))

    def get(self, model: str, version: str) -> ModelVersion:
        path = self.root / model / version
        if not (path / "metrics.json").exists():
            raise FileNotFoundError(f"no model version {model}/{version} in {self.root}")
        return ModelVersion(model, version, path)

    def promote(self, model: str, version: str) -> ModelVersion:
        mv = self.get(model, version)
        pointer = self.root / model / "CURRENT"
        tmp = pointer.with_suffix(".tmp")
        tmp.write_text(version + "\n")
        tmp.replace(pointer)  # atomic: a scorer never reads half a pointer
        return mv

    def current(self, model: str) -> ModelVersion | None:
        pointer = self.root / model / "CURRENT"
        if not pointer.exists():
            return None
        return self.get(model, pointer.read_text().strip())
