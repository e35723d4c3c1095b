"""Same data and settings, same model: segmentation's K-means gives one result whatever
the number of OpenMP threads (issue 21: `make demo` re-runs chose k=10, then k=9).

scikit-learn's K-means adds its threads' partial sums in the order the threads finish;
with more than two threads the centroids then differ run to run. The fits below run in
a child process started with OMP_NUM_THREADS=8 (more threads than this machine's cores,
which scikit-learn only allows when the variable is set), where they differ without
the single-thread fit of ml.segmentation.

And the training fingerprint a re-run compares (ml/registry.py): the rows of what a
model reads, whatever their order, its settings and the code.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import duckdb

from ml.registry import Registry, data_fingerprint, training_fingerprint
from tests.conftest import settings_for

ROOT = Path(__file__).resolve().parents[2]

# Three fits of the same synthetic members in one process; prints each fit's k and a
# digest of its centroids, silhouettes and labels.
FITS = """
import hashlib, json, sys
import numpy as np, pandas as pd
from ml import segmentation

rng = np.random.default_rng(7)
n = 3000
shares = rng.dirichlet(np.full(6, 0.4), size=n)
frame = pd.DataFrame(shares, columns=[f"share_{c}" for c in "abcdef"])
frame["share_morning"], frame["share_afternoon"], frame["share_evening"] = rng.dirichlet([1, 1, 1], size=n).T
frame["discount_share"] = rng.beta(1, 8, size=n)
frame["coupon_order_share"] = rng.beta(1, 5, size=n)
frame["in_family_group"] = (rng.random(n) < 0.3).astype(float)
fit = getattr(segmentation, sys.argv[1])
out = []
for _ in range(3):
    model, metrics = fit(frame, segmentation.DEFAULT_K_RANGE, 0, None)
    digest = hashlib.sha256(model.kmeans.cluster_centers_.tobytes())
    digest.update(json.dumps(metrics["silhouette_by_k"], sort_keys=True).encode())
    digest.update(model.predict(frame).tobytes())
    out.append([metrics["k"], digest.hexdigest()])
print(json.dumps(out))
"""


def _fits(function: str) -> list[list]:
    env = {**os.environ, "OMP_NUM_THREADS": "8", "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", FITS, function], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_segmentation_is_the_same_on_eight_threads():
    fits = _fits("fit_segmentation")
    assert len({tuple(f) for f in fits}) == 1, fits
    # ... and in another process: nothing depends on the process either.
    assert _fits("fit_segmentation")[0] == fits[0]


# --- the training fingerprint (ml/registry.py) ---------------------------------------------


def _warehouse(tmp_path, rows: list[tuple]):
    settings = settings_for(tmp_path)
    settings.warehouse.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(settings.warehouse))
    try:
        con.execute("create schema if not exists ml_features")
        con.execute("create or replace table ml_features.f (member_id varchar, share double, n integer)")
        con.executemany("insert into ml_features.f values (?, ?, ?)", rows)
    finally:
        con.close()
    return settings


ROWS = [("M1", 0.25, 1), ("M2", 0.5, 2), ("M3", 1 / 3, 3)]


def test_data_fingerprint_is_the_rows_not_their_order(tmp_path):
    first = data_fingerprint(_warehouse(tmp_path / "a", ROWS), ["ml_features.f"])
    assert first["ml_features.f"]["rows"] == 3
    assert data_fingerprint(_warehouse(tmp_path / "b", ROWS[::-1]), ["ml_features.f"]) == first
    # a last-bit difference of a double (a parallel sum) is not new data ...
    nudged = [("M1", 0.25 + 1e-15, 1), *ROWS[1:]]
    assert data_fingerprint(_warehouse(tmp_path / "c", nudged), ["ml_features.f"]) == first
    # ... a changed value, a duplicated row and a removed row are
    for name, rows in (("d", [("M1", 0.26, 1), *ROWS[1:]]), ("e", [*ROWS, ROWS[0]]), ("f", ROWS[1:])):
        assert data_fingerprint(_warehouse(tmp_path / name, rows), ["ml_features.f"]) != first, name


def test_a_version_is_unchanged_only_with_the_same_fingerprint(tmp_path):
    settings = _warehouse(tmp_path, ROWS)
    registry = Registry(settings.models_dir)
    fingerprint = training_fingerprint(settings, ["ml_features.f"], {"model": "m", "window_days": 365})
    version = registry.register("m", metrics={"gate": {"passed": False}}, card="", version="20260101T000000Z")
    assert registry.unchanged("m", fingerprint) is None  # no fingerprint recorded (a killed run)
    registry.save_fingerprint(version, fingerprint)
    assert registry.unchanged("m", fingerprint) == version  # the newest, not promoted
    other = training_fingerprint(settings, ["ml_features.f"], {"model": "m", "window_days": 180})
    assert registry.unchanged("m", other) is None  # other settings
    newer = registry.register("m", metrics={"gate": {"passed": True}}, card="", version="20260102T000000Z")
    registry.save_fingerprint(newer, other)
    assert registry.unchanged("m", fingerprint) is None  # neither promoted nor the newest
    registry.promote("m", version.version)
    assert registry.unchanged("m", fingerprint) == version  # the promoted one
