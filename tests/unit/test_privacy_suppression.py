"""The suppression list keeps its own key: masking-key rotations do not let erased people back in,
and a missing or wrong key stops ingestion and erasure instead of silently matching nothing."""

from __future__ import annotations

import csv
import hashlib
import hmac
from dataclasses import replace
from datetime import UTC, datetime
from types import SimpleNamespace

import pyarrow as pa
import pytest

from mallcrm.core.settings import Settings
from privacy import suppression
from privacy.suppression import SuppressionKeyError
from privacy.tokens import load_key, token
from tests.conftest import settings_for

MEMBER_MOBILE = "+86 138 1234 5678"


@pytest.fixture
def settings(tmp_path) -> Settings:
    return settings_for(
        tmp_path,
        hmac_key="masking-key-one",
        hmac_key_version="m-1",
        suppression_key="suppression-key-long-lived",
    )


def _rotate_masking_key(settings: Settings) -> Settings:
    return replace(settings, hmac_key="masking-key-two", hmac_key_version="m-2")


def _batch():
    """A re-sent member export: the erased member (written another way) between two others."""
    rows = pa.table(
        {
            "member_id": ["M0000001", "M0000009", "M0000002"],
            "mobile": ["13900000000", "13812345678", "13700000000"],
            "_source_file": ["m/a.csv"] * 3,
        }
    )
    quarantine = pa.table({"source_file": ["m/a.csv"], "raw_record": ['"M0000009","+86 13812345678","bad-date"']})
    outcomes = [SimpleNamespace(file=SimpleNamespace(relpath="m/a.csv"), rows_loaded=3, rows_quarantined=1)]
    parsed = SimpleNamespace(rows=rows, quarantine=quarantine, outcomes=outcomes)
    return parsed, SimpleNamespace(system="membership", entity="members")


def _suppress(settings):
    parsed, export = _batch()
    return suppression.suppress_erased(parsed, export, datetime.now(UTC), settings)


def test_erased_member_stays_out_after_the_masking_key_rotates(settings):
    assert suppression.add(settings, {"mobile": {MEMBER_MOBILE}}, "R-1") == 1
    masking_token_before = token(MEMBER_MOBILE, "mobile", load_key(settings))
    settings = _rotate_masking_key(settings)
    # the rotation changed every masked token
    assert token(MEMBER_MOBILE, "mobile", load_key(settings)) != masking_token_before
    parsed, counts = _suppress(settings)
    assert parsed.rows.column("member_id").to_pylist() == ["M0000001", "M0000002"]
    assert parsed.quarantine.num_rows == 0
    assert parsed.outcomes[0].rows_suppressed == 2 and counts.column("rows_suppressed").to_pylist() == [2]
    # the entry is HMAC under the suppression key, tied to it by its fingerprint; never the value
    (entry,) = suppression.load_entries(settings)
    expected = hmac.new(b"suppression-key-long-lived", b"8613812345678", hashlib.sha256).hexdigest()
    assert entry.token == expected and entry.token != masking_token_before
    assert entry.key_fingerprint == suppression.load_suppression_key(settings).fingerprint
    assert "13812345678" not in suppression.list_path(settings).read_text()


def test_a_wrong_suppression_key_stops_ingestion_and_erasure(settings):
    suppression.add(settings, {"mobile": {MEMBER_MOBILE}}, "R-1")
    settings = replace(settings, suppression_key="a-different-key")
    with pytest.raises(SuppressionKeyError, match="fingerprint") as raised:
        _suppress(settings)
    assert suppression.load_entries(settings)[0].key_fingerprint in str(raised.value)
    with pytest.raises(SuppressionKeyError):
        suppression.check_key(settings)  # erasure calls this before deleting anything
    with pytest.raises(SuppressionKeyError):
        suppression.add(settings, {"mobile": {"13900000000"}}, "R-2")
    assert len(suppression.load_entries(settings)) == 1


def test_a_real_masking_key_needs_a_suppression_key(settings):
    settings = replace(settings, suppression_key="")
    # an empty list costs nothing and needs no key
    parsed, counts = _suppress(settings)
    assert counts is None and parsed.rows.num_rows == 3 and parsed.outcomes[0].rows_suppressed == 0
    with pytest.raises(SuppressionKeyError, match="MALLCRM_SUPPRESSION_KEY is not set"):
        suppression.add(settings, {"mobile": {MEMBER_MOBILE}}, "R-1")
    with pytest.raises(SuppressionKeyError):
        suppression.check_key(settings)
    with pytest.raises(SuppressionKeyError, match="must not be the masking key"):
        suppression.load_suppression_key(replace(settings, suppression_key="masking-key-one"))


def test_the_demo_mall_falls_back_to_a_public_demo_key(settings):
    settings = replace(settings, hmac_key="", hmac_key_version="", suppression_key="")
    key = suppression.load_suppression_key(settings)
    assert key.is_demo and key.secret == suppression.DEMO_KEY.encode()
    suppression.add(settings, {"member_id": {"M0000009"}}, "R-1")
    parsed, _ = _suppress(settings)
    assert parsed.rows.column("member_id").to_pylist() == ["M0000001", "M0000002"]
    # a real key set later does not silently ignore the demo entries
    with pytest.raises(SuppressionKeyError, match="fingerprint"):
        _suppress(replace(settings, suppression_key="now-a-real-key"))


def _write_legacy_list(settings) -> None:
    """A list written before it had its own key: tokens under the masking key of key_version."""
    path = suppression.list_path(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["token", "pii_type", "key_version", "request_id", "added_at"])
        key = load_key(settings)
        writer.writerow([token(MEMBER_MOBILE, "mobile", key), "mobile", key.version, "R-OLD", "2026-11-01"])


def test_older_entries_match_under_their_masking_key_and_fail_loudly_once_it_rotated(settings):
    _write_legacy_list(settings)
    parsed, _ = _suppress(settings)
    assert parsed.rows.column("member_id").to_pylist() == ["M0000001", "M0000002"]
    # adding to such a list upgrades its header and keeps the older entries
    suppression.add(settings, {"member_id": {"M0000001"}}, "R-NEW")
    entries = suppression.load_entries(settings)
    assert [(e.request_id, bool(e.key_fingerprint)) for e in entries] == [("R-OLD", False), ("R-NEW", True)]
    parsed, _ = _suppress(settings)
    assert parsed.rows.column("member_id").to_pylist() == ["M0000002"]
    with pytest.raises(SuppressionKeyError, match="R-OLD"):
        _suppress(_rotate_masking_key(settings))
