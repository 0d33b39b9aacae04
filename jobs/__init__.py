"""Dagster jobs."""

from __future__ import annotations

import dagster as dg

from lakehouse_assets.defs.checks import fresh

daily_job = dg.define_asset_job(
    "daily_job",
    selection=dg.AssetSelection.all() - dg.AssetSelection.checks(fresh),
    description="Every asset for a trading day (or, as a backfill, a range of days in one run), with their checks.",
)

freshness_job = dg.define_asset_job(
    "freshness_job",
    selection=dg.AssetSelection.checks(fresh),
    description="Is ohlcv_daily up to the last closed session? (the `fresh` check alone)",
)

__all__ = ["daily_job", "freshness_job"]
