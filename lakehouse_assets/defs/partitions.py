"""Daily partitions on the exchange's trading days (holidays and closures excluded)."""

from __future__ import annotations

import datetime as dt

import dagster as dg
from dagster._utils.schedules import cron_string_iterator

from lakehouse_assets.config import Config
from lakehouse_assets.core.calendar import TradingCalendar

HOLIDAY_RULES = (
    "0 0 1 1 *",  # New Year's Day
    "0 0 * 1 1#3",  # Martin Luther King Jr. Day (third Monday of January, since 1998)
    "0 0 * 2 1#3",  # Washington's Birthday (third Monday of February)
    "0 0 * 5 L1",  # Memorial Day (last Monday of May)
    "0 0 19 6 *",  # Juneteenth (since 2022)
    "0 0 4 7 *",  # Independence Day
    "0 0 * 9 1#1",  # Labor Day (first Monday of September)
    "0 0 * 11 4#4",  # Thanksgiving (fourth Thursday of November)
    "0 0 25 12 *",  # Christmas Day
)
"""Holidays that fall on a rule, as cron strings; a rule is used only where it is exact."""


def trading_day_partitions(config: Config, calendar: TradingCalendar) -> dg.TimeWindowPartitionsDefinition:
    """One partition per session from ``partitions_start``, keyed ``YYYY-MM-DD``.

    Weekday holidays are exclusions, so they are not partitions at all: no run, no
    failure, no missing-partition alarm. ``end_offset=1`` makes today's partition
    available during the day, so the after-close schedule can run it.
    """
    start = config.exchange.partitions_start
    return dg.TimeWindowPartitionsDefinition(
        start=start.isoformat(),
        fmt="%Y-%m-%d",
        cron_schedule="0 0 * * 1-5",
        timezone=config.exchange.timezone,
        end_offset=1,
        exclusions=holiday_exclusions(calendar, start, config.exchange.timezone),
    )


def holiday_exclusions(calendar: TradingCalendar, start: dt.date, timezone: str) -> list[str | dt.datetime]:
    """The calendar's weekday non-sessions from ``start`` to its horizon, as few exclusions as
    exactly say them: each rule of :data:`HOLIDAY_RULES` whose every weekday match is a
    non-session, then the rest (Good Friday, observed days, closures) one date each.

    Why not simply one date each: Dagster serializes the partitions definition into every
    planned check row of a range run (one row per partition and check), so its size is
    paid per partition. Rules take it from 37 KB to 12 KB for 1986 onwards (375 dates
    become 7 rules and 119 dates), and cut the instance and the run's bookkeeping alike.
    """
    end = calendar.last_session
    holidays = set(calendar.non_sessions(start, end))
    covered: set[dt.date] = set()
    rules: list[str | dt.datetime] = []
    for rule in HOLIDAY_RULES:
        matches = set(_weekday_matches(rule, start, end, timezone))
        if matches and matches <= holidays:
            rules.append(rule)
            covered |= matches
    return rules + [dt.datetime(d.year, d.month, d.day) for d in sorted(holidays - covered)]


def _weekday_matches(rule: str, start: dt.date, end: dt.date, timezone: str) -> list[dt.date]:
    """The weekdays from ``start`` to ``end`` that ``rule`` matches, by Dagster's own cron
    iterator (the one that applies the exclusions)."""
    first = dt.datetime(start.year, start.month, start.day) - dt.timedelta(days=1)
    days: list[dt.date] = []
    for moment in cron_string_iterator(first.timestamp(), rule, timezone):
        day = moment.date()
        if day > end:
            return days
        if day >= start and day.weekday() < 5:
            days.append(day)
    return days


def partition_dates(context: dg.AssetExecutionContext) -> tuple[dt.date, dt.date]:
    """First and last trading day of the run's partition range."""
    keys = context.partition_key_range
    return dt.date.fromisoformat(keys.start), dt.date.fromisoformat(keys.end)
