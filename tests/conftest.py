"""Shared fixtures: small generated malls, each with its own inbox and warehouse.

Tests never steer the code through os.environ: they build their own `Settings` with
`dataclasses.replace` (`settings_for`). Commands run as a user runs them (a CLI call, a
child process) get those settings as environment variables (`cli_env`)."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest

from mallcrm.core.settings import Settings, load_settings, settings_environment
from pipeline import steps
from postgres import server
from simulator.config import SimulationConfig
from spark import cluster

# Tests tokenize with their own keys, never the public demo keys (privacy/tokens.py),
# and read nothing from the developer's environment.
TEST_HMAC_KEY = "integration-test-key-0123456789abcdef"
TEST_HMAC_KEY_VERSION = "it-1"
TEST_SUPPRESSION_KEY = "integration-test-suppression-key-fedcba9876543210"
TEST_AUDIT_KEY = "integration-test-audit-key-0123456789"
BASE_SETTINGS = replace(
    load_settings({}),
    hmac_key=TEST_HMAC_KEY,
    hmac_key_version=TEST_HMAC_KEY_VERSION,
    suppression_key=TEST_SUPPRESSION_KEY,
    audit_key=TEST_AUDIT_KEY,
    duckdb_threads=2,
)

SMALL = {"members": 300, "stores": 10, "days": 45, "start_date": date(2026, 5, 20)}


def settings_for(root: Path, **overrides) -> Settings:
    """Settings whose every path lies under `root` (inbox, warehouse, dlt, models, privacy)."""
    warehouse = root / "warehouse" / "mallcrm.duckdb"
    return replace(
        BASE_SETTINGS,
        inbox=root / "inbox",
        warehouse=warehouse,
        dlt_dir=warehouse.parent / ".dlt",
        models_dir=root / "models",
        dagster_home=root / "dagster_home",
        outbox=root / "outbox",
        **overrides,
    )


def cli_env(settings: Settings) -> dict[str, str]:
    """The environment that makes `mallcrm` (CliRunner or a child process) use `settings`."""
    return settings_environment(settings)


@contextmanager
def mall_environment(root: Path) -> Iterator[Settings]:
    """Settings for a mall under `root` (kept as a context manager for readability)."""
    yield settings_for(root)


def generate_mall(inbox: Path, **overrides):
    return steps.generate(BASE_SETTINGS, SimulationConfig(**{**SMALL, **overrides}), inbox)


@pytest.fixture(scope="session")
def small_mall_exports(tmp_path_factory) -> tuple[Path, object]:
    """A clean small mall's exports, generated once per session (copy before changing)."""
    inbox = tmp_path_factory.mktemp("clean_exports") / "inbox"
    report = generate_mall(inbox)
    return inbox, report


@pytest.fixture
def fresh_mall(tmp_path, small_mall_exports) -> Iterator[Settings]:
    """Settings for a new warehouse over a private copy of the small mall's exports."""
    source_inbox, _ = small_mall_exports
    shutil.copytree(source_inbox, tmp_path / "inbox")
    yield settings_for(tmp_path)


@pytest.fixture(scope="session")
def built_mall(tmp_path_factory, small_mall_exports):
    """The small mall ingested and built once per session with the pipeline steps:
    (settings, ingest report, dbt success). Treat it as read-only."""
    root = tmp_path_factory.mktemp("built_mall")
    shutil.copytree(small_mall_exports[0], root / "inbox")
    settings = settings_for(root)
    report = steps.ingest(settings)
    ok = steps.build(settings, quiet=True).success
    if ok:  # the complaint root causes (a post-build step, like the demo's) for their mart
        steps.complaint_root_causes(settings)
        ok = steps.build(settings, ["--select", "source:ml_scores.complaint_root_causes+"], quiet=True).success
    yield settings, report, ok


# The test session's Spark cluster: Thrift server on 10300, master on 10301, its UIs on
# 10302-10304 (spark.cluster), apart from a developer's cluster (MALLCRM_SPARK_PORT, 10000).
# MALLCRM_TEST_SPARK_PORT / MALLCRM_TEST_POSTGRES_PORT move them, so two test runs can share a machine.
SPARK_TEST_PORT = int(os.environ.get("MALLCRM_TEST_SPARK_PORT", "10300"))


