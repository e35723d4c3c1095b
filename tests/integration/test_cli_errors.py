"""The command line as an operator meets it: every error one sentence with a non-zero
exit code, no traceback unless `mallcrm --debug`; typos are errors; a missing warehouse
is never created; dbt's warnings named; a progress bar on a terminal only."""

from __future__ import annotations

import fcntl
import json
import os
import pty
import re
import shutil
import struct
import subprocess
import sys
import termios
import time
from dataclasses import replace

import pytest
from click.testing import CliRunner

from cli import exit_codes, main
from mallcrm.core.settings import PROJECT_ROOT
from tests.conftest import cli_env, settings_for

pytestmark = pytest.mark.integration

TRACEBACK = "Traceback (most recent call last)"


def _run(settings, *args: str):
    return CliRunner().invoke(main, list(args), env=cli_env(settings))


def _one_sentence(result, *words: str) -> str:
    """The error's text: one `Error:` line holding `words`, and no traceback."""
    assert TRACEBACK not in result.output
    errors = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1, result.output
    for word in words:
        assert word in errors[0], errors[0]
    return errors[0]


def _copy_of(built_mall, root):
    """Settings for a private copy of the built small mall's warehouse under `root`."""
    built, _, ok = built_mall
    assert ok
    settings = settings_for(root)
    settings.warehouse.parent.mkdir(parents=True)
    for path in built.warehouse.parent.glob(built.warehouse.name + "*"):  # the file and any WAL
        shutil.copy2(path, settings.warehouse.parent / path.name)
    return settings


@pytest.fixture(scope="module")
def warehouse_copy(built_mall, tmp_path_factory):
    """A private copy of the built small mall's warehouse: the commands below may write it."""
    return _copy_of(built_mall, tmp_path_factory.mktemp("cli_errors"))


@pytest.mark.parametrize(
    "command",
    [
        ["status"],
        ["check"],
        ["build"],
        ["ml", "score"],
        ["ml", "train"],
        ["publish-bi"],
        ["publish-roles"],
        ["compliance-report"],
        ["privacy", "purge", "--dry-run"],
        ["audiences", "build"],
    ],
    ids=" ".join,
)
def test_a_missing_warehouse_is_refused_and_not_created(tmp_path, command):
    settings = settings_for(tmp_path)
    result = _run(settings, *command)
    assert result.exit_code == exit_codes.NO_WAREHOUSE, result.output
    _one_sentence(result, f"no warehouse at {settings.warehouse}", "mallcrm ingest")
    assert not settings.warehouse.exists()
    assert not settings.warehouse.parent.exists() or not any(settings.warehouse.parent.iterdir())


# Holds the write lock of the warehouse of its environment, as a first ingest creating it
# does, until the file argv[2] appears; argv[1] says it holds it.
HOLD_THE_LOCK = """
import sys, time
from pathlib import Path
from mallcrm.core.lock import write_lock
from mallcrm.core.settings import load_settings
with write_lock(load_settings(), "mallcrm ingest"):
    Path(sys.argv[1]).touch()
    while not Path(sys.argv[2]).exists():
        time.sleep(0.05)
"""


def test_a_missing_warehouse_being_created_is_busy_not_missing(tmp_path):
    settings = settings_for(tmp_path)
    held, release = tmp_path / "held", tmp_path / "release"
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_THE_LOCK, str(held), str(release)], cwd=PROJECT_ROOT, env=cli_env(settings)
    )
    try:
        deadline = time.monotonic() + 60
        while not held.exists():
            assert holder.poll() is None and time.monotonic() < deadline
            time.sleep(0.05)
        result = _run(settings, "build")
        assert result.exit_code == exit_codes.BUSY, result.output
        _one_sentence(result, "is being written by", "mallcrm ingest")
    finally:
        release.touch()
        holder.wait(timeout=60)
    assert not settings.warehouse.exists()
    result = _run(settings, "build")  # the holder is gone, the lock file stays: missing again
    assert result.exit_code == exit_codes.NO_WAREHOUSE, result.output


def test_a_bad_date_is_a_usage_error(tmp_path):
    result = _run(settings_for(tmp_path), "privacy", "purge", "--dry-run", "--as-of", "2026-13-45")
    assert result.exit_code == exit_codes.USAGE
    _one_sentence(result, "'2026-13-45' is not a date", "--as-of")


def test_scoring_without_a_model_names_the_next_command(warehouse_copy, tmp_path):
    settings = replace(warehouse_copy, models_dir=tmp_path / "no_models")
    result = _run(settings, "ml", "score")
    assert result.exit_code == exit_codes.FAILED
    _one_sentence(result, "no trained version of", "run `mallcrm ml train` first")


