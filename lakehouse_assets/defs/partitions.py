"""Daily partitions on the exchange's trading days (holidays and closures excluded)."""

from __future__ import annotations

import datetime as dt

import dagster as dg

from lakehouse_assets.config import Config
from lakehouse_assets.core.calendar import TradingCalendar


def trading_day_partitions(config: Config, calendar: TradingCalendar) -> dg.TimeWindowPartitionsDefinition:
    """One partition per session from ``partitions_start``, keyed ``YYYY-MM-DD``.

    Weekday holidays are listed as exclusions, so they are not partitions at all: no run,
    no failure, no missing-partition alarm. ``end_offset=1`` makes today's partition
    available during the day, so the after-close schedule can run it.
    """
    start = config.exchange.partitions_start
    holidays = calendar.non_sessions(start, calendar.last_session)
    return dg.TimeWindowPartitionsDefinition(
        start=start.isoformat(),
        fmt="%Y-%m-%d",
        cron_schedule="0 0 * * 1-5",
        timezone=config.exchange.timezone,
        end_offset=1,
        exclusions=[dt.datetime(d.year, d.month, d.day) for d in holidays],
    )


def partition_dates(context: dg.AssetExecutionContext) -> tuple[dt.date, dt.date]:
    """First and last trading day of the run's partition range."""
    keys = context.partition_key_range
    return dt.date.fromisoformat(keys.start), dt.date.fromisoformat(keys.end)
