"""Dagster schedules: the daily run after the exchange closes."""

from __future__ import annotations

import datetime as dt

import dagster as dg

from lakehouse_assets.config import Config
from lakehouse_assets.core.calendar import TradingCalendar


def session_run_request(day: dt.date, calendar: TradingCalendar) -> dg.RunRequest | dg.SkipReason:
    """Run the day's partition, or say why not (a holiday or weekend)."""
    if calendar.is_session(day):
        return dg.RunRequest(run_key=day.isoformat(), partition_key=day.isoformat())
    name = calendar.holiday_name(day)
    why = f"exchange holiday: {name}" if name else ("weekend" if day.weekday() >= 5 else "exchange closed")
    return dg.SkipReason(f"{day} is not a {calendar.code} trading session ({why}); nothing to run")


def after_close_schedule(
    job: dg.UnresolvedAssetJobDefinition, config: Config, calendar: TradingCalendar
) -> dg.ScheduleDefinition:
    """Monday-Friday at ``schedule_time`` exchange-local: that day's partition, holidays skipped."""
    at = config.exchange.schedule_time

    @dg.schedule(
        name="after_close_schedule",
        job=job,
        cron_schedule=f"{at.minute} {at.hour} * * 1-5",
        execution_timezone=config.exchange.timezone,
        description=f"Each weekday at {at:%H:%M} {config.exchange.timezone}: that trading day's partition.",
        default_status=dg.DefaultScheduleStatus.RUNNING,
    )
    def _schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest | dg.SkipReason:
        when = context.scheduled_execution_time
        assert when is not None
        return session_run_request(when.astimezone(calendar_zone(config)).date(), calendar)

    return _schedule


def calendar_zone(config: Config) -> dt.tzinfo:
    import zoneinfo

    return zoneinfo.ZoneInfo(config.exchange.timezone)


def freshness_schedule(job: dg.UnresolvedAssetJobDefinition, config: Config) -> dg.ScheduleDefinition:
    """Monday-Friday two hours after the daily run: the `fresh` check of ohlcv_daily."""
    at = config.exchange.schedule_time
    hour = (at.hour + 2) % 24
    return dg.ScheduleDefinition(
        name="freshness_schedule",
        job=job,
        cron_schedule=f"{at.minute} {hour} * * 1-5",
        execution_timezone=config.exchange.timezone,
        description=f"Each weekday at {hour:02d}:{at.minute:02d} {config.exchange.timezone}: is ohlcv_daily fresh?",
        default_status=dg.DefaultScheduleStatus.RUNNING,
    )