def test_an_unknown_dataset_is_a_usage_error_listing_the_known_ones(warehouse_copy):
    result = _run(warehouse_copy, "check", "--dataset", "raw_pos.nosuch")
    assert result.exit_code == exit_codes.USAGE
    _one_sentence(result, "no data contract for 'raw_pos.nosuch'", "raw_pos.transactions")


def test_a_selection_that_matches_nothing_is_an_error(warehouse_copy):
    result = _run(warehouse_copy, "build", "--select", "mart_does_not_exist")
    assert result.exit_code == exit_codes.FAILED, result.output
    _one_sentence(result, "--select mart_does_not_exist", "selects no model")


def test_build_passes_the_rest_of_the_command_line_to_dbt(warehouse_copy, tmp_path):
    target = tmp_path / "target"
    result = _run(
        warehouse_copy,
        "build",
        "--select",
        "stg_reference__zones",
        "--",
        "--vars",
        "{cli_probe: 42}",
        "--target-path",
        str(target),
    )
    assert result.exit_code == 0, result.output
    run = json.loads((target / "run_results.json").read_text(encoding="utf-8"))
    assert run["args"]["vars"] == {"cli_probe": 42}
    assert {r["unique_id"] for r in run["results"]} >= {"model.mallcrm.stg_reference__zones"}

    refused = _run(warehouse_copy, "build", "--select", "stg_reference__zones", "--", "--no-such-dbt-option")
    assert refused.exit_code == exit_codes.USAGE
    _one_sentence(refused, "dbt build refused its arguments", "--no-such-dbt-option")


def test_a_terminal_gets_a_progress_bar_a_quiet_dbt_and_warnings_by_name(built_mall, tmp_path):
    # A child process on a terminal of its own, over its own copy (this process keeps the
    # other copy open). key_versions is built with the public demo key: its warn-severity
    # test flags that.
    settings = replace(_copy_of(built_mall, tmp_path), hmac_key="")
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))  # a 120-column terminal
    process = subprocess.Popen(
        [sys.executable, "-m", "cli", "build", "--select", "key_versions"],
        cwd=PROJECT_ROOT,
        env=os.environ | cli_env(settings),
        stdin=follower,
        stdout=follower,
        stderr=follower,
    )
    os.close(follower)
    chunks = []
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # EIO: the command ended and closed its terminal
            break
        if not chunk:
            break
        chunks.append(chunk)
    process.wait(timeout=600)
    os.close(leader)
    text = b"".join(chunks).decode("utf-8", "replace")
    assert process.returncode == 0, text
    assert re.search(r"dbt build:\s+\d+%\|.*\| \d+/\d+ \[", text), text  # tqdm's bar of finished nodes
    assert "Running with dbt=" not in text  # dbt's own log stays quiet behind the bar
    assert re.search(r"dbt build: [^\n]*, 1 warn", text), text
    assert "WARN  hmac_key_is_not_the_demo_key: Got 1 result, configured to warn if != 0" in text


def test_an_unexpected_error_is_one_sentence_unless_debug(tmp_path):
    settings = settings_for(tmp_path)
    settings.warehouse.parent.mkdir(parents=True)
    settings.warehouse.write_bytes(b"not a duckdb file")
    result = _run(settings, "status")
    assert result.exit_code == exit_codes.FAILED
    _one_sentence(result, "IOException", "not a valid DuckDB database file", "--debug")

    debug = _run(settings, "--debug", "status")
    assert debug.exit_code == exit_codes.FAILED
    assert debug.exception is not None and "not a valid DuckDB database file" in str(debug.exception)
    assert not isinstance(debug.exception, SystemExit)  # raised, so Python prints the traceback


def test_the_pii_scanner_has_a_help_and_usage_errors(tmp_path):
    def scan(*args):
        return subprocess.run(
            [sys.executable, "-m", "privacy.scan", *args], cwd=PROJECT_ROOT, capture_output=True, text=True
        )

    helped = scan("--help")
    assert helped.returncode == 0 and "usage: python -m privacy.scan" in helped.stdout
    missing = scan(str(tmp_path / "none.duckdb"))
    assert missing.returncode == 2 and "no DuckDB file at" in missing.stderr and TRACEBACK not in missing.stderr
    assert not (tmp_path / "none.duckdb").exists()


def test_every_command_has_help_and_the_group_a_version():
    def walk(command, path):
        yield path
        for name, sub in getattr(command, "commands", {}).items():
            yield from walk(sub, [*path, name])

    runner = CliRunner()
    for path in walk(main, []):
        result = runner.invoke(main, [*path, "-h"])
        assert result.exit_code == 0 and "Usage:" in result.output, path
    version = runner.invoke(main, ["--version"])
    assert version.exit_code == 0 and version.output.startswith("mallcrm, version ")
