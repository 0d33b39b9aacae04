"""DuckDB over the lake: every existing table is a view by its name (native ``delta_scan``).

The Delta extension (and, for an ``s3://`` lake, httpfs, which defines S3 secrets) is
loaded from its ``duckdb-extension-*`` package by file path, with extension auto-install
and auto-load off, so queries work offline.
"""

from __future__ import annotations

import datetime as dt
import importlib
import re
from collections.abc import Mapping
from pathlib import Path

import duckdb

from lakehouse_assets.lake.catalog import PARTITION_COLUMN, table
from lakehouse_assets.lake.delta import Lake, sql_literal

PARAMETER = re.compile(r"(?<![\w$])\$([A-Za-z_]\w*)")


def extension_path(name: str) -> Path:
    """The file of a DuckDB extension shipped by the ``duckdb-extension-NAME`` package."""
    package = importlib.import_module(f"duckdb_extension_{name}")
    base = Path(package.__file__ or "").parent / "extensions"
    candidates = sorted(base.glob(f"v{duckdb.__version__}/{name}.duckdb_extension")) or sorted(
        base.glob(f"*/{name}.duckdb_extension")
    )
    if not candidates:
        raise RuntimeError(
            f"no DuckDB {name} extension under {base} (install duckdb-extension-{name}=={duckdb.__version__})"
        )
    return candidates[-1]


ALL_TABLES = "*"


def connect(lake: Lake, as_of: Mapping[str, int | dt.datetime] | None = None) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB with one view per lake table (partition column hidden).

    ``as_of`` pins tables to a past state (time travel): table name, or ``*`` for every
    table, to a version number or a timestamp (the last version committed at or before
    it; a table created after it has no view).
    """
    con = duckdb.connect(config={"autoinstall_known_extensions": False, "autoload_known_extensions": False})
    con.execute(f"LOAD {sql_literal(str(extension_path('delta')))}")
    if lake.root.startswith("s3://"):
        con.execute(f"LOAD {sql_literal(str(extension_path('httpfs')))}")
        _s3_secret(con, lake.storage_options)
    pins = dict(as_of or {})
    unknown = [name for name in pins if name != ALL_TABLES and not lake.exists(name)]
    if unknown:
        raise KeyError(f"--as-of: no table {unknown[0]!r} in the lake")
    for name in lake.tables():
        pin = pins.get(name, pins.get(ALL_TABLES))
        version = lake.version_at(name, pin) if isinstance(pin, dt.datetime) else pin
        if isinstance(pin, dt.datetime) and version is None:
            continue  # the table did not exist yet
        at = f", version => {int(version)}" if version is not None else ""
        hidden = f" EXCLUDE ({PARTITION_COLUMN})" if table(name).partitioned else ""
        con.execute(f"CREATE VIEW {name} AS SELECT *{hidden} FROM delta_scan({sql_literal(lake.uri(name))}{at})")
    return con


def query(
    lake: Lake, sql: str, params: Mapping[str, str] | None = None, as_of: Mapping[str, int | dt.datetime] | None = None
) -> tuple[list[str], list[tuple[object, ...]]]:
    """Run ``sql`` with ``$name`` parameters bound; returns (column names, rows).

    Only the parameters the statement mentions are bound, so a file can be run with a
    superset; a parameter it needs but was not given raises ``KeyError`` naming it.
    ``as_of``: see :func:`connect`.
    """
    con = connect(lake, as_of)
    try:
        wanted = dict.fromkeys(PARAMETER.findall(_strip_comments_and_strings(sql)))
        given = dict(params or {})
        missing = [p for p in wanted if p not in given]
        if missing:
            raise KeyError(f"missing --param for ${', $'.join(missing)}")
        result = con.execute(sql, {k: given[k] for k in wanted} if wanted else None)
        columns = [d[0] for d in result.description or []]
        return columns, result.fetchall()
    finally:
        con.close()


def _strip_comments_and_strings(sql: str) -> str:
    sql = re.sub(r"--[^\n]*", " ", sql)
    sql = re.sub(r"/\*.*?\*/", " ", sql, flags=re.S)
    return re.sub(r"'(?:[^']|'')*'", "''", sql)


def _s3_secret(con: duckdb.DuckDBPyConnection, options: Mapping[str, str]) -> None:
    """Credentials and endpoint for ``delta_scan`` on s3:// from the lake's storage options."""
    fields = {"TYPE": "s3"}
    if key := options.get("aws_access_key_id"):
        fields["KEY_ID"] = key
    if secret := options.get("aws_secret_access_key"):
        fields["SECRET"] = secret
    if region := options.get("aws_region"):
        fields["REGION"] = region
    if endpoint := options.get("aws_endpoint_url"):
        host = re.sub(r"^https?://", "", endpoint)
        fields.update(ENDPOINT=host, URL_STYLE="path", USE_SSL=str(endpoint.startswith("https")).lower())
    body = ", ".join(f"{k} {v if k in ('TYPE', 'USE_SSL') else sql_literal(v)}" for k, v in fields.items())
    con.execute(f"CREATE OR REPLACE SECRET lake_s3 ({body})")
