"""Delta Lake operations every asset uses, over a local path or an ``s3://`` URI.

* ``sync_range``: make the rows of a date range (optionally scoped to some symbols)
  equal to a frame, in one MERGE transaction: new rows inserted, changed rows updated,
  rows that vanished deleted, unchanged rows left alone. Running it twice with the same
  frame changes nothing, which makes every partition write idempotent.
* ``merge``: upsert on the table's keys (or insert-only), never touching other rows.
* ``read``: a date window with predicate pushdown (year partitions + file statistics),
  optionally at an older version or timestamp (time travel).
* ``stats``, ``history``; compaction and vacuum are :mod:`lakehouse_assets.lake.maintenance`'s.

Every write is checked against the catalogue first: a missing, unexpected or mistyped
column raises :class:`SchemaMismatchError` naming the table and the column.
Reads go through polars (never ``DeltaTable.to_pyarrow_table``, which can abort the
interpreter at exit with deltalake 1.6.6).
"""

from __future__ import annotations

import datetime as dt
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import polars as pl
from deltalake import DeltaTable, write_deltalake
from deltalake.exceptions import CommitFailedError, TableNotFoundError

from lakehouse_assets.lake.catalog import PARTITION_COLUMN, TABLES, TableSpec, table

COMMIT_ATTEMPTS = 8
_S3_ENV = {
    "AWS_ACCESS_KEY_ID": "aws_access_key_id",
    "AWS_SECRET_ACCESS_KEY": "aws_secret_access_key",
    "AWS_SESSION_TOKEN": "aws_session_token",
    "AWS_REGION": "aws_region",
    "AWS_DEFAULT_REGION": "aws_region",
    "AWS_ENDPOINT_URL": "aws_endpoint_url",
    "AWS_ALLOW_HTTP": "aws_allow_http",
    "AWS_S3_ALLOW_UNSAFE_RENAME": "aws_s3_allow_unsafe_rename",
    "AWS_CONDITIONAL_PUT": "conditional_put",
}


class SchemaMismatchError(ValueError):
    """A frame does not match its table's catalogued schema."""

    def __init__(self, table_name: str, column: str, problem: str) -> None:
        self.table_name, self.column = table_name, column
        super().__init__(f"table {table_name!r}, column {column!r}: {problem}")


@dataclass(frozen=True)
class WriteResult:
    table: str
    version: int
    inserted: int
    updated: int
    deleted: int

    @property
    def changed(self) -> int:
        return self.inserted + self.updated + self.deleted


@dataclass(frozen=True)
class TableStats:
    table: str
    layer: str
    version: int
    rows: int
    files: int
    bytes: int
    last_modified: dt.datetime | None


def storage_options_from_env(root: str) -> dict[str, str]:
    """Object-store options for ``s3://`` roots, from the usual AWS_* variables."""
    if not root.startswith("s3://"):
        return {}
    return {key: os.environ[var] for var, key in _S3_ENV.items() if os.environ.get(var)}


def sql_literal(value: object) -> str:
    """A SQL literal for delta-rs predicates (which take no bound parameters)."""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, dt.date):
        return f"'{value.isoformat()}'"
    return "'" + str(value).replace("'", "''") + "'"


def _quote(column: str) -> str:
    return '"' + column.replace('"', '""') + '"'


