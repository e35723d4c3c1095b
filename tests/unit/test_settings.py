"""Settings come from one place: `load_settings` reads the environment (here: a mapping
handed to it), and `settings_environment` carries them to a child process or to an
in-process tool that reads the environment (dbt's profile and plugin, dlt)."""

from __future__ import annotations

import dataclasses
import os
import re
from pathlib import Path

import pytest

from mallcrm.core.settings import (
    DBT_PROJECT_DIR,
    PROCESS_DEFAULTS,
    PROJECT_ROOT,
    Settings,
    SettingsError,
    child_environment,
    export_environment,
    load_settings,
    settings_environment,
)

FIELDS = {f.name for f in dataclasses.fields(Settings)}


def test_defaults_live_under_the_project():
    s = load_settings({})
    assert s.warehouse == PROJECT_ROOT / "warehouse" / "mallcrm.duckdb"
    assert s.inbox == PROJECT_ROOT / "data" / "inbox"
    assert s.dlt_dir == PROJECT_ROOT / "warehouse" / ".dlt"
    assert s.timezone == "Asia/Shanghai"
    assert s.models_dir == PROJECT_ROOT / "models"
    assert s.dagster_home == PROJECT_ROOT / ".dagster_home"
    assert s.privacy_dir is None and s.privacy_path == PROJECT_ROOT / "warehouse" / "privacy"
    assert s.requests_dir is None and s.requests_path == PROJECT_ROOT / "data" / "requests"
    assert s.duckdb_memory_limit == "3GB" and s.duckdb_threads == (os.cpu_count() or 2)
    assert s.quality_as_of is None
    assert (s.hmac_key, s.hmac_key_version, s.suppression_key, s.audit_key) == ("", "", "", "")
    assert s.dlt_progress is False and s.dbt_log_level_file == "info"


def test_each_variable_sets_its_field_and_relative_paths_resolve_against_the_project(tmp_path):
    environ = {
        "MALLCRM_WAREHOUSE": str(tmp_path / "w" / "x.duckdb"),
        "MALLCRM_INBOX": "relative/inbox",
        "MALLCRM_DLT_DIR": str(tmp_path / "dlt"),
        "MALLCRM_TIMEZONE": "Europe/Berlin",
        "MALLCRM_DUCKDB_MEMORY_LIMIT": "512MB",
        "MALLCRM_DUCKDB_THREADS": "3",
        "MALLCRM_MODELS_DIR": "registry",
        "MALLCRM_PRIVACY_DIR": "secure/privacy",
        "MALLCRM_REQUESTS": str(tmp_path / "dsr"),
        "DAGSTER_HOME": "~/dagster-home",
        "MALLCRM_QUALITY_AS_OF": " 2026-11-20T06:00:00+08:00 ",
        "MALLCRM_HMAC_KEY": "masking-secret",
        "MALLCRM_HMAC_KEY_VERSION": "2026-11",
        "MALLCRM_SUPPRESSION_KEY": "suppression-secret",
        "MALLCRM_AUDIT_KEY": "audit-secret",
        "MALLCRM_DLT_PROGRESS": "1",
        "DBT_LOG_LEVEL_FILE": "debug",
        "MALLCRM_ENGINE": "spark",
        "MALLCRM_LAKE": "s3://mall-lake/raw",
        "MALLCRM_SPARK_HOST": "spark-thrift.internal",
        "MALLCRM_SPARK_PORT": "10001",
        "MALLCRM_SPARK_DIR": "spark-local",
        "MALLCRM_SPARK_WORKER_MEMORY": "6g",
        "JAVA_HOME": "/usr/lib/jvm/java-17",
        "MALLCRM_OUTBOX": "out",
        "MALLCRM_POSTGRES_DSN": "postgresql://crm@db.internal:5432/marketing",
        "MALLCRM_POSTGRES_PORT": "5499",
        "MALLCRM_POSTGRES_DIR": str(tmp_path / "pg"),
        "MALLCRM_AUTOMATION": "on",
        "MALLCRM_PRIVACY_AUTOMATION": "on",
    }
    expected = {
        "warehouse": tmp_path / "w" / "x.duckdb",
        "inbox": PROJECT_ROOT / "relative" / "inbox",
        "dlt_dir": tmp_path / "dlt",
        "timezone": "Europe/Berlin",
        "duckdb_memory_limit": "512MB",
        "duckdb_threads": 3,
        "models_dir": PROJECT_ROOT / "registry",
        "privacy_dir": PROJECT_ROOT / "secure" / "privacy",
        "requests_dir": tmp_path / "dsr",
        "dagster_home": Path("~/dagster-home").expanduser(),
        "quality_as_of": "2026-11-20T06:00:00+08:00",
        "hmac_key": "masking-secret",
        "hmac_key_version": "2026-11",
        "suppression_key": "suppression-secret",
        "audit_key": "audit-secret",
        "dlt_progress": True,
        "dbt_log_level_file": "debug",
        "engine": "spark",
        "lake": "s3://mall-lake/raw",
        "spark_host": "spark-thrift.internal",
        "spark_port": 10001,
        "spark_dir": PROJECT_ROOT / "spark-local",
        "spark_worker_memory": "6g",
        "java_home": Path("/usr/lib/jvm/java-17"),
        "outbox": PROJECT_ROOT / "out",
        "postgres_dsn": "postgresql://crm@db.internal:5432/marketing",
        "postgres_port": 5499,
        "postgres_dir": tmp_path / "pg",
        "automation": True,
        "privacy_automation": True,
    }
    assert set(expected) == FIELDS  # every setting has its variable
    s = load_settings(environ)
    assert {name: getattr(s, name) for name in FIELDS} == expected
    assert s.privacy_path == PROJECT_ROOT / "secure" / "privacy" and s.requests_path == tmp_path / "dsr"
    # the variables are what settings_environment writes back
    assert set(environ) <= set(settings_environment(s))


