"""dbt-duckdb plugin: registers the keyed-hash UDFs on every dbt connection.

DuckDB has sha256 but no HMAC, so the masked layer calls Python:

    pii_hmac(varchar) -> varchar     lowercase hex HMAC-SHA256 with the secret key
    pii_key_version() -> varchar     MALLCRM_HMAC_KEY_VERSION (default demo-1)
    pii_key_is_demo() -> boolean     true when MALLCRM_HMAC_KEY is unset
    pii_key_fingerprint() -> varchar identifies the key without revealing it

The key never appears in SQL, compiled models or view definitions: it is read from the
environment when dbt opens a connection. Enabled in `dbt_project/profiles.yml`:

    plugins:
      - module: privacy.dbt_plugin
        alias: privacy

Only dbt's connections have these functions, which is why every masked model that calls
them is materialized as a table or an incremental table (a view would fail in any other
DuckDB connection).

Why a scalar ("native") UDF with a cache rather than an Arrow batch UDF: DuckDB imports
pandas the first time an Arrow UDF runs (about 1.5 s on these machines, on the critical
path of every dbt run), and the same device, card or mobile recurs across many rows, so
each distinct value is hashed once per connection (bounded cache, HMAC state keyed once).
"""

from __future__ import annotations

import functools
import hashlib
import hmac
from typing import Any

from dbt.adapters.duckdb.plugins import BasePlugin
from duckdb import DuckDBPyConnection
from duckdb.sqltypes import BOOLEAN, VARCHAR

from mallcrm.core.settings import Settings, load_settings
from privacy.tokens import load_key

# Distinct values hashed once per connection: ~200 bytes an entry, so at most ~30 MB.
TOKEN_CACHE_SIZE = 1 << 17


def register_udfs(conn: DuckDBPyConnection, settings: Settings | None = None) -> None:
    """Register the pii_* functions on a DuckDB connection (also usable outside dbt).

    Inside dbt the settings come from the environment dbt was started with
    (mallcrm.core.settings.export_environment)."""
    key = load_key(settings or load_settings())
    keyed = hmac.new(key.secret, digestmod=hashlib.sha256)  # key padding done once

    @functools.lru_cache(maxsize=TOKEN_CACHE_SIZE)
    def pii_hmac(value: str) -> str:
        # NULL in, NULL out: DuckDB does not call a native UDF on NULL (default handling).
        digest = keyed.copy()
        digest.update(value.encode("utf-8"))
        return digest.hexdigest()

    def existing(name: str) -> bool:
        rows = conn.execute("select count(*) from duckdb_functions() where function_name = ?", [name]).fetchall()
        return bool(rows[0][0])

    for name in ("pii_hmac", "pii_key_version", "pii_key_is_demo", "pii_key_fingerprint"):
        if existing(name):
            conn.remove_function(name)
    conn.create_function("pii_hmac", pii_hmac, [VARCHAR], VARCHAR, type="native", side_effects=False)
    conn.create_function("pii_key_version", lambda: key.version, [], VARCHAR, side_effects=False)
    conn.create_function("pii_key_is_demo", lambda: key.is_demo, [], BOOLEAN, side_effects=False)
    conn.create_function("pii_key_fingerprint", lambda: key.fingerprint, [], VARCHAR, side_effects=False)


class Plugin(BasePlugin):
    def initialize(self, plugin_config: dict[str, Any]) -> None:
        self.config = plugin_config

    def configure_connection(self, conn: DuckDBPyConnection) -> None:
        register_udfs(conn)
