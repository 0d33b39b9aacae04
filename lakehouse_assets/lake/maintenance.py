"""Table maintenance: compact small files, vacuum unreferenced ones, checkpoint the log.

A table written one trading day at a time gains one small Parquet file per write (and
every later MERGE scans them all). ``maintain`` rewrites the small files of each crowded
partition into files of about ``target_file_bytes`` (one OPTIMIZE commit), deletes the
files that no version inside the retention window still needs (VACUUM, logged by delta-rs
as two commits, START and END, and only when something is deleted), then writes a
checkpoint so that readers replay a short log. A table with nothing to do costs a read of
its log and a listing of its files, and commits nothing.

Time travel is kept for the retention window: a version committed within the last
``retention_days`` still reads, because every file it references was removed after it
was committed, hence less than ``retention_days`` ago. Older versions lose their data
files (their log entries stay until delta-rs expires them, so they open but do not read).

Vacuum runs in delta-rs "full" mode by default: it lists the table's folder and deletes
unreferenced files older than the retention, instead of only the files named by the
tombstones of the current snapshot. Checkpoints (delta-rs writes one every 100 commits)
drop tombstones older than ``delta.deletedFileRetentionDuration`` (7 days), so with a
weekly vacuum the "lite" mode would miss some files forever; full mode also reclaims the
parts of writes that crashed before committing. Files younger than the retention are never
touched, so a concurrent writer's uncommitted files are safe unless the retention is 0.

Readers need the retention too. A reader lists the files of the version it opened and reads
them afterwards (a ``lakehouse query``, a step of a ``lakehouse run`` reading its window, a
notebook holding a ``DeltaTable``); a write after it opened removes some of those files from
the table, and a vacuum with a retention shorter than the reader's age deletes them: the
reader fails with ``FileNotFoundError`` (with retention 0, a reader holding the snapshots of
a five-day lake across one more run and a ``maintain`` lost 10 of its 19 tables). Hence
:data:`MIN_RETENTION_DAYS`, which :func:`check_retention` enforces for the CLI unless forced.
"""

from __future__ import annotations

import datetime as dt
import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import polars as pl
from deltalake import DeltaTable
from deltalake.exceptions import CommitFailedError

from lakehouse_assets.lake.delta import COMMIT_ATTEMPTS, Lake

MIB = 1024 * 1024
MIN_RETENTION_DAYS = 1.0
"""The shortest retention ``lakehouse maintain`` accepts without ``--force``, in days.

It must outlast every reader of a version that a later write replaced: the longest reader
here is a ``lakehouse run`` of the default range (six to eight minutes on 2 cores); a
``lakehouse query`` is stopped after its ``--timeout`` (300 s by default). One day is a
wide margin over both, keeps ``--as-of`` time travel working for at least a day, and still
lets an operator reclaim the disk of a large backfill the next day instead of after the
default week."""
OPTIMIZE = "OPTIMIZE"
VACUUM_OPERATIONS = ("VACUUM END", "VACUUM START")


@dataclass(frozen=True)
class MaintenanceSettings:
    """How ``maintain`` treats a table.

    Attributes:
        retention_days: time travel kept, in days: files removed from the table longer
            ago than this are deleted by vacuum (0 keeps only the current version).
        small_file_bytes: a data file smaller than this (bytes) counts as small.
        target_file_bytes: approximate size (bytes) of the files compaction writes.
        min_small_files: compact a partition only when it holds at least this many small
            files (at least 2: one small file has nothing to be merged with).
        full_vacuum: list the table's folder when vacuuming (see the module docstring);
            False trusts the snapshot's tombstones only (cheaper on object stores).
    """

    retention_days: float = 7.0
    small_file_bytes: int = 8 * MIB
    target_file_bytes: int = 128 * MIB
    min_small_files: int = 2
    full_vacuum: bool = True

    def __post_init__(self) -> None:
        if not self.retention_days >= 0:  # also rejects NaN
            raise ValueError(f"retention_days: must be >= 0, got {self.retention_days}")
        if self.small_file_bytes <= 0:
            raise ValueError(f"small_file_bytes: must be > 0, got {self.small_file_bytes}")
        if self.target_file_bytes < self.small_file_bytes:
            raise ValueError(
                f"target_file_bytes: must be >= small_file_bytes ({self.small_file_bytes}), "
                f"got {self.target_file_bytes}"
            )
        if self.min_small_files < 2:
            raise ValueError(f"min_small_files: must be >= 2, got {self.min_small_files}")

    @property
    def retention_hours(self) -> int:
        """The retention in whole hours (delta-rs takes integers), rounded up: never shorter."""
        return math.ceil(round(self.retention_days * 24, 6))


