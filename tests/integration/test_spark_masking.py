"""Masking on Spark: the Java UDF gives DuckDB's tokens byte for byte, and the key stays
out of SQL, logs and command lines (it reaches the executors through an owner-only
properties file)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from privacy.tokens import hmac_hex, load_key
from spark.catalog import thrift_cursor

pytestmark = [pytest.mark.integration, pytest.mark.spark]

VALUES = ["8613812345678", "ana.lopez@example.com", "6222020200112233", "张伟", "device-Ωβ-01", " "]


@pytest.fixture(scope="module")
def cursor(spark_cluster):
    with thrift_cursor(spark_cluster) as cur:
        cur.execute("create function if not exists default.pii_hmac as 'org.mallcrm.privacy.PiiHmac'")
        for name, cls in [
            ("pii_key_version", "PiiKeyVersion"),
            ("pii_key_is_demo", "PiiKeyIsDemo"),
            ("pii_key_fingerprint", "PiiKeyFingerprint"),
        ]:
            cur.execute(f"create function if not exists default.{name} as 'org.mallcrm.privacy.{cls}'")
        yield cur


def test_spark_tokens_equal_duckdb_and_python_tokens_byte_for_byte(spark_cluster, cursor):
    key = load_key(spark_cluster)
    # values go through a table so the UDF runs on the executors, not folded on the driver
    rows = ", ".join("('" + v.replace("'", "''") + "')" for v in VALUES)
    cursor.execute(f"select v, pii_hmac(v) from (values {rows}, (null)) as t(v)")
    got = dict(cursor.fetchall())
    assert got.pop(None) is None  # NULL in, NULL out
    assert got == {v: hmac_hex(key.secret, v) for v in VALUES}


def test_spark_records_which_key_without_revealing_it(spark_cluster, cursor):
    key = load_key(spark_cluster)
    cursor.execute("select pii_key_version(), pii_key_is_demo(), pii_key_fingerprint()")
    assert cursor.fetchall() == [(key.version, key.is_demo, key.fingerprint)]
    assert not key.is_demo  # the tests' own key, never the public demo key


def test_the_key_is_in_no_log_command_line_or_file_but_the_owner_only_properties(spark_cluster, cursor):
    secret = load_key(spark_cluster).secret
    properties = spark_cluster.spark_path / "conf" / "spark-defaults.conf"
    assert stat.S_IMODE(properties.stat().st_mode) == 0o600
    holding = [
        str(p)
        for p in Path(spark_cluster.spark_path).rglob("*")
        if p.is_file() and p != properties and p.suffix != ".jar" and secret in p.read_bytes()
    ]
    assert holding == []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        assert secret not in cmdline, f"process {pid} has the key on its command line"
