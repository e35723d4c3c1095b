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
them is materialized as a table (a view would fail in any other DuckDB connection).
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa
from dbt.adapters.duckdb.plugins import BasePlugin
from duckdb import DuckDBPyConnection
from duckdb.sqltypes import BOOLEAN, VARCHAR

from privacy.tokens import hmac_hex, load_key


def register_udfs(conn: DuckDBPyConnection, environ: dict[str, str] | None = None) -> None:
    """Register the pii_* functions on a DuckDB connection (also usable outside dbt)."""
    key = load_key(environ)
    secret = key.secret

    def pii_hmac(values: pa.Array) -> pa.Array:
        return pa.array(
            [None if v is None else hmac_hex(secret, v) for v in values.to_pylist()],
            type=pa.string(),
        )

    def existing(name: str) -> bool:
        rows = conn.execute("select count(*) from duckdb_functions() where function_name = ?", [name]).fetchall()
        return bool(rows[0][0])

    for name in ("pii_hmac", "pii_key_version", "pii_key_is_demo", "pii_key_fingerprint"):
        if existing(name):
            conn.remove_function(name)
    conn.create_function("pii_hmac", pii_hmac, [VARCHAR], VARCHAR, type="arrow", side_effects=False)
    conn.create_function("pii_key_version", lambda: key.version, [], VARCHAR, side_effects=False)
    conn.create_function("pii_key_is_demo", lambda: key.is_demo, [], BOOLEAN, side_effects=False)
    conn.create_function("pii_key_fingerprint", lambda: key.fingerprint, [], VARCHAR, side_effects=False)


class Plugin(BasePlugin):
    def initialize(self, plugin_config: dict[str, Any]) -> None:
        self.config = plugin_config

    def configure_connection(self, conn: DuckDBPyConnection) -> None:
        register_udfs(conn)