class Lake:
    """A Delta lake rooted at a local directory or an ``s3://bucket/prefix`` URI."""

    def __init__(self, root: str | os.PathLike[str], storage_options: Mapping[str, str] | None = None) -> None:
        self.root = str(root).rstrip("/")
        if "://" not in self.root:
            self.root = os.path.abspath(self.root)
        self.storage_options = (
            dict(storage_options) if storage_options is not None else storage_options_from_env(self.root)
        )

    def __repr__(self) -> str:
        return f"Lake({self.root!r})"

    def uri(self, name: str) -> str:
        return f"{self.root}/{table(name).name}"

    def open(self, name: str, version: int | str | dt.datetime | None = None) -> DeltaTable:
        """The DeltaTable, optionally loaded as of a version or timestamp."""
        dt_ = DeltaTable(self.uri(name), storage_options=self.storage_options or None)
        if version is not None:
            dt_.load_as_version(version)
        return dt_

    def exists(self, name: str) -> bool:
        try:
            self.open(name)
        except TableNotFoundError:
            return False
        return True

    def ensure(self, name: str) -> DeltaTable:
        """Open the table, creating it empty with its catalogued schema if missing."""
        for attempt in range(COMMIT_ATTEMPTS):
            try:
                return self.open(name)
            except TableNotFoundError:
                pass
            spec = table(name)
            try:
                write_deltalake(
                    self.uri(name),
                    _with_partition(spec, empty_frame(spec)).to_arrow(),
                    mode="append",
                    partition_by=spec.partition_by or None,
                    storage_options=self.storage_options or None,
                )
            except CommitFailedError:  # another writer created it first: open theirs
                if attempt == COMMIT_ATTEMPTS - 1:
                    raise
                _backoff(attempt)
        return self.open(name)

    def conform(self, name: str, frame: pl.DataFrame) -> pl.DataFrame:
        """Check ``frame`` against the catalogue and return it in catalogue column order."""
        spec = table(name)
        for column in frame.columns:
            if column not in spec.schema:
                raise SchemaMismatchError(name, column, f"not in the table's schema ({', '.join(spec.schema)})")
        casts = []
        for column, dtype in spec.schema.items():
            if column not in frame.columns:
                raise SchemaMismatchError(name, column, "missing from the frame being written")
            got = frame.schema[column]
            if got == dtype:
                casts.append(pl.col(column))
            elif got == pl.Null() or (got == pl.Datetime("us", None) and dtype == pl.Datetime("us", "UTC")):
                casts.append(pl.col(column).cast(dtype))
            else:
                raise SchemaMismatchError(name, column, f"expected {dtype}, got {got}")
        for key in spec.keys:
            if frame.get_column(key).null_count():
                raise SchemaMismatchError(name, key, "key column holds nulls")
        return frame.select(casts)

    def sync_range(
        self,
        name: str,
        frame: pl.DataFrame,
        start: dt.date,
        end: dt.date,
        scope: Mapping[str, Sequence[object]] | None = None,
    ) -> WriteResult:
        """Make the table's rows with ``start <= date <= end`` (and ``scope``) equal ``frame``.

        ``scope`` restricts the slice, e.g. ``{"symbol": ["MSFT"]}``: rows of other
        symbols in the range are left alone. Rows of ``frame`` outside the slice are an
        error (they would not be removed by a later sync of the same slice).
        """
        spec = table(name)
        frame = self.conform(name, frame)
        slice_expr = pl.col(spec.date_column).is_between(start, end)
        for column, values in (scope or {}).items():
            slice_expr &= pl.col(column).is_in(list(values))
        outside = frame.filter(~slice_expr.fill_null(False)).height
        if outside:
            raise ValueError(f"{name}: {outside} rows fall outside the slice being written ({start}..{end}, {scope})")
        target_slice = [_date_slice(spec, start, end)]
        for column, values in (scope or {}).items():
            if not values:
                target_slice.append("FALSE")
            else:
                target_slice.append(f"t.{_quote(column)} IN ({', '.join(sql_literal(v) for v in values)})")
        if frame.is_empty():  # e.g. no sentiment landed: nothing to insert, and maybe nothing to delete
            target = self.ensure(name)
            if any(not values for values in (scope or {}).values()) or not _may_hold(target, spec, start, end):
                return WriteResult(table=spec.name, version=target.version(), inserted=0, updated=0, deleted=0)
        return self._merge(spec, frame, " AND ".join(target_slice), delete_missing=True, new_range=(start, end))

    def merge(
        self,
        name: str,
        frame: pl.DataFrame,
        insert_only: bool = False,
        delete_range: tuple[dt.date, dt.date] | None = None,
    ) -> WriteResult:
        """Upsert ``frame`` on the table's keys, in one commit; ``insert_only`` never updates a row.

        ``delete_range`` (start, end): rows of the table dated in it that ``frame`` lacks
        are deleted (the range's rows are ``frame``'s), while rows of ``frame`` dated
        outside it are upserted too (e.g. earlier rows updated by the range).
        """
        spec = table(name)
        delete_slice = _date_slice(spec, *delete_range) if delete_range is not None else None
        return self._merge(
            spec,
            self.conform(name, frame),
            None,
            delete_missing=False,
            insert_only=insert_only,
            delete_slice=delete_slice,
        )

    def _merge(
        self,
        spec: TableSpec,
        frame: pl.DataFrame,
        target_slice: str | None,
        delete_missing: bool,
        insert_only: bool = False,
        delete_slice: str | None = None,
        new_range: tuple[dt.date, dt.date] | None = None,
    ) -> WriteResult:
        """One MERGE of ``frame`` (see :meth:`sync_range` and :meth:`merge`), retried on conflicts.

        ``new_range`` (start, end) holds ``target_slice``: when no file of the table can hold a
        row dated in it (file statistics), no row can match or be deleted, and the MERGE is
        the insert-only one on the keys and the range (a fifth cheaper than matching on the
        whole slice; still a MERGE that reads the range, so a concurrent commit that adds rows
        to it conflicts as before).
        """
        duplicated = frame.select(pl.struct(spec.keys).is_duplicated()).to_series()  # 2x faster than over columns
        if duplicated.any():
            sample = frame.filter(duplicated).select(spec.keys).row(0)
            raise ValueError(f"{spec.name}: frame has duplicate keys {dict(zip(spec.keys, sample, strict=True))}")
        source = _with_partition(spec, frame).to_arrow()
        keys = " AND ".join(f"t.{_quote(k)} = s.{_quote(k)}" for k in spec.keys)
        on = f"{keys} AND {target_slice}" if target_slice else keys
        changed = " OR ".join(f"(t.{_quote(c)} IS DISTINCT FROM s.{_quote(c)})" for c in spec.value_columns)
        for attempt in range(COMMIT_ATTEMPTS):
            target = self.ensure(spec.name)
            if new_range is not None and not _may_hold(target, spec, *new_range):
                predicate = f"{keys} AND {_date_slice(spec, *new_range)}"
                merger = target.merge(source, predicate=predicate, source_alias="s", target_alias="t")
                merger = merger.when_not_matched_insert_all()
            else:
                merger = target.merge(source, predicate=on, source_alias="s", target_alias="t")
                if not insert_only:
                    merger = merger.when_matched_update_all(predicate=changed or None)
                merger = merger.when_not_matched_insert_all()
                if delete_missing and target_slice:
                    merger = merger.when_not_matched_by_source_delete(predicate=target_slice)
                elif delete_slice:
                    merger = merger.when_not_matched_by_source_delete(predicate=delete_slice)
            try:
                metrics = merger.execute()
            except CommitFailedError:  # a conflicting concurrent commit: re-read and retry
                if attempt == COMMIT_ATTEMPTS - 1:
                    raise
                _backoff(attempt)
                continue
            return WriteResult(
                table=spec.name,
                version=target.version(),
                inserted=int(metrics.get("num_target_rows_inserted", 0)),
                updated=int(metrics.get("num_target_rows_updated", 0)),
                deleted=int(metrics.get("num_target_rows_deleted", 0)),
            )
        raise AssertionError("unreachable")

    def read(
        self,
        name: str,
        start: dt.date | None = None,
        end: dt.date | None = None,
        where: pl.Expr | None = None,
        columns: Sequence[str] | None = None,
        version: int | str | dt.datetime | None = None,
    ) -> pl.DataFrame:
        """Rows of a date window (inclusive), pushed down to partitions and file stats.

        ``version`` is a table version number or a timestamp (time travel). A table that
        does not exist yet reads as an empty frame with the catalogued schema.
        """
        spec = table(name)
        try:
            target = self.open(name, version)  # the log is read once, here
        except TableNotFoundError:
            frame = empty_frame(spec)
            return frame.select(columns) if columns else frame
        lazy = pl.scan_delta(target)
        date = pl.col(spec.date_column)
        if start is not None:
            lazy = lazy.filter(date >= start)
            if spec.partitioned:
                lazy = lazy.filter(pl.col(PARTITION_COLUMN) >= start.year)
        if end is not None:
            lazy = lazy.filter(date <= end)
            if spec.partitioned:
                lazy = lazy.filter(pl.col(PARTITION_COLUMN) <= end.year)
        if where is not None:
            lazy = lazy.filter(where)
        lazy = lazy.select(list(columns) if columns else list(spec.schema))
        return lazy.collect()

    def history(self, name: str) -> list[dict[str, object]]:
        """Commits, newest first: version, timestamp (UTC), operation, metrics."""
        out = []
        for entry in self.open(name).history():
            out.append(
                {
                    "version": entry.get("version"),
                    "timestamp": dt.datetime.fromtimestamp(entry["timestamp"] / 1000, dt.UTC),
                    "operation": entry.get("operation"),
                    "metrics": entry.get("operationMetrics", {}),
                }
            )
        return out

    def version_at(self, name: str, moment: dt.datetime) -> int | None:
        """The table's last version committed at or before ``moment`` (None: not yet created)."""
        versions = [int(e["version"]) for e in self.history(name) if e["timestamp"] <= moment]  # type: ignore[operator,call-overload]
        return max(versions) if versions else None

    def stats(self, name: str) -> TableStats:
        """Version, live rows (from file statistics), data files and bytes."""
        spec = table(name)
        target = self.open(name)
        actions = pl.DataFrame(target.get_add_actions(flatten=True))
        rows = int(actions.get_column("num_records").sum()) if actions.height else 0
        size = int(actions.get_column("size_bytes").sum()) if actions.height else 0
        modified = actions.get_column("modification_time").max() if actions.height else None
        last = dt.datetime.fromtimestamp(modified / 1000, dt.UTC) if isinstance(modified, int) else modified
        return TableStats(spec.name, spec.layer, target.version(), rows, actions.height, size, last)  # type: ignore[arg-type]

    def tables(self) -> list[str]:
        """Catalogued tables that exist in this lake."""
        return [name for name in TABLES if self.exists(name)]