def test_derived_paths_follow_the_warehouse_and_the_inbox(tmp_path):
    s = load_settings({"MALLCRM_WAREHOUSE": str(tmp_path / "w" / "x.duckdb"), "MALLCRM_INBOX": "relative/inbox"})
    assert s.warehouse == tmp_path / "w" / "x.duckdb"
    assert s.dlt_dir == tmp_path / "w" / ".dlt"  # dlt state follows its warehouse
    assert s.privacy_path == tmp_path / "w" / "privacy"
    assert s.inbox == PROJECT_ROOT / "relative" / "inbox"
    assert s.requests_path == PROJECT_ROOT / "relative" / "requests"
    # empty values count as unset
    blank = load_settings({"MALLCRM_QUALITY_AS_OF": "  ", "MALLCRM_DLT_PROGRESS": "", "MALLCRM_PRIVACY_DIR": ""})
    assert blank.quality_as_of is None and blank.dlt_progress is False and blank.privacy_dir is None


@pytest.mark.parametrize(
    "zone", ["Mars/Olympus_Mons", "Asia/Shanghai'; drop table x; --", "../etc/passwd", "/etc/localtime"]
)
def test_a_bad_time_zone_is_refused(zone):
    with pytest.raises(SettingsError, match="MALLCRM_TIMEZONE"):
        load_settings({"MALLCRM_TIMEZONE": zone})


@pytest.mark.parametrize("threads", ["0", "-1", "two", "1.5", "2 "])
def test_a_bad_thread_count_is_refused(threads):
    with pytest.raises(SettingsError, match="MALLCRM_DUCKDB_THREADS"):
        load_settings({"MALLCRM_DUCKDB_THREADS": threads})


def _every_field_set(root: Path) -> Settings:
    return Settings(
        warehouse=root / "w" / "x.duckdb",
        inbox=root / "in",
        dlt_dir=root / "dlt",
        timezone="America/New_York",
        duckdb_memory_limit="1GB",
        duckdb_threads=5,
        models_dir=root / "models",
        privacy_dir=root / "privacy",
        requests_dir=root / "requests",
        dagster_home=root / "dagster",
        quality_as_of="now",
        hmac_key="k1",
        hmac_key_version="v7",
        suppression_key="k2",
        audit_key="k3",
        dlt_progress=True,
        dbt_log_level_file="warn",
        engine="spark",
        lake=str(root / "lake"),
        spark_host="10.1.2.3",
        spark_port=10010,
        spark_dir=root / "spark",
        spark_worker_memory="3g",
        java_home=root / "jdk",
        outbox=root / "outbox",
        postgres_dsn="postgresql://localhost/x",
        postgres_port=5444,
        postgres_dir=root / "pg",
        automation=True,
        privacy_automation=True,
    )


def test_settings_environment_round_trips(tmp_path):
    s = _every_field_set(tmp_path)
    defaults = load_settings({})
    assert all(getattr(s, name) != getattr(defaults, name) for name in FIELDS)  # every field is set
    assert load_settings(settings_environment(s)) == s
    # a child process gets the same settings whatever this process's environment holds
    assert load_settings(child_environment(s)) == s
    # unset derived folders arrive as the folders they stand for
    plain = dataclasses.replace(
        s, privacy_dir=None, requests_dir=None, quality_as_of=None, dlt_progress=False, lake="", spark_dir=None
    )
    again = load_settings(settings_environment(plain))
    assert (again.privacy_path, again.requests_path) == (plain.privacy_path, plain.requests_path)
    assert (again.lake_url, again.spark_path) == (plain.lake_url, plain.spark_path)
    assert again.quality_as_of is None and again.dlt_progress is False


def test_dbt_runs_against_the_configured_warehouse_and_logs_to_file_at_info(tmp_path):
    s = dataclasses.replace(load_settings({}), warehouse=tmp_path / "x.duckdb")
    env = settings_environment(s)
    assert env["MALLCRM_WAREHOUSE"] == str(tmp_path / "x.duckdb")
    assert env["DBT_LOG_LEVEL_FILE"] == "info"
    # an operator chasing a failing statement
    assert settings_environment(load_settings({"DBT_LOG_LEVEL_FILE": "debug"}))["DBT_LOG_LEVEL_FILE"] == "debug"
    # no tool phones home
    assert {k: env[k] for k in PROCESS_DEFAULTS} == PROCESS_DEFAULTS
    # every variable the dbt project reads is one the settings carry
    read = set()
    for path in DBT_PROJECT_DIR.rglob("*"):
        if path.suffix in (".yml", ".sql") and "target" not in path.parts and "dbt_packages" not in path.parts:
            read |= set(re.findall(r"env_var\(\s*['\"]([A-Z0-9_]+)['\"]", path.read_text(encoding="utf-8")))
    assert "MALLCRM_WAREHOUSE" in read and read <= set(env)


def test_export_environment_sets_and_clears_the_variables(tmp_path, monkeypatch):
    s = dataclasses.replace(_every_field_set(tmp_path), hmac_key="", quality_as_of=None)
    for name in settings_environment(s):
        monkeypatch.setenv(name, "stale")  # restored after the test
    export_environment(s)
    assert os.environ["MALLCRM_WAREHOUSE"] == str(s.warehouse)
    assert "MALLCRM_HMAC_KEY" not in os.environ and "MALLCRM_QUALITY_AS_OF" not in os.environ
    assert load_settings() == s
