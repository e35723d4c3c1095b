"""Reading dbt's manifest while another process rewrites it (Dagster parsing beside the CLI)."""

from __future__ import annotations

import json

import pytest

from mallcrm.core import dbt
from mallcrm.core.settings import load_settings


@pytest.fixture
def half_written(tmp_path, monkeypatch):
    """A manifest cut off mid-file, as a reader sees it while dbt writes it in place."""
    path = tmp_path / "manifest.json"
    path.write_text('{"nodes": {"model.mallcrm.x": ', encoding="utf-8")
    monkeypatch.setattr(dbt, "ensure_manifest", lambda settings: path)
    monkeypatch.setattr(dbt.time, "sleep", lambda seconds: None)
    return path


def test_a_half_written_manifest_is_read_again_until_the_writer_finishes(half_written, monkeypatch):
    finished = {"nodes": {"model.mallcrm.x": {"name": "x"}}}
    reads = []
    real_read = type(half_written).read_text

    def read_text(self, *args, **kwargs):
        reads.append(self)
        if len(reads) == 3:  # the writer finishes between the second and third read
            half_written.write_bytes(json.dumps(finished).encode("utf-8"))
        return real_read(self, *args, **kwargs)

    monkeypatch.setattr(type(half_written), "read_text", read_text)
    assert dbt.load_manifest(load_settings({})) == finished
    assert len(reads) == 3


def test_a_manifest_that_stays_broken_fails_with_one_sentence_naming_it(half_written):
    with pytest.raises(dbt.DbtError, match=r"manifest\.json stayed unreadable .* is a dbt parse running"):
        dbt.load_manifest(load_settings({}))
