"""Pieces every asset shell shares: partitions, retries, writes with their metadata."""

from __future__ import annotations

import datetime as dt
import warnings
from collections.abc import Callable
from typing import Any

import dagster as dg
import polars as pl

from lakehouse_assets.defs.partitions import trading_day_partitions
from lakehouse_assets.defs.settings import calendar_of, config_at
from lakehouse_assets.lake.delta import Lake, WriteResult

CONFIG = config_at(None)
PARTITIONS = trading_day_partitions(CONFIG, calendar_of(CONFIG))


def partitioned_asset(**kwargs: Any) -> Callable[[Callable[..., Any]], dg.AssetsDefinition]:
    """``@dg.asset`` on trading-day partitions with a single-run backfill policy.

    A backfill of any range is then one run that processes the range vectorized over all
    symbols. Dagster 1.13 flags ``backfill_policy`` as beta; that one warning is silenced
    here, on purpose, so loading the code location stays warning-free.
    """
    return _partitioned(dg.asset, kwargs)


def partitioned_multi_asset(**kwargs: Any) -> Callable[[Callable[..., Any]], dg.AssetsDefinition]:
    """``@dg.multi_asset`` with the same partitions and backfill policy."""
    return _partitioned(dg.multi_asset, kwargs)


def _partitioned(decorator: Callable[..., Any], kwargs: dict[str, Any]) -> Callable[..., dg.AssetsDefinition]:
    def decorate(fn: Callable[..., Any]) -> dg.AssetsDefinition:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*backfill_policy.*", category=dg.BetaWarning)
            return decorator(
                partitions_def=PARTITIONS,
                backfill_policy=dg.BackfillPolicy.single_run(),
                **({"kinds": {"delta", "polars"}} if decorator is dg.asset else {}),
                **kwargs,
            )(fn)

    return decorate


def table_spec(name: str, group: str, deps: list) -> dg.AssetSpec:
    """The spec of an asset that is one catalogued table (its description from the catalogue)."""
    from lakehouse_assets.lake.catalog import TABLES

    return dg.AssetSpec(
        name, group_name=group, deps=deps, description=TABLES[name].description, kinds={"delta", "polars"}
    )


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def quarantine(lake: Lake, records: pl.DataFrame) -> int:
    """Add rejected records to ``quarantine`` (insert-only MERGE: a re-run adds nothing)."""
    if records.is_empty():
        lake.ensure("quarantine")  # an empty quarantine is a fact worth showing too
        return 0
    return lake.merge("quarantine", records.with_columns(quarantined_at=pl.lit(utc_now())), insert_only=True).inserted


def write_metadata(result: WriteResult, frame: pl.DataFrame, start: dt.date, end: dt.date) -> dict[str, object]:
    """Metadata every materialization carries."""
    symbols = sorted(frame.get_column("symbol").unique().to_list()) if "symbol" in frame.columns else []
    return {
        "dagster/row_count": frame.height,
        "rows_inserted": result.inserted,
        "rows_updated": result.updated,
        "rows_deleted": result.deleted,
        "table_version": result.version,
        "date_range": f"{start}..{end}",
        "symbols": ", ".join(symbols) if symbols else "(none)",
    }
