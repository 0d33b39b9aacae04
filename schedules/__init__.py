"""Dagster schedules: the daily run after the exchange closes, the freshness check after it.

Every schedule (and the alerts sensor) is stopped until someone turns it on, in the UI
(Automation, the schedule's toggle) or with ``dagster schedule start``: a fresh ``make ui``
over the bundled data, which ends in 2018, must not start running today's partition.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import dagster as dg
import polars as pl

from lakehouse_assets.config import Config
from lakehouse_assets.core.calendar import TradingCalendar
from lakehouse_assets.core.ohlcv import parse_bars
from lakehouse_assets.defs.resources import SourcesResource


def session_run_request(
    day: dt.date, calendar: TradingCalendar, landed: Callable[[dt.date], bool]
) -> dg.RunRequest | dg.SkipReason:
    """Run the day's partition, or say why not: a holiday or weekend, or nothing landed for
    the day (the run would only fail its checks on an empty day)."""
    if not calendar.is_session(day):
        name = calendar.holiday_name(day)
        why = f"exchange holiday: {name}" if name else ("weekend" if day.weekday() >= 5 else "exchange closed")
        return dg.SkipReason(f"{day} is not a {calendar.code} trading session ({why}); nothing to run")
    if not landed(day):
        return dg.SkipReason(f"nothing landed for {day}: no bar of that session in the OHLCV input; nothing to run")
    return dg.RunRequest(run_key=day.isoformat(), partition_key=day.isoformat())


def bars_landed(sources: SourcesResource, config: Config, day: dt.date) -> bool:
    """Whether the OHLCV input holds anything for ``day``: a bar dated that day, or a row the
    ingest would quarantine (its date unknown until ingested, so it counts: the run must
    record it). Reads what the run's ingest would read for the day (the landing files whose
    names do not rule the day out, or the bundled data: about a second)."""
    raw, _files, _problems = sources.ohlcv_deliveries(config, day, day)
    bars, rejected = parse_bars(raw, config.exchange.timezone)
    return not rejected.is_empty() or not bars.filter(pl.col("date") == day).is_empty()


def after_close_schedule(
    job: dg.UnresolvedAssetJobDefinition, config: Config, calendar: TradingCalendar
) -> dg.ScheduleDefinition:
    """Monday-Friday at ``schedule_time`` exchange-local: that day's partition; holidays and
    days with nothing landed skipped with the reason."""
    at = config.exchange.schedule_time

    @dg.schedule(
        name="after_close_schedule",
        job=job,
        cron_schedule=f"{at.minute} {at.hour} * * 1-5",
        execution_timezone=config.exchange.timezone,
        description=f"Each weekday at {at:%H:%M} {config.exchange.timezone}: that trading day's partition.",
        default_status=dg.DefaultScheduleStatus.STOPPED,
    )
    def _schedule(context: dg.ScheduleEvaluationContext, sources: SourcesResource) -> dg.RunRequest | dg.SkipReason:
        when = context.scheduled_execution_time
        assert when is not None
        day = when.astimezone(calendar_zone(config)).date()
        return session_run_request(day, calendar, lambda d: bars_landed(sources, config, d))

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
        default_status=dg.DefaultScheduleStatus.STOPPED,
    )
