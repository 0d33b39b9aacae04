"""Teach a Dagster instance what the lake already holds (``lakehouse sync-ui``).

Dagster takes its instance's event log, not the lake, as an asset's state: a lake restored
from a backup, copied to another machine, or written by runs recorded in another Dagster
home shows every asset "Never materialized". The lake knows better. Every materialization
records its asset and partition range in the ``materializations`` table
(:func:`~lakehouse_assets.defs.common.record_materialization`), even one that wrote no row;
:func:`sync` reports each partition the lake holds that the instance does not know yet as a
runless materialization, so the UI's partition bars show the lake as it is.

A partition is held when the record names it, or when the asset's table has rows dated that
trading day (its catalogue ``date_column``): rows of a day come only from materializing that
day, so the dates are exact evidence too, and the only evidence for a lake, or the part of a
lake, written before the record was kept. Dates cannot tell apart assets that share a table
(``drift_reports`` and ``prediction_drift``): once the lake keeps the record, such a table's
dates count for neither. A lake without the record loses what only the record tells: a
partition run without writing rows stays missing, and both sharers show the table's days.
"""

from __future__ import annotations

import bisect
import datetime as dt
from collections import Counter
from collections.abc import Callable, Sequence

import dagster as dg
import polars as pl

from lakehouse_assets.lake.catalog import table
from lakehouse_assets.lake.delta import Lake

RECORD = "materializations"
SYNCED_FROM = "lakehouse/synced_from"
"""Metadata key naming a materialization as reported by the sync, not produced by a run: its
value is the evidence, ``materializations`` (the record; ``lakehouse/run_id`` names the run)
or ``dates`` (the table's rows)."""


def recorded_ranges(lake: Lake) -> dict[str, list[tuple[str, str, str]]] | None:
    """Asset -> its recorded ranges (first and last partition key, the run that made them);
    None when the lake keeps no record (written before it existed)."""
    if not lake.exists(RECORD):
        return None
    rows = lake.read(RECORD).with_columns(pl.col("range_start", "range_end").dt.to_string("%Y-%m-%d"))
    ranges: dict[str, list[tuple[str, str, str]]] = {}
    for asset, start, end, run_id in rows.select("asset", "range_start", "range_end", "run_id").iter_rows():
        ranges.setdefault(asset, []).append((start, end, run_id))
    return ranges


def expand(ranges: list[tuple[str, str, str]], keys: Sequence[str]) -> dict[str, str]:
    """Partition key -> run for every key of the sorted ``keys`` inside one of ``ranges``
    (a partition of a range that is no partition now, e.g. before a later ``partitions_start``,
    is left out)."""
    runs: dict[str, str] = {}
    for start, end, run_id in ranges:
        for key in keys[bisect.bisect_left(keys, start) : bisect.bisect_right(keys, end)]:
            runs.setdefault(key, run_id)
    return runs


def dated_partitions(lake: Lake, name: str, keys: Sequence[str]) -> tuple[set[str], int | None]:
    """The partition keys among ``keys`` that table ``name`` holds rows for, and the table
    version they were read at (None, and no keys: the table does not exist yet).

    Dates outside the partitions (before the first partition, a holiday row in a landed
    file) are not partitions Dagster could show, so they are left out.
    """
    if not lake.exists(name):
        return set(), None
    version = lake.open(name).version()
    column = table(name).date_column
    dates = lake.read(name, columns=[column], version=version).get_column(column).unique().drop_nulls()
    days: list[dt.date] = dates.to_list()
    return {day.isoformat() for day in days} & set(keys), version


def sync(
    instance: dg.DagsterInstance,
    defs: dg.Definitions,
    lake: Lake,
    dry_run: bool,
    log: Callable[[str], None],
) -> dict[str, tuple[int, int, int]]:
    """Report to ``instance`` every partition the lake holds of each partitioned asset of
    ``defs`` that the instance does not know as materialized; ``dry_run`` counts only.

    Returns asset -> (partitions in the lake, already known, reported or, with ``dry_run``,
    to report). Idempotent: what it reports is known the next time, so a second sync
    reports nothing. The table of an asset is its ``dagster/table_name`` metadata, else its
    key (:func:`~lakehouse_assets.defs.common.definition_metadata`).
    """
    graph = defs.resolve_asset_graph()
    assets = {
        key: str(graph.get(key).metadata.get("dagster/table_name", key.to_user_string()))
        for key in sorted(graph.materializable_asset_keys)
        if graph.get(key).partitions_def is not None
    }
    writers = Counter(assets.values())
    record = recorded_ranges(lake)
    if record is None:
        log(
            f"no {RECORD} record in {lake.root} (written before it was kept): partitions are the days "
            "each table holds rows for; a partition run without writing rows is not seen, and assets sharing "
            "a table (drift_reports, prediction_drift) both show its days"
        )
    counts: dict[str, tuple[int, int, int]] = {}
    for key, name in assets.items():
        asset = key.to_user_string()
        keys = sorted(graph.get(key).partitions_def.get_partition_keys())  # type: ignore[union-attr]
        dated, version = dated_partitions(lake, name, keys)
        if record is not None and writers[name] > 1:
            dated = set()  # the record tells the sharers apart; the dates cannot
        runs = expand(record.get(asset, []), keys) if record is not None else {}
        held = dated | set(runs)
        known = held & instance.get_materialized_partitions(key)
        missing = sorted(held - known)
        if not dry_run:
            for partition in missing:
                evidence: dict[str, str] = (
                    {SYNCED_FROM: RECORD, "lakehouse/run_id": runs[partition]}
                    if partition in runs
                    else {SYNCED_FROM: "dates"}
                )
                instance.report_runless_asset_event(
                    dg.AssetMaterialization(
                        asset_key=key, partition=partition, metadata={**evidence, "table_version": version}
                    )
                )
        counts[asset] = (len(held), len(known), len(missing))
        verb = "to report" if dry_run else "reported"
        log(f"{asset}: {len(held)} partitions in the lake, {len(known)} known, {len(missing)} {verb}")
    return counts