@dataclass(frozen=True)
class TableHealth:
    """The file layout of a table's current version and its last maintenance.

    ``partitions`` counts partition values holding files (1 for an unpartitioned table
    with files); ``bytes`` are the data files' sizes; timestamps are UTC.
    ``needs_maintenance``: some partition holds ``min_small_files`` or more small files.
    """

    name: str
    version: int
    files: int
    small_files: int
    partitions: int
    max_files_per_partition: int
    bytes: int
    rows: int
    last_optimize: dt.datetime | None
    last_vacuum: dt.datetime | None
    needs_maintenance: bool


@dataclass(frozen=True)
class MaintenanceResult:
    """What ``maintain`` did to one table.

    ``skipped_reason`` says why compaction was skipped (None: it ran); vacuum runs either
    way. ``seconds`` is wall time for the whole table.
    """

    name: str
    files_before: int
    files_after: int
    files_removed_by_vacuum: int
    version_before: int
    version_after: int
    seconds: float
    skipped_reason: str | None

    @property
    def compacted(self) -> bool:
        return self.skipped_reason is None


class RetentionTooShortError(ValueError):
    """A retention below :data:`MIN_RETENTION_DAYS` without ``force``."""


def check_retention(days: float, *, force: bool = False) -> str | None:
    """Refuse a retention below :data:`MIN_RETENTION_DAYS` unless ``force``.

    Returns a warning to show when a short retention is forced (None otherwise); raises
    :class:`RetentionTooShortError` saying why a short one is refused.

    >>> check_retention(7) is None
    True
    >>> check_retention(0)  # doctest: +IGNORE_EXCEPTION_DETAIL
    Traceback (most recent call last):
    RetentionTooShortError: retention 0 days is below the minimum of 1 day: ...
    >>> check_retention(0, force=True)[:30]
    'retention 0 days (forced): any'
    """
    if days >= MIN_RETENTION_DAYS:
        return None
    if force:
        return (
            f"retention {days:g} days (forced): any reader or writer of this lake that is running now may "
            "fail with FileNotFoundError"
        )
    raise RetentionTooShortError(
        f"retention {days:g} days is below the minimum of {MIN_RETENTION_DAYS:g} day: vacuum would delete "
        "the files of versions replaced less than a day ago, and a reader still holding one (a running query "
        "or run, a notebook's DeltaTable) fails with FileNotFoundError, as does --as-of time travel to them, "
        "and a writer running now can lose files it has not committed yet. Use --force to go ahead when "
        "nothing else reads or writes the lake."
    )


def partition_layout(target: DeltaTable, settings: MaintenanceSettings) -> pl.DataFrame:
    """One row per partition of the current version: its values (``partition.<column>``),
    ``files``, ``small_files``, ``bytes`` and ``rows``; no rows for a table without files."""
    actions = pl.DataFrame(target.get_add_actions(flatten=True))
    columns = [c for c in actions.columns if c.startswith("partition.")]
    aggregates = [
        pl.len().alias("files"),
        (pl.col("size_bytes") < settings.small_file_bytes).sum().alias("small_files"),
        pl.col("size_bytes").sum().alias("bytes"),
        pl.col("num_records").sum().alias("rows"),
    ]
    if not actions.height:
        return pl.DataFrame(schema={"files": pl.UInt32, "small_files": pl.UInt32, "bytes": pl.Int64, "rows": pl.Int64})
    if not columns:
        return actions.select(aggregates)
    return actions.group_by(columns).agg(aggregates).sort(columns, nulls_last=True)


def table_health(lake: Lake, name: str, settings: MaintenanceSettings | None = None) -> TableHealth:
    """The layout of ``name``'s current version (from its add actions) and the times of
    its last OPTIMIZE and VACUUM (from its history)."""
    settings = settings or MaintenanceSettings()
    target = lake.open(name)
    layout = partition_layout(target, settings)
    last: dict[str, dt.datetime] = {}
    for entry in lake.history(name):  # newest first
        operation = str(entry["operation"])
        kind = OPTIMIZE if operation == OPTIMIZE else "VACUUM" if operation in VACUUM_OPERATIONS else None
        if kind and kind not in last:
            last[kind] = entry["timestamp"]  # type: ignore[assignment]
    return TableHealth(
        name=name,
        version=target.version(),
        files=int(layout.get_column("files").sum()),
        small_files=int(layout.get_column("small_files").sum()),
        partitions=layout.height,
        max_files_per_partition=int(layout.get_column("files").max() or 0),  # type: ignore[arg-type]
        bytes=int(layout.get_column("bytes").sum()),
        rows=int(layout.get_column("rows").sum()),
        last_optimize=last.get(OPTIMIZE),
        last_vacuum=last.get("VACUUM"),
        needs_maintenance=bool((layout.get_column("small_files") >= settings.min_small_files).any()),
    )