@pytest.fixture(scope="session")
def spark_cluster(tmp_path_factory) -> Iterator[Settings]:
    """A local Spark cluster (master, 2 workers, Thrift server) started once per session
    and stopped at its end; yields engine-spark settings for it.

    Tests replace the paths they need (inbox, warehouse, dlt_dir, models_dir, lake) with
    `dataclasses.replace`, never the key: the executors mask with the HMAC key the cluster
    was started with (spark.cluster writes it into the cluster's properties), so every
    test's settings share TEST_HMAC_KEY with it. The metastore is shared by the session:
    a test that builds on it builds with `--full-refresh` (incremental models would
    otherwise extend another test's tables)."""
    root = tmp_path_factory.mktemp("spark_cluster")
    settings = replace(
        settings_for(root), engine="spark", spark_port=SPARK_TEST_PORT, spark_dir=root / "spark", lake=""
    )
    try:
        cluster.up(settings)
        yield settings
    finally:
        cluster.down(settings)


def _hold_back_last_day(inbox: Path, held: Path) -> None:
    """Move the newest business day's export files from `inbox` to `held`."""
    days = {p.stem.rsplit("_", 1)[-1] for p in inbox.rglob("*.*") if p.is_file()}
    last = max(d for d in days if d.isdigit())
    for path in sorted(inbox.rglob(f"*_{last}.*")):
        target = held / path.relative_to(inbox)
        target.parent.mkdir(parents=True, exist_ok=True)
        path.rename(target)


@pytest.fixture(scope="session")
def spark_built_mall(spark_cluster, small_mall_exports, tmp_path_factory):
    """The small mall on Spark as production runs it: all but the last day ingested and
    built (full refresh: the session's metastore is shared), then the last day loaded and
    built incrementally (the daily run). Yields (settings, first build, daily build).

    tests/integration/test_cross_engine.py compares it with `built_mall` first (files run
    in name order); test_spark_after_build.py then trains and scores on it."""
    root = tmp_path_factory.mktemp("spark_mall")
    shutil.copytree(small_mall_exports[0], root / "inbox")
    _hold_back_last_day(root / "inbox", root / "held")
    warehouse = root / "warehouse" / "mallcrm.duckdb"
    settings = replace(
        spark_cluster,
        inbox=root / "inbox",
        warehouse=warehouse,
        dlt_dir=warehouse.parent / ".dlt",
        models_dir=root / "models",
        lake="",
    )
    assert not steps.ingest(settings).needs_attention
    first = steps.build(settings, ["--full-refresh"], quiet=True)
    shutil.copytree(root / "held", settings.inbox, dirs_exist_ok=True)
    assert not steps.ingest(settings).needs_attention
    daily = steps.build(settings, quiet=True)
    yield settings, first, daily


# The test session's PostgreSQL server (audience delivery), apart from a developer's (5433).
POSTGRES_TEST_PORT = int(os.environ.get("MALLCRM_TEST_POSTGRES_PORT", "5491"))


@pytest.fixture(scope="session")
def postgres_server(tmp_path_factory) -> Iterator[Settings]:
    """A local server for the session. Run as root, PostgreSQL runs as the `postgres` OS
    user, which cannot enter pytest's own temporary folder (/tmp/pytest-of-root is 0700):
    the cluster gets a folder of its own that it can reach (0711), removed at the end."""
    base = Path(tempfile.mkdtemp(prefix="mallcrm-pg-test-"))
    base.chmod(0o711)
    settings = replace(
        settings_for(tmp_path_factory.mktemp("postgres")), postgres_port=POSTGRES_TEST_PORT, postgres_dir=base / "pg"
    )
    try:
        server.up(settings)
        yield settings
    finally:
        try:
            server.down(settings)
        finally:
            shutil.rmtree(base, ignore_errors=True)
