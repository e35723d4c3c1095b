"""Keyed pseudonymization: HMAC-SHA256 tokens of normalized personal values.

One function, `token(value, pii_type, key)`, defines what a token is; the dbt plugin
(`privacy.dbt_plugin`) registers it in DuckDB, so SQL and Python always agree:

    token = lowercase hex HMAC-SHA256(key, normalize(value, pii_type))

The SQL side normalizes the value before calling the UDF (macro `pii_normalize`); the
Python normalization below applies the same rules (`pii_normalization` in
privacy/policy.yml, read by privacy/patterns.py, from which the macro is generated), for
tests and for anyone who must look a token up from a value (e.g. an erasure request that
arrives with a mobile number).

The key comes from `MALLCRM_HMAC_KEY` (its UTF-8 bytes). Without it a built-in DEMO key
is used — fine for the generated demo mall, never for real members: tokens made with a
public key can be reversed by hashing every mobile number. `MALLCRM_HMAC_KEY_VERSION`
labels the key (default `demo-1`) and is recorded in `masked.key_versions`.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

from mallcrm.core.settings import Settings
from privacy import patterns

KEY_ENV = "MALLCRM_HMAC_KEY"
KEY_VERSION_ENV = "MALLCRM_HMAC_KEY_VERSION"
# Public on purpose: anyone can recompute tokens made with it. Demo data only.
DEMO_KEY = "mallcrm-DEMO-KEY-not-secret-do-not-use-with-real-members"
DEMO_KEY_VERSION = "demo-1"
ALGORITHM = "HMAC-SHA256"
# A fixed message whose token identifies the key without revealing it.
FINGERPRINT_MESSAGE = "mallcrm-key-fingerprint"


@dataclass(frozen=True)
class TokenKey:
    secret: bytes
    version: str
    is_demo: bool

    @property
    def fingerprint(self) -> str:
        """First 16 hex digits of HMAC(key, FINGERPRINT_MESSAGE): which key, not the key."""
        return hmac_hex(self.secret, FINGERPRINT_MESSAGE)[:16]


def load_key(settings: Settings) -> TokenKey:
    """The masking key of `settings` (MALLCRM_HMAC_KEY), or the public demo key when unset."""
    if settings.hmac_key:
        return TokenKey(settings.hmac_key.encode("utf-8"), settings.hmac_key_version or "v1", False)
    return TokenKey(DEMO_KEY.encode("utf-8"), settings.hmac_key_version or DEMO_KEY_VERSION, True)


def hmac_hex(secret: bytes, message: str) -> str:
    return hmac.new(secret, message.encode("utf-8"), hashlib.sha256).hexdigest()


def normalize(value: str | None, pii_type: str) -> str | None:
    """The canonical form a token is computed from: the `pii_normalization` rules of
    privacy/policy.yml (privacy/patterns.py), which the dbt macro `pii_normalize` is
    generated from, so SQL and Python normalize alike.

    mobile: digits with country code — `+852 5123 4567` -> `85251234567`; a CN number
    written without a country code (11 digits starting 1[3-9]) gets `86`, so
    `13812345678` and `+86 138 1234 5678` give one token. email: trimmed, lower case.
    card_no: digits only. Anything else (device_id, ...): trimmed. Empty -> None.
    """
    return patterns.normalize(value, pii_type)


def token(value: str | None, pii_type: str, key: TokenKey) -> str | None:
    normalized = normalize(value, pii_type)
    if normalized is None:
        return None
    return hmac_hex(key.secret, normalized)