def maintain(
    lake: Lake,
    name: str,
    settings: MaintenanceSettings | None = None,
    *,
    now: dt.datetime | None = None,
) -> MaintenanceResult:
    """Compact the crowded partitions of ``name``, vacuum it, checkpoint its log.

    ``now`` (timezone-aware) is the moment the retention window is measured back from:
    files removed before ``now - retention_days`` are deleted. Default: the wall clock.
    A later ``now`` deletes what a run at that moment would (delta-rs itself only knows
    the wall clock, so the difference is taken off the retention, never below 0 hours).
    """
    settings = settings or MaintenanceSettings()
    started = time.perf_counter()
    target = lake.open(name)
    version_before = target.version()
    layout = partition_layout(target, settings)
    files_before = int(layout.get_column("files").sum())

    crowded = layout.filter(pl.col("small_files") >= settings.min_small_files)
    skipped_reason = None
    if crowded.height:
        _compact(lake, name, crowded, settings)
    else:
        skipped_reason = (
            f"no partition holds {settings.min_small_files} or more files under {settings.small_file_bytes} bytes"
        )

    removed = lake.open(name).vacuum(
        retention_hours=_retention_hours(settings, now),
        dry_run=False,
        enforce_retention_duration=False,  # our configured retention rules, not the table's default
        full=settings.full_vacuum,
    )

    after = lake.open(name)
    if after.version() != version_before:
        after.create_checkpoint()  # readers replay from here instead of from the last 100-commit checkpoint
    return MaintenanceResult(
        name=name,
        files_before=files_before,
        files_after=int(partition_layout(after, settings).get_column("files").sum()),
        files_removed_by_vacuum=len(removed),
        version_before=version_before,
        version_after=after.version(),
        seconds=time.perf_counter() - started,
        skipped_reason=skipped_reason,
    )


def maintain_all(
    lake: Lake,
    settings: MaintenanceSettings | None = None,
    log: Callable[[str], None] = print,
    *,
    now: dt.datetime | None = None,
) -> list[MaintenanceResult]:
    """``maintain`` every table of the lake, in catalogue order, reporting each through ``log``."""
    settings = settings or MaintenanceSettings()
    names = lake.tables()
    results = []
    for i, name in enumerate(names, 1):
        result = maintain(lake, name, settings, now=now)
        log(f"[{i}/{len(names)}] {describe(result)}")
        results.append(result)
    return results


def describe(result: MaintenanceResult) -> str:
    """One line: files before -> after, files vacuumed, versions, time, and the skip reason."""
    line = (
        f"{result.name}: files {result.files_before} -> {result.files_after}, "
        f"{result.files_removed_by_vacuum} removed by vacuum, "
        f"version {result.version_before} -> {result.version_after}, {result.seconds:.2f} s"
    )
    return f"{line} (compaction skipped: {result.skipped_reason})" if result.skipped_reason else line


def _retention_hours(settings: MaintenanceSettings, now: dt.datetime | None) -> int:
    if now is None:
        return settings.retention_hours
    ahead = (now - dt.datetime.now(dt.UTC)).total_seconds() / 3600
    return max(0, math.ceil(round(settings.retention_days * 24 - ahead, 3)))


def _compact(lake: Lake, name: str, crowded: pl.DataFrame, settings: MaintenanceSettings) -> None:
    """One OPTIMIZE commit over the crowded partitions; retried when a concurrent write
    removed files it was rewriting."""
    filters = _partition_filters(crowded)
    for attempt in range(COMMIT_ATTEMPTS):
        try:
            lake.open(name).optimize.compact(partition_filters=filters, target_size=settings.target_file_bytes)
            return
        except CommitFailedError:
            if attempt == COMMIT_ATTEMPTS - 1:
                raise
            time.sleep(min(0.05 * 2**attempt, 2.0))


def _partition_filters(crowded: pl.DataFrame) -> list[tuple[str, str, str | list[str]]] | None:
    """delta-rs partition filters (a conjunction) selecting the crowded partitions.

    Only a single partition column can name several partitions (``IN``); with more
    columns, or a null partition value, the whole table is compacted (delta-rs leaves
    partitions with a single small file alone anyway).
    """
    columns = [c for c in crowded.columns if c.startswith("partition.")]
    if len(columns) != 1 or crowded.get_column(columns[0]).null_count():
        return None
    values = [str(v) for v in crowded.get_column(columns[0]).to_list()]
    return [(columns[0].removeprefix("partition."), "in", values)]
