"""Keyed tokens, their normalization, and the DuckDB UDF that the dbt plugin registers."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import replace

import duckdb
import pytest

from mallcrm.core.settings import Settings
from privacy.dbt_plugin import register_udfs
from privacy.tokens import DEMO_KEY, DEMO_KEY_VERSION, load_key, normalize, token
from tests.conftest import BASE_SETTINGS


def keyed(key: str = "", version: str = "") -> Settings:
    """Settings with this masking key and version (none: the public demo key)."""
    return replace(BASE_SETTINGS, hmac_key=key, hmac_key_version=version)


@pytest.mark.parametrize(
    ("value", "pii_type", "expected"),
    [
        ("13812345678", "mobile", "8613812345678"),
        ("+86 138-1234-5678", "mobile", "8613812345678"),
        ("+85251234567", "mobile", "85251234567"),
        ("+13105550123", "mobile", "13105550123"),  # US: not mistaken for a CN mobile
        (" Zhang.San@QQ.com ", "email", "zhang.san@qq.com"),
        ("6222 0000 0000 0001", "card_no", "6222000000000001"),
        ("  ", "email", None),
        (None, "mobile", None),
    ],
)
def test_normalize(value, pii_type, expected):
    assert normalize(value, pii_type) == expected


def test_token_is_hmac_sha256_of_the_normalized_value():
    key = load_key(keyed("s3cret", "2026-01"))
    assert key.version == "2026-01" and not key.is_demo
    expected = hmac.new(b"s3cret", b"8613812345678", hashlib.sha256).hexdigest()
    assert token("13812345678", "mobile", key) == expected
    assert token("+86 13812345678", "mobile", key) == expected
    assert token("13812345678", "mobile", load_key(keyed())) != expected


def test_demo_key_is_marked():
    key = load_key(keyed())
    assert key.is_demo and key.version == DEMO_KEY_VERSION and key.secret == DEMO_KEY.encode()
    assert len(key.fingerprint) == 16


def test_duckdb_udf_matches_python():
    conn = duckdb.connect()
    settings = keyed("k", "v9")
    register_udfs(conn, settings)
    got = conn.execute(
        "select pii_hmac('8613812345678'), pii_hmac(null), pii_key_version(), pii_key_is_demo()"
    ).fetchall()[0]
    assert got == (token("13812345678", "mobile", load_key(settings)), None, "v9", False)
    register_udfs(conn, keyed())  # re-registering replaces the functions
    assert conn.execute("select pii_key_is_demo()").fetchall()[0][0] is True


def test_duckdb_udf_hashes_repeated_values_and_nulls_like_python():
    # the UDF hashes each distinct value once (cache): repeats and NULLs must not shift rows
    conn = duckdb.connect()
    settings = keyed("k2", "v2")
    register_udfs(conn, settings)
    rows = conn.execute(
        "select v, pii_hmac(v) from (select case when i % 7 = 0 then null else 'device-' || (i % 50) end as v "
        "from range(5000) t(i))"
    ).fetchall()
    key = load_key(settings)
    assert len(rows) == 5000
    assert all(t == (None if v is None else token(v, "device_id", key)) for v, t in rows)
