"""Settings come from one place and follow the environment."""

from mallcrm.settings import PROJECT_ROOT, load_settings


def test_defaults_live_under_the_project(monkeypatch):
    for key in ("MALLCRM_WAREHOUSE", "MALLCRM_INBOX", "MALLCRM_DLT_DIR", "MALLCRM_TIMEZONE"):
        monkeypatch.delenv(key, raising=False)
    s = load_settings()
    assert s.warehouse == PROJECT_ROOT / "warehouse" / "mallcrm.duckdb"
    assert s.inbox == PROJECT_ROOT / "data" / "inbox"
    assert s.dlt_dir == PROJECT_ROOT / "warehouse" / ".dlt"
    assert s.timezone == "Asia/Shanghai"


def test_environment_overrides(monkeypatch, tmp_path):
    monkeypatch.setenv("MALLCRM_WAREHOUSE", str(tmp_path / "w" / "x.duckdb"))
    monkeypatch.setenv("MALLCRM_INBOX", "relative/inbox")
    s = load_settings()
    assert s.warehouse == tmp_path / "w" / "x.duckdb"
    assert s.dlt_dir == tmp_path / "w" / ".dlt"  # dlt state follows its warehouse
    assert s.inbox == PROJECT_ROOT / "relative" / "inbox"


def test_dbt_runs_against_the_configured_warehouse_and_logs_to_file_at_info(monkeypatch, tmp_path):
    from mallcrm.dbt_runner import dbt_environment

    monkeypatch.setenv("MALLCRM_WAREHOUSE", str(tmp_path / "x.duckdb"))
    monkeypatch.delenv("DBT_LOG_LEVEL_FILE", raising=False)
    env = dbt_environment(load_settings())
    assert env["MALLCRM_WAREHOUSE"] == str(tmp_path / "x.duckdb")
    assert env["DBT_LOG_LEVEL_FILE"] == "info"
    monkeypatch.setenv("DBT_LOG_LEVEL_FILE", "debug")  # an operator chasing a failing statement
    assert dbt_environment(load_settings())["DBT_LOG_LEVEL_FILE"] == "debug"
