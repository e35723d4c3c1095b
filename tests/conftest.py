"""Shared fixtures: small generated malls, each with its own inbox and warehouse.

Tests never steer the code through os.environ: they build their own `Settings` with
`dataclasses.replace` (`settings_for`). Commands run as a user runs them (a CLI call, a
child process) get those settings as environment variables (`cli_env`)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest

from mallcrm.core.settings import Settings, load_settings, settings_environment
from pipeline import steps
from simulator.config import SimulationConfig

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
    yield settings, report, ok
