"""Deliver exported audiences into PostgreSQL, where a marketing tool reads them.

`deliver(settings, manifest_path)` reads the manifest the exporter writes beside its files
(`{"run_date": ..., "exports": [{"run_id", "audience", "channel", "campaign_id",
"definition_version", "rows", "files": {"csv", "jsonl"}, "sha256": {...}, "fields"}]}`),
checks every export (each file's SHA-256, the JSONL's keys, row count and run), and loads
the ones that pass with one dlt pipeline into the dataset (schema) `mallcrm_activation`:

- `audience_members`: one row per member of an export, the manifest's `fields` (all text)
  plus `delivered_at`; primary key (run_id, member_id), merged with `run_id` as merge key:
  delivering an export again replaces that run's members, it never duplicates them.
- `audience_exports`: one row per export (run_id, audience, channel, campaign_id,
  definition_version, rows, sha256 of the JSONL, delivered_at), merged on run_id.

The JSONL is read with pyarrow and handed to dlt as Arrow tables (no row-by-row Python).
An export that fails a check is refused (`DeliveryReport.refused` says why, naming the
file) and nothing of it is loaded; the other exports of the manifest still are.

The destination is `postgres.server.dsn(settings)`: the project's local server, or the
external one of MALLCRM_POSTGRES_DSN.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import dlt
import psycopg2
import psycopg2.errors
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pa_json
from psycopg2 import sql
from psycopg2.extensions import parse_dsn

from mallcrm.core.files import sha256_of
from mallcrm.core.settings import Settings, export_environment
from postgres.server import dsn as postgres_dsn

PIPELINE_NAME = "mallcrm_activation_delivery"
DATASET = "mallcrm_activation"
MEMBERS_TABLE = "audience_members"
EXPORTS_TABLE = "audience_exports"
DELIVERED_AT = "delivered_at"
REQUIRED_FIELDS = ("run_id", "member_id")
EXPORT_KEYS = (
    "run_id",
    "audience",
    "channel",
    "campaign_id",
    "definition_version",
    "rows",
    "files",
    "sha256",
    "fields",
)
# column names PostgreSQL and dlt keep as they are (dlt would rename anything else)
FIELD_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
EXPORTS_SCHEMA = pa.schema(
    [
        pa.field("run_id", pa.string(), nullable=False),
        ("audience", pa.string()),
        ("channel", pa.string()),
        ("campaign_id", pa.string()),
        ("definition_version", pa.string()),
        ("rows", pa.int64()),
        ("sha256", pa.string()),
        (DELIVERED_AT, pa.timestamp("us", tz="UTC")),
    ]
)


class DeliveryError(ValueError):
    """The manifest cannot be read at all (missing, not JSON, not the exporter's format)."""


class ExportRefused(ValueError):
    """One export fails a check; its message names the file."""


@dataclass(frozen=True)
class ExportResult:
    run_id: str
    audience: str
    channel: str
    rows: int
    status: str  # "delivered" | "refused"
    reason: str = ""


@dataclass
class DeliveryReport:
    manifest: Path
    destination: str  # host:port/database.schema, never a password
    delivered_at: datetime
    exports: list[ExportResult] = field(default_factory=list)
    load_id: str | None = None

    @property
    def delivered(self) -> list[ExportResult]:
        return [e for e in self.exports if e.status == "delivered"]

    @property
    def refused(self) -> list[ExportResult]:
        return [e for e in self.exports if e.status == "refused"]

    @property
    def ok(self) -> bool:
        return not self.refused

    def describe(self) -> str:
        lines = [
            f"{len(self.delivered)} export(s) delivered to {self.destination}, {len(self.refused)} refused "
            f"(manifest {self.manifest})"
        ]
        lines += [f"  delivered {e.run_id} ({e.channel}): {e.rows} members" for e in self.delivered]
        lines += [f"  REFUSED {e.run_id}: {e.reason}" for e in self.refused]
        return "\n".join(lines)


def read_manifest(manifest_path: Path) -> dict:
    try:
        manifest = json.loads(Path(manifest_path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DeliveryError(f"manifest {manifest_path} not found") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DeliveryError(f"manifest {manifest_path} is not JSON: {exc}") from None
    if not isinstance(manifest, dict) or not isinstance(manifest.get("exports"), list):
        raise DeliveryError(f"manifest {manifest_path} has no list of exports")
    return manifest


def _check_export(export: dict, folder: Path) -> None:
    """The manifest entry itself: keys, fields, file names inside the manifest's folder."""
    missing = [k for k in EXPORT_KEYS if k not in export]
    if missing:
        raise ExportRefused(f"manifest entry lacks {', '.join(missing)}")
    fields = export["fields"]
    if not isinstance(fields, list) or not all(isinstance(f, str) for f in fields) or len(set(fields)) != len(fields):
        raise ExportRefused("fields must be a list of distinct names")
    bad = [f for f in fields if not FIELD_NAME.match(f) or f == DELIVERED_AT or f.startswith("_dlt")]
    if bad:
        raise ExportRefused(f"field names not usable as columns: {', '.join(bad)}")
    lacking = [f for f in REQUIRED_FIELDS if f not in fields]
    if lacking:
        raise ExportRefused(f"fields lack {', '.join(lacking)} (the primary key)")
    if not isinstance(export["files"], dict) or not isinstance(export["sha256"], dict):
        raise ExportRefused("files and sha256 must be objects ({kind: file name}, {kind: digest})")
    if "jsonl" not in export["files"]:
        raise ExportRefused("no jsonl file in the manifest entry")
    for kind, name in export["files"].items():
        if not isinstance(name, str) or Path(name).name != name or name in ("", ".", ".."):
            raise ExportRefused(f"{kind} file {name!r} is not a file name in the manifest's folder {folder}")


def _verify_files(export: dict, folder: Path) -> None:
    """Every file exists and has the SHA-256 the manifest recorded."""
    for kind, name in export["files"].items():
        path = folder / name
        expected = export["sha256"].get(kind)
        if not expected:
            raise ExportRefused(f"no sha256 recorded for {kind} file {path}")
        if not path.is_file():
            raise ExportRefused(f"{kind} file {path} is missing")
        actual = sha256_of(path)
        if actual != str(expected).lower():
            raise ExportRefused(
                f"{kind} file {path} does not match its manifest: sha256 {actual}, expected {expected} "
                "(changed after export?)"
            )


def _read_members(export: dict, path: Path, delivered_at: datetime) -> pa.Table:
    """The JSONL as an Arrow table: exactly `fields`, all strings or null, the manifest's
    row count, every row of this export's run, audience and channel; plus delivered_at."""
    fields = export["fields"]
    schema = pa.schema([(f, pa.string()) for f in fields])
    if path.stat().st_size == 0:
        table = schema.empty_table()
    else:
        try:
            table = pa_json.read_json(
                path,
                parse_options=pa_json.ParseOptions(explicit_schema=schema, unexpected_field_behavior="error"),
            )
        except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
            raise ExportRefused(f"jsonl file {path} does not hold the manifest's fields as strings: {exc}") from None
    table = table.select(fields)
    if table.num_rows != int(export["rows"]):
        raise ExportRefused(f"jsonl file {path} has {table.num_rows} rows, its manifest says {export['rows']}")
    for column in ("run_id", "audience", "channel"):
        if column not in fields:
            continue
        values = pc.unique(table[column]).to_pylist()
        if table.num_rows and values != [export[column]]:
            raise ExportRefused(f"jsonl file {path} has {column} {values[:3]}, its manifest says {export[column]!r}")
    if table["member_id"].null_count:
        raise ExportRefused(f"jsonl file {path} has {table['member_id'].null_count} rows without member_id")
    if pc.count_distinct(table["member_id"]).as_py() != table.num_rows:
        raise ExportRefused(f"jsonl file {path} lists a member_id twice")
    stamp = pa.array([delivered_at] * table.num_rows, pa.timestamp("us", tz="UTC"))
    # the key columns not nullable, as dlt's primary-key hints say (else dlt warns)
    keyed = pa.schema([pa.field(f, pa.string(), nullable=f not in REQUIRED_FIELDS) for f in fields])
    return table.cast(keyed).append_column(DELIVERED_AT, stamp)


def _address(dsn_text: str) -> str:
    parts = parse_dsn(dsn_text)
    return f"{parts.get('host', 'localhost')}:{parts.get('port', '5432')}/{parts.get('dbname', '')}.{DATASET}"


def make_pipeline(settings: Settings, dsn_text: str) -> dlt.Pipeline:
    export_environment(settings)  # dlt's options (telemetry off) come from the environment
    return dlt.pipeline(
        pipeline_name=PIPELINE_NAME,
        destination=dlt.destinations.postgres(credentials=dsn_text),
        dataset_name=DATASET,
        pipelines_dir=str(settings.dlt_dir / "activation"),
        progress="log" if settings.dlt_progress else None,
    )


def deliver(settings: Settings, manifest_path: Path) -> DeliveryReport:
    """Check every export of the manifest and load those that pass (one dlt load)."""
    manifest_path = Path(manifest_path)
    manifest = read_manifest(manifest_path)
    folder = manifest_path.parent
    dsn_text = postgres_dsn(settings)
    delivered_at = datetime.now(UTC).replace(microsecond=0)
    report = DeliveryReport(manifest_path, _address(dsn_text), delivered_at)
    member_tables: list[pa.Table] = []
    export_rows: list[dict] = []
    for export in manifest["exports"]:
        run_id = str(export.get("run_id", "?")) if isinstance(export, dict) else "?"
        try:
            if not isinstance(export, dict):
                raise ExportRefused("manifest entry is not an object")
            _check_export(export, folder)
            _verify_files(export, folder)
            members = _read_members(export, folder / export["files"]["jsonl"], delivered_at)
        except ExportRefused as exc:
            audience = export.get("audience", "") if isinstance(export, dict) else ""
            channel = export.get("channel", "") if isinstance(export, dict) else ""
            report.exports.append(ExportResult(run_id, str(audience), str(channel), 0, "refused", str(exc)))
            continue
        if run_id in {row["run_id"] for row in export_rows}:
            report.exports.append(
                ExportResult(run_id, export["audience"], export["channel"], 0, "refused", "run_id twice in manifest")
            )
            continue
        if members.num_rows:
            member_tables.append(members)
        export_rows.append(
            {
                "run_id": run_id,
                "audience": export["audience"],
                "channel": export["channel"],
                "campaign_id": export["campaign_id"],
                "definition_version": export["definition_version"],
                "rows": members.num_rows,
                "sha256": export["sha256"]["jsonl"],
                DELIVERED_AT: delivered_at,
            }
        )
        report.exports.append(
            ExportResult(run_id, export["audience"], export["channel"], members.num_rows, "delivered")
        )
    if not export_rows:
        return report
    members_resource = dlt.resource(
        member_tables,
        name=MEMBERS_TABLE,
        write_disposition="merge",
        primary_key=list(REQUIRED_FIELDS),
        merge_key="run_id",
    )
    exports_resource = dlt.resource(
        [pa.Table.from_pylist(export_rows, schema=EXPORTS_SCHEMA)],
        name=EXPORTS_TABLE,
        write_disposition="merge",
        primary_key="run_id",
    )
    info = make_pipeline(settings, dsn_text).run([members_resource, exports_resource])
    info.raise_on_failed_jobs()
    report.load_id = info.loads_ids[-1] if info.loads_ids else None
    _ensure_primary_keys(dsn_text)
    return report


PRIMARY_KEYS = {MEMBERS_TABLE: list(REQUIRED_FIELDS), EXPORTS_TABLE: ["run_id"]}


def _ensure_primary_keys(dsn_text: str) -> None:
    """dlt's primary key is a hint its merge honours, not a constraint in PostgreSQL (its
    postgres destination creates none): add them once, so the database itself refuses a
    duplicate member of a run, whoever writes to the tables."""
    conn = psycopg2.connect(dsn_text, connect_timeout=10)
    try:
        with conn, conn.cursor() as cur:
            for table, columns in PRIMARY_KEYS.items():
                name = sql.Identifier(DATASET, table)
                cur.execute(
                    "SELECT 1 FROM pg_constraint WHERE conrelid = to_regclass(%s) AND contype = 'p'",
                    (f'"{DATASET}"."{table}"',),
                )
                if cur.fetchone():
                    continue
                cur.execute(
                    sql.SQL("ALTER TABLE {} ADD PRIMARY KEY ({})").format(
                        name, sql.SQL(", ").join(sql.Identifier(c) for c in columns)
                    )
                )
    finally:
        conn.close()


def delivered_counts(settings: Settings) -> dict[str, int]:
    """{run_id: members in audience_members} as PostgreSQL holds them ({} before any
    delivery): for `status` and the tests."""
    query = sql.SQL("SELECT run_id, count(*) FROM {}.{} GROUP BY run_id ORDER BY run_id").format(
        sql.Identifier(DATASET), sql.Identifier(MEMBERS_TABLE)
    )
    return {run_id: n for run_id, n in _query(settings, query)}


def delivered_exports(settings: Settings) -> list[dict]:
    """The rows of audience_exports, oldest delivery first ([] before any delivery)."""
    columns = EXPORTS_SCHEMA.names
    query = sql.SQL("SELECT {} FROM {}.{} ORDER BY {}, run_id").format(
        sql.SQL(", ").join(sql.Identifier(c) for c in columns),
        sql.Identifier(DATASET),
        sql.Identifier(EXPORTS_TABLE),
        sql.Identifier(DELIVERED_AT),
    )
    return [dict(zip(columns, row, strict=True)) for row in _query(settings, query)]


def _query(settings: Settings, query: sql.Composable) -> list[tuple]:
    conn = psycopg2.connect(postgres_dsn(settings), connect_timeout=10)
    try:
        with conn.cursor() as cur:
            try:
                cur.execute(query)
            except (
                psycopg2.errors.UndefinedTable,
                psycopg2.errors.InvalidSchemaName,
            ):  # nothing delivered yet (no schema or table)
                return []
            return cur.fetchall()
    finally:
        conn.close()
