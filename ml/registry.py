"""The trained-model registry: `<root>/<model>/<version>/` + `<root>/<model>/CURRENT`.

A version folder holds the artifact (`model.joblib` or `params.json`), `metrics.json`
and `card.md`. `CURRENT` holds the version the scorers use; only a model that passed
its promotion gate (beats its baseline) is written there. The root is
`settings.models_dir` (MALLCRM_MODELS_DIR, default `<project>/models`).

Each version also holds `fingerprint.json`: what it was trained on (a hash of the
relations it reads, computed in DuckDB), with which settings and which code. A training
whose fingerprint equals the promoted (or newest) version's would make the same model,
so `train_model` in ml/models.py skips it ("unchanged, not retrained").
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import joblib

import mallcrm
from mallcrm.core.files import write_atomically
from mallcrm.core.settings import Settings
from mallcrm.core.warehouse import connect

_VERSION = re.compile(r"^\d{8}T\d{6}Z(-\d+)?$")
FINGERPRINT_FILE = "fingerprint.json"


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

    def save_fingerprint(self, version: ModelVersion, fingerprint: dict) -> None:
        """Record what `version` was trained on (written beside it, atomically: a version
        without one is simply trained again next time)."""
        write_atomically(version.path / FINGERPRINT_FILE, json.dumps(fingerprint, indent=2) + "\n", mode=0o644)

    def unchanged(self, model: str, fingerprint: dict) -> ModelVersion | None:
        """The promoted version, else the newest, when it was trained with the same
        fingerprint (same data, settings and code); None when the model must be trained."""
        versions = self.versions(model)
        newest = ModelVersion(model, versions[-1], self.root / model / versions[-1]) if versions else None
        for candidate in (self.current(model), newest):
            path = candidate.path / FINGERPRINT_FILE if candidate else None
            # A version killed before its fingerprint was written (or its metrics) never matches.
            if (
                path
                and path.exists()
                and (candidate.path / "metrics.json").exists()
                and json.loads(path.read_text()).get("digest") == fingerprint["digest"]
            ):
                return candidate
        return None


# --------------------------------------------------------------------------- fingerprints

# The libraries a fitted model depends on: a new pin may change a fit, so it retrains.
FIT_LIBRARIES = ("duckdb", "numpy", "pandas", "scikit-learn", "scipy", "mlxtend")
# Doubles are hashed rounded to this many decimals: a parallel sum in DuckDB may differ in
# its last bit between two builds of the same rows, which is not new data.
HASH_DECIMALS = 9


def code_version() -> str:
    """sha256 of the ml/ package's source, the project's version and the fitting
    libraries' versions: any change to a trainer, a default or a pin retrains."""
    digest = hashlib.sha256(f"mallcrm {mallcrm.__version__}\n".encode())
    for library in FIT_LIBRARIES:
        digest.update(f"{library} {metadata.version(library)}\n".encode())
    for path in sorted(Path(__file__).parent.glob("*.py")):
        digest.update(path.name.encode() + b"\n" + path.read_bytes())
    return digest.hexdigest()


def data_fingerprint(settings: Settings, relations: tuple[str, ...] | list[str]) -> dict[str, dict]:
    """Per relation (`schema.table`): its rows and an order-independent hash of every
    row, both computed in DuckDB (no row reaches Python). The sum of the row hashes
    counts duplicate rows, which a xor would cancel out."""
    out = {}
    con = connect(settings)
    try:
        for relation in sorted(relations):
            schema, table = relation.split(".")
            columns = con.execute(
                "select column_name, data_type from information_schema.columns "
                "where table_schema = ? and table_name = ? and table_catalog = current_database() "
                "order by ordinal_position",
                [schema, table],
            ).fetchall()
            if not columns:
                raise LookupError(f"{relation} is not in {settings.warehouse}: build the dbt project first")
            values = ", ".join(
                f'round("{name}", {HASH_DECIMALS})' if kind in ("DOUBLE", "FLOAT", "REAL") else f'"{name}"'
                for name, kind in columns
            )
            rows, total = con.execute(
                f"select count(*), coalesce(sum(hash({values})::hugeint), 0)::varchar from {relation}"
            ).fetchone()
            out[relation] = {"rows": int(rows), "hash": total}
    finally:
        con.close()
    return out


def training_fingerprint(settings: Settings, relations, model_settings: dict) -> dict:
    """What a training run depends on: the data it reads, the model's settings and the
    code; `digest` (sha256 of the three) is what two runs compare."""
    parts = {
        "data": data_fingerprint(settings, relations),
        "settings": model_settings,
        "code": code_version(),
    }
    digest = hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()
    return {"digest": digest, **parts}
