"""Dagster jobs."""

from __future__ import annotations

import dagster as dg

daily_job = dg.define_asset_job(
    "daily_job",
    selection=dg.AssetSelection.all(),
    description="Every asset for a trading day (or, as a backfill, a range of days in one run).",
)

__all__ = ["daily_job"]
