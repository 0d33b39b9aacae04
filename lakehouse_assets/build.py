"""Definitions from one configuration: :func:`build_definitions`.

The code location (``definitions.py``), the CLI, the tests and the benches each load their
configuration once and call it; importing this module builds nothing and reads no file.
"""

from __future__ import annotations

import os
from dataclasses import replace

import dagster as dg

from jobs import daily_job, freshness_job
from lakehouse_assets.config import Config
from lakehouse_assets.defs import drift, features, forecasting, ingest, strategies
from lakehouse_assets.defs.alerts import alerts_sensor
from lakehouse_assets.defs.checks import fresh, on_partitions
from lakehouse_assets.defs.common import AssetShell, build_asset
from lakehouse_assets.defs.maintenance import maintenance_job, weekly_maintenance_schedule
from lakehouse_assets.defs.partitions import trading_day_partitions
from lakehouse_assets.defs.resources import LakehouseResource, SourcesResource
from lakehouse_assets.defs.settings import calendar_of, default_lake_uri, share_config
from lakehouse_assets.lake.delta import Lake
from schedules import after_close_schedule, freshness_schedule

ASSET_MODULES = (ingest, features, drift, forecasting, strategies)
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


def checks_on(shell: AssetShell, partitions: dg.PartitionsDefinition) -> AssetShell:
    """``shell`` with its check specs on ``partitions``, its own (:func:`on_partitions`: so a
    run of one partition records its check results on that partition)."""
    return replace(
        shell, arguments={**shell.arguments, "check_specs": on_partitions(shell.arguments["check_specs"], partitions)}
    )


def build_definitions(
    config: Config, *, lake_uri: str | None = None, sources: SourcesResource | None = None
) -> dg.Definitions:
    """Every asset, check, job, schedule and sensor on the partitions of ``config``, with the
    lakehouse resource of ``lake_uri`` (default ``$LAKEHOUSE_LAKE`` or ``data/lake``) and
    ``config``, the input of ``sources`` (default the bundled data), and the executor of
    ``$LAKEHOUSE_EXECUTOR``."""
    share_config(config)  # the resource's config() is this object (defs/settings.config_at)
    lakehouse = LakehouseResource(lake_uri=lake_uri or default_lake_uri(), config_dir=str(config.directory))
    calendar = calendar_of(config)
    partitions = trading_day_partitions(config, calendar)
    lake = Lake(lakehouse.lake_uri)
    shells = dict.fromkeys(v for m in ASSET_MODULES for v in vars(m).values() if isinstance(v, AssetShell))
    return dg.Definitions(
        executor=executor_from_env(),
        assets=[build_asset(checks_on(shell, partitions), partitions, lake) for shell in shells],
        asset_checks=[fresh],
        jobs=[daily_job, freshness_job, maintenance_job],
        schedules=[
            after_close_schedule(daily_job, config, calendar),
            freshness_schedule(freshness_job, config),
            weekly_maintenance_schedule(maintenance_job, config),
        ],
        sensors=[alerts_sensor],
        resources={"lakehouse": lakehouse, "sources": sources or SourcesResource()},
    )
