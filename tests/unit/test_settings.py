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
