"""The weekly lake maintenance: compact, vacuum and checkpoint every Delta table.

One op over every table of the lake (``lake/maintenance.py`` does the work), its job and
a Saturday-morning schedule in the exchange's time zone, when no daily run writes. Settings
come from ``config/monitoring.yaml`` ``maintenance``; the run config can override
``retention_days`` (e.g. 0 to reclaim disk at once, losing time travel).
"""

import dataclasses

import dagster as dg
from pydantic import Field

from lakehouse_assets.config import Config
from lakehouse_assets.defs.resources import LakehouseResource
from lakehouse_assets.lake.maintenance import (
    MaintenanceResult,
    MaintenanceSettings,
    RetentionTooShortError,
    TableHealth,
    check_retention,
    maintain_all,
    table_health,
)


class MaintenanceConfig(dg.Config):
    retention_days: float | None = Field(
        default=None, description="Days of time travel to keep (default: the configured retention, else 7)."
    )
    force: bool = Field(
        default=False,
        description="Allow a retention below the minimum (1 day): readers holding older snapshots then fail.",
    )


def maintenance_settings(lakehouse: LakehouseResource, retention_days: float | None = None) -> MaintenanceSettings:
    """The configured settings (``config.maintenance``), with an optional retention override."""
    settings = lakehouse.config().maintenance
    if retention_days is not None:
        settings = dataclasses.replace(settings, retention_days=retention_days)
    return settings


@dg.op(description="Compact small files, vacuum files older than the retention and checkpoint every Delta table.")
def maintain_lake(
    context: dg.OpExecutionContext, config: MaintenanceConfig, lakehouse: LakehouseResource
) -> dg.Output[list[MaintenanceResult]]:
    settings = maintenance_settings(lakehouse, config.retention_days)
    try:
        warning = check_retention(settings.retention_days, force=config.force)
    except RetentionTooShortError as exc:
        raise dg.Failure(f"{exc} (in this job: the op config force: true)") from None
    if warning:
        context.log.warning(warning)
    lake = lakehouse.lake()
    context.log.info(f"maintaining {lake.root} with {settings}")
    results = maintain_all(lake, settings, log=context.log.info)
    health = [table_health(lake, r.name, settings) for r in results]
    return dg.Output(
        results,
        metadata={
            "tables": len(results),
            "compacted": sum(r.compacted for r in results),
            "files_before": sum(r.files_before for r in results),
            "files_after": sum(r.files_after for r in results),
            "files_removed_by_vacuum": sum(r.files_removed_by_vacuum for r in results),
            "retention_days": settings.retention_days,
            "summary": dg.MetadataValue.md(summary_markdown(results, health)),
        },
    )


def summary_markdown(results: list[MaintenanceResult], health: list[TableHealth]) -> str:
    """A markdown table: one row per table, what maintenance did and the layout it left."""
    lines = [
        "| table | files before | files after | removed by vacuum | version | max files/partition | health | seconds |",
        "|---|--:|--:|--:|---|--:|---|--:|",
    ]
    for result, after in zip(results, health, strict=True):
        state = "needs maintenance" if after.needs_maintenance else "ok"
        lines.append(
            f"| {result.name} | {result.files_before} | {result.files_after} | {result.files_removed_by_vacuum} "
            f"| {result.version_before} → {result.version_after} | {after.max_files_per_partition} | {state} "
            f"| {result.seconds:.2f} |"
        )
    return "\n".join(lines)


@dg.job(description="Compact, vacuum and checkpoint every Delta table of the lake.")
def maintenance_job() -> None:
    maintain_lake()


def weekly_maintenance_schedule(job: dg.JobDefinition, config: Config) -> dg.ScheduleDefinition:
    """Saturday 06:00 exchange-local (``exchange.yaml`` timezone): after the week's last daily
    run, before the next."""
    return dg.ScheduleDefinition(
        name="weekly_maintenance_schedule",
        job=job,
        cron_schedule="0 6 * * 6",
        execution_timezone=config.exchange.timezone,
        default_status=dg.DefaultScheduleStatus.STOPPED,
        description="Weekly compaction, vacuum and checkpoint of every Delta table.",
    )