def empty_frame(spec: TableSpec) -> pl.DataFrame:
    return pl.DataFrame(schema=spec.schema)


def _with_partition(spec: TableSpec, frame: pl.DataFrame) -> pl.DataFrame:
    if not spec.partitioned:
        return frame
    return frame.with_columns(pl.col(spec.date_column).dt.year().cast(pl.Int32).alias(PARTITION_COLUMN))


def _date_slice(spec: TableSpec, start: dt.date, end: dt.date) -> str:
    """The target rows (alias ``t``) dated in ``[start, end]``, the year partitions first."""
    dated = f"t.{_quote(spec.date_column)} BETWEEN {sql_literal(start)} AND {sql_literal(end)}"
    return f"t.{PARTITION_COLUMN} BETWEEN {start.year} AND {end.year} AND {dated}" if spec.partitioned else dated


def _may_hold(target: DeltaTable, spec: TableSpec, start: dt.date, end: dt.date) -> bool:
    """Whether a data file of ``target`` may hold a row dated in ``[start, end]``: its year
    partition and its ``date`` statistics say so, or it has no statistics."""
    actions = pl.DataFrame(target.get_add_actions(flatten=True))
    if actions.is_empty():
        return False
    date = spec.date_column
    if f"min.{date}" not in actions.columns or f"max.{date}" not in actions.columns:
        return True
    low, high = pl.col(f"min.{date}"), pl.col(f"max.{date}")
    overlaps = (low.is_null() | high.is_null() | ((low <= end) & (high >= start))).fill_null(True)
    year = f"partition.{PARTITION_COLUMN}"
    if spec.partitioned and year in actions.columns:
        overlaps &= pl.col(year).cast(pl.Int64).is_between(start.year, end.year).fill_null(True)
    return bool(actions.select(overlaps.any()).item())


def _backoff(attempt: int) -> None:
    time.sleep(min(0.05 * 2**attempt, 2.0))
