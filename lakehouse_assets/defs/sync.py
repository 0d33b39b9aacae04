"""Teach a Dagster instance what the lake already holds (``lakehouse sync-ui``).

Dagster takes its instance's event log, not the lake, as an asset's state: a lake restored
from a backup, copied to another machine, or written by runs recorded in another Dagster
home shows every asset "Never materialized". The lake knows better: a partition of an asset
is held when the asset's table has rows dated that trading day (its catalogue
``date_column``). :func:`sync` reports each held partition the instance does not know yet
as a runless materialization, so the UI's partition bars show the lake as it is.

What "held" cannot tell: a partition that was run but wrote no rows (a day without a
sentiment snapshot, a ``model_fits`` day between refits) stays missing; and assets that
share a table (``drift_reports`` and ``prediction_drift``) both count its dates.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import dagster as dg

from lakehouse_assets.lake.catalog import table
from lakehouse_assets.lake.delta import Lake

SYNCED_FROM = "lakehouse/synced_from"
"""Metadata key naming a materialization as reported by the sync, not produced by a run."""


def lake_partitions(lake: Lake, name: str, partitions_def: dg.PartitionsDefinition) -> tuple[set[str], int | None]:
    """The partition keys of ``partitions_def`` that table ``name`` holds rows for, and the
    table version they were read at (None, and no keys: the table does not exist yet).

    Dates outside the partitions (before the first partition, a holiday row in a landed
    file) are not partitions Dagster could show, so they are left out.
    """
    if not lake.exists(name):
        return set(), None
    version = lake.open(name).version()
    column = table(name).date_column
    dates = lake.read(name, columns=[column], version=version).get_column(column).unique().drop_nulls()
    days: list[dt.date] = dates.to_list()
    keys = {day.isoformat() for day in days}
    return keys & set(partitions_def.get_partition_keys()), version


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
    counts: dict[str, tuple[int, int, int]] = {}
    for key in sorted(graph.materializable_asset_keys):
        node = graph.get(key)
        if node.partitions_def is None:
            continue
        asset = key.to_user_string()
        name = str(node.metadata.get("dagster/table_name", asset))
        held, version = lake_partitions(lake, name, node.partitions_def)
        known = held & instance.get_materialized_partitions(key)
        missing = sorted(held - known)
        if not dry_run:
            for partition in missing:
                instance.report_runless_asset_event(
                    dg.AssetMaterialization(
                        asset_key=key,
                        partition=partition,
                        metadata={SYNCED_FROM: "delta", "table_version": version},
                    )
                )
        counts[asset] = (len(held), len(known), len(missing))
        verb = "to report" if dry_run else "reported"
        log(f"{asset}: {len(held)} partitions in the lake, {len(known)} known, {len(missing)} {verb}")
    return counts
