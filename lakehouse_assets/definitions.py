"""The one Definitions object of the code location (``workspace.yaml`` loads it)."""

from __future__ import annotations

import dagster as dg

from jobs import daily_job, freshness_job
from lakehouse_assets.defs import drift, features, forecasting, ingest, strategies
from lakehouse_assets.defs.alerts import alerts_sensor
from lakehouse_assets.defs.checks import fresh
from lakehouse_assets.defs.common import CONFIG
from lakehouse_assets.defs.maintenance import maintenance_job, weekly_maintenance_schedule
from lakehouse_assets.defs.resources import LakehouseResource, SourcesResource
from lakehouse_assets.defs.settings import calendar_of
from schedules import after_close_schedule, freshness_schedule


def build_definitions(
    lakehouse: LakehouseResource | None = None, sources: SourcesResource | None = None
) -> dg.Definitions:
    """Definitions with the given resources (defaults: ``$LAKEHOUSE_LAKE``, bundled data)."""
    return dg.Definitions(
        assets=dg.load_assets_from_modules([ingest, features, drift, forecasting, strategies]),
        asset_checks=[fresh],
        jobs=[daily_job, freshness_job, maintenance_job],
        schedules=[
            after_close_schedule(daily_job, CONFIG, calendar_of(CONFIG)),
            freshness_schedule(freshness_job, CONFIG),
            weekly_maintenance_schedule(maintenance_job),
        ],
        sensors=[alerts_sensor],
        resources={"lakehouse": lakehouse or LakehouseResource(), "sources": sources or SourcesResource()},
    )


defs = build_definitions()
