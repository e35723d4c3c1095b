"""The local PostgreSQL server's pure parts, no server: which DSN is used, where the
binaries are looked for, what a missing installation says, what `up` writes."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from mallcrm.core.settings import load_settings
from postgres import server


def _settings(tmp_path: Path, **overrides):
    return replace(load_settings({}), postgres_dir=tmp_path / "pg", postgres_port=5491, **overrides)


def test_an_external_dsn_is_returned_as_it_is(tmp_path):
    external = "postgresql://tool:secret@db.example.com:6543/crm"
    settings = _settings(tmp_path, postgres_dsn=external)
    assert server.dsn(settings) == external


def test_up_and_down_leave_an_external_server_alone(tmp_path):
    settings = _settings(tmp_path, postgres_dsn="postgresql://tool:secret@127.0.0.1:1/crm?connect_timeout=1")
    state = server.up(settings)
    assert state.external and not state.running
    assert "secret" not in state.describe() and "127.0.0.1:1/crm" in state.describe()
    server.down(settings)
    assert not (tmp_path / "pg").exists()  # nothing created for an external server


def test_the_local_dsn_is_the_delivery_role_on_loopback(tmp_path):
    settings = _settings(tmp_path)
    (tmp_path / "pg").mkdir()
    (tmp_path / "pg" / "credentials.json").write_text(json.dumps({"delivery_password": "p@ss/word"}))
    assert server.dsn(settings) == "postgresql://mallcrm_delivery:p%40ss%2Fword@127.0.0.1:5491/mallcrm"


def test_the_local_dsn_before_up_says_how_to_start_the_server(tmp_path):
    with pytest.raises(server.PostgresServerError, match=r"python -m postgres.server up"):
        server.dsn(_settings(tmp_path))


def test_the_postgres_path_defaults_under_the_warehouse_dir():
    settings = load_settings({"MALLCRM_WAREHOUSE": "/srv/wh/mallcrm.duckdb"})
    assert settings.postgres_path == Path("/srv/wh/postgres")
    assert settings.postgres_port == 5433


def test_missing_binaries_say_what_to_install(tmp_path):
    with pytest.raises(server.PostgresServerError) as err:
        server.server_binaries([tmp_path / "nowhere", tmp_path])
    message = str(err.value)
    assert "initdb, pg_ctl, postgres" in message and str(tmp_path / "nowhere") in message
    assert "make postgres-deps" in message and "MALLCRM_POSTGRES_DSN" in message


def test_a_folder_needs_all_three_binaries(tmp_path):
    partial, complete = tmp_path / "partial", tmp_path / "complete"
    for folder, names in ((partial, ["pg_ctl"]), (complete, ["initdb", "pg_ctl", "postgres"])):
        folder.mkdir()
        for name in names:
            (folder / name).write_text("#!/bin/sh\n")
            (folder / name).chmod(0o755)
    assert server.server_binaries([partial, complete]) == complete


def test_a_cluster_prefers_the_binaries_of_its_own_version(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "PG_VERSION").write_text("15\n")
    assert server.candidate_bindirs(data)[0] == Path("/usr/lib/postgresql/15/bin")


def test_the_socket_sits_in_the_data_folder_unless_its_path_is_too_long(tmp_path):
    assert server._socket_setting(Path("/srv/pg/data"), 5433) == "'\"/srv/pg/data\"'"
    assert server._socket_setting(Path("/" + "x" * 100), 5433) == "''"  # TCP only
    assert server._socket_setting(Path("/srv/it's/data"), 5433) == "''"


def test_loopback_needs_a_password_and_the_socket_is_the_only_trust():
    rules = [line.split() for line in server.HBA.splitlines() if line and not line.startswith("#")]
    assert rules == [["local", "all", "all", "trust"], ["host", "all", "all", "127.0.0.1/32", "scram-sha-256"]]


def test_the_status_of_a_folder_without_a_server(tmp_path):
    state = server.status(_settings(tmp_path))
    assert not state.running and state.pid is None
    assert state.address == "127.0.0.1:5491/mallcrm"
