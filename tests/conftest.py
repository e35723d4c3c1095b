"""Shared fixtures: small generated malls, each with its own inbox and warehouse."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path

import pytest

from mallcrm.settings import Settings, load_settings

os.environ.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("RUNTIME__DLTHUB_TELEMETRY", "false")
os.environ.setdefault("SODA_CORE_TELEMETRY_ENABLED", "false")

# Tests tokenize with their own key, never the public demo key (privacy/tokens.py).
TEST_HMAC_KEY = "integration-test-key-0123456789abcdef"
TEST_HMAC_KEY_VERSION = "it-1"
os.environ["MALLCRM_HMAC_KEY"] = TEST_HMAC_KEY
os.environ["MALLCRM_HMAC_KEY_VERSION"] = TEST_HMAC_KEY_VERSION
# The suppression list's own long-lived key (privacy/suppression.py): required beside a real masking key.
TEST_SUPPRESSION_KEY = "integration-test-suppression-key-fedcba9876543210"
os.environ["MALLCRM_SUPPRESSION_KEY"] = TEST_SUPPRESSION_KEY
# The audit chain's HMAC key (privacy/audit.py).
TEST_AUDIT_KEY = "integration-test-audit-key-0123456789"
os.environ["MALLCRM_AUDIT_KEY"] = TEST_AUDIT_KEY

SMALL = {"members": 300, "stores": 10, "days": 45, "start_date": date(2026, 5, 20)}


@contextmanager
def mall_environment(root: Path) -> Iterator[Settings]:
    """Point every setting at `root` for the duration of the block."""
    keys = ("MALLCRM_INBOX", "MALLCRM_WAREHOUSE", "MALLCRM_DLT_DIR")
    saved = {k: os.environ.get(k) for k in keys}
    os.environ["MALLCRM_INBOX"] = str(root / "inbox")
    os.environ["MALLCRM_WAREHOUSE"] = str(root / "warehouse" / "mallcrm.duckdb")
    os.environ.pop("MALLCRM_DLT_DIR", None)
    try:
        yield load_settings()
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def generate_mall(inbox: Path, **overrides):
    from simulator.config import SimulationConfig
    from simulator.generate import generate

    return generate(SimulationConfig(**{**SMALL, **overrides}), inbox, progress=False)


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
    with mall_environment(tmp_path) as settings:
        yield settings


@pytest.fixture(scope="session")
def built_mall(tmp_path_factory, small_mall_exports):
    """The small mall ingested and built once per session with the CLI's own functions:
    (settings, ingest report, dbt success). Treat it as read-only."""
    from ingestion.pipeline import run_ingestion
    from mallcrm.dbt_runner import run_dbt

    root = tmp_path_factory.mktemp("built_mall")
    shutil.copytree(small_mall_exports[0], root / "inbox")
    with mall_environment(root) as settings:
        report = run_ingestion(settings)
        ok = run_dbt(["build"], settings, quiet=True)
        yield settings, report, ok
