"""The one Definitions object of the code location (``workspace.yaml`` loads it)."""

from __future__ import annotations

import os

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

EXECUTORS = ("multiprocess", "in_process", "celery")


def executor_from_env() -> dg.ExecutorDefinition | None:
    """The run executor ``$LAKEHOUSE_EXECUTOR`` names (default: Dagster's multiprocess).

    ``celery`` sends each step to the Celery workers behind ``$LAKEHOUSE_CELERY_BROKER``
    (results in ``$LAKEHOUSE_CELERY_BACKEND``, default the broker): ``deploy/celery.yaml``.
    """
    kind = os.environ.get("LAKEHOUSE_EXECUTOR") or "multiprocess"
    if kind == "multiprocess":
        return None
    if kind == "in_process":
        return dg.in_process_executor
    if kind == "celery":
        from dagster_celery import celery_executor

        if not os.environ.get("LAKEHOUSE_CELERY_BROKER"):
            raise ValueError("LAKEHOUSE_EXECUTOR=celery needs $LAKEHOUSE_CELERY_BROKER (e.g. redis://127.0.0.1:6379/0)")
        backend = (
            "LAKEHOUSE_CELERY_BACKEND" if os.environ.get("LAKEHOUSE_CELERY_BACKEND") else "LAKEHOUSE_CELERY_BROKER"
        )
        return celery_executor.configured(
            {"broker": {"env": "LAKEHOUSE_CELERY_BROKER"}, "backend": {"env": backend}}, name="celery"
        )
    raise ValueError(f"$LAKEHOUSE_EXECUTOR: unknown {kind!r}; one of {', '.join(EXECUTORS)}")


def build_definitions(
    lakehouse: LakehouseResource | None = None, sources: SourcesResource | None = None
) -> dg.Definitions:
    """Definitions with the given resources (defaults: ``$LAKEHOUSE_LAKE``, bundled data)
    and the executor of ``$LAKEHOUSE_EXECUTOR``."""
    return dg.Definitions(
        executor=executor_from_env(),
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
